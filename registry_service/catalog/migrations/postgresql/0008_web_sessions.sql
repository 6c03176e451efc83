-- Version 8: the web interface (issue 15).
--
-- A signed-in browser's session. The cookie carries a random id; only its sha256 is stored, so
-- a copy of the catalog signs nobody in. A session stands for the personal access token it was
-- opened with: revoking or expiring that token (or blocking its user) ends the session too.
CREATE TABLE web_sessions (
    id_digest   TEXT COLLATE "C" PRIMARY KEY,
    token_id    BIGINT NOT NULL REFERENCES personal_access_tokens(id) ON DELETE CASCADE
                DEFERRABLE INITIALLY IMMEDIATE,
    -- The per-session anti-forgery token every form of the session must send back.
    csrf_token  TEXT COLLATE "C" NOT NULL,
    created_at  TEXT COLLATE "C" NOT NULL,
    expires_at  TEXT COLLATE "C" NOT NULL
);
CREATE INDEX web_sessions_expires ON web_sessions(expires_at);
CREATE INDEX web_sessions_token ON web_sessions(token_id);

-- The repository page sorts tags by push date and by build date with keyset pagination; without
-- these each page of a 100,000-tag repository sorted every tag. The build date is the
-- manifest's, so that order walks manifests by date (an image without one sorts as '').
CREATE INDEX tags_pushed ON tags(repository_id, pushed_at, name);
CREATE INDEX manifests_built ON manifests(repository_id, COALESCE(image_created_at, ''));
