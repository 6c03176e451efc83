-- Version 1: who may do what. Users, their personal access tokens, namespaces (user namespaces
-- and groups nested to any depth), projects, and memberships with GitLab access levels.
-- Times are UTC text 'YYYY-MM-DDTHH:MM:SS.ffffffZ', which sorts like the instants it names.

CREATE TABLE users (
    id          INTEGER PRIMARY KEY,
    username    TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name        TEXT NOT NULL,
    email       TEXT UNIQUE COLLATE NOCASE,
    is_admin    INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    external    INTEGER NOT NULL DEFAULT 0 CHECK (external IN (0, 1)),
    state       TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'blocked')),
    created_at  TEXT NOT NULL
);

CREATE TABLE personal_access_tokens (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    -- sha256 of the token; the token itself is never stored.
    token_digest  TEXT NOT NULL UNIQUE,
    scopes        TEXT NOT NULL,           -- space-separated
    expires_at    TEXT,                    -- a date 'YYYY-MM-DD'; expired from its first instant (UTC)
    revoked       INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
    created_at    TEXT NOT NULL,
    last_used_at  TEXT
);
CREATE INDEX personal_access_tokens_user ON personal_access_tokens(user_id);

-- Groups and user namespaces share one id space, as in GitLab.
CREATE TABLE namespaces (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('group', 'user')),
    name         TEXT NOT NULL,
    path         TEXT NOT NULL,
    full_path    TEXT NOT NULL UNIQUE COLLATE NOCASE,
    parent_id    INTEGER REFERENCES namespaces(id) ON DELETE CASCADE,
    owner_id     INTEGER REFERENCES users(id) ON DELETE CASCADE,  -- user namespaces only
    visibility   TEXT NOT NULL DEFAULT 'private'
                 CHECK (visibility IN ('private', 'internal', 'public')),
    description  TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    CHECK (kind = 'group' OR (parent_id IS NULL AND owner_id IS NOT NULL))
);
CREATE INDEX namespaces_parent ON namespaces(parent_id);

CREATE TABLE projects (
    id                               INTEGER PRIMARY KEY,
    namespace_id                     INTEGER NOT NULL REFERENCES namespaces(id) ON DELETE CASCADE,
    name                             TEXT NOT NULL,
    path                             TEXT NOT NULL,
    full_path                        TEXT NOT NULL UNIQUE COLLATE NOCASE,
    visibility                       TEXT NOT NULL DEFAULT 'private'
                                     CHECK (visibility IN ('private', 'internal', 'public')),
    container_registry_access_level  TEXT NOT NULL DEFAULT 'enabled'
                                     CHECK (container_registry_access_level IN
                                            ('enabled', 'private', 'disabled')),
    description                      TEXT NOT NULL DEFAULT '',
    creator_id                       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at                       TEXT NOT NULL,
    UNIQUE (namespace_id, path)
);

-- A membership is in exactly one namespace (inherited by everything below it) or one project.
CREATE TABLE members (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    namespace_id  INTEGER REFERENCES namespaces(id) ON DELETE CASCADE,
    project_id    INTEGER REFERENCES projects(id) ON DELETE CASCADE,
    access_level  INTEGER NOT NULL CHECK (access_level IN (10, 20, 30, 40, 50)),
    expires_at    TEXT,
    created_at    TEXT NOT NULL,
    CHECK ((namespace_id IS NULL) <> (project_id IS NULL))
);
CREATE UNIQUE INDEX members_namespace_user ON members(namespace_id, user_id)
    WHERE namespace_id IS NOT NULL;
CREATE UNIQUE INDEX members_project_user ON members(project_id, user_id)
    WHERE project_id IS NOT NULL;
CREATE INDEX members_user ON members(user_id);
