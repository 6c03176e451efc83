-- Version 6: deploy tokens (GitLab's "Deploy tokens API"). A deploy token belongs to exactly
-- one project or one group and reaches that project, or every project below that group at any
-- depth; it is no user. Like personal access tokens it is stored only as the sha256 of its
-- value. username is never empty: the default, gitlab+deploy-token-<id>, is written in the
-- transaction that inserts the row, once the id is known.
CREATE TABLE deploy_tokens (
    id            INTEGER PRIMARY KEY,
    project_id    INTEGER REFERENCES projects(id) ON DELETE CASCADE,
    namespace_id  INTEGER REFERENCES namespaces(id) ON DELETE CASCADE,   -- groups only
    name          TEXT NOT NULL,
    username      TEXT NOT NULL,
    token_digest  TEXT NOT NULL UNIQUE,
    scopes        TEXT NOT NULL,           -- space-separated
    expires_at    TEXT,                    -- an instant; expired from then on (UTC)
    revoked       INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
    created_at    TEXT NOT NULL,
    CHECK ((project_id IS NULL) <> (namespace_id IS NULL))
);
CREATE INDEX deploy_tokens_project ON deploy_tokens(project_id) WHERE project_id IS NOT NULL;
CREATE INDEX deploy_tokens_namespace ON deploy_tokens(namespace_id)
    WHERE namespace_id IS NOT NULL;
