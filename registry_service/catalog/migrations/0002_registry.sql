-- Version 2: what the registry stores and the work it schedules. Repositories of a project,
-- content-addressed blobs and which repositories may read them, manifests with the facts the
-- GitLab API and the cleanup need (config digest, image creation date, sizes, subject,
-- children), tags, upload sessions, job intents, leases and cleanup policies.

CREATE TABLE repositories (
    id                         INTEGER PRIMARY KEY,
    project_id                 INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name                       TEXT NOT NULL,          -- '' for the project's root image
    created_at                 TEXT NOT NULL,
    status                     TEXT CHECK (status IN
                                   ('delete_scheduled', 'delete_ongoing', 'delete_failed')),
    failed_deletion_count      INTEGER NOT NULL DEFAULT 0,
    next_delete_attempt_at     TEXT,
    delete_started_at          TEXT,
    cleanup_policy_started_at  TEXT,
    UNIQUE (project_id, name)
);

-- One row per digest, whichever repositories use it; the file lives in the blob store.
CREATE TABLE blobs (
    digest      TEXT PRIMARY KEY,
    size_bytes  INTEGER NOT NULL CHECK (size_bytes >= 0),
    created_at  TEXT NOT NULL
);

-- Which repository may read which blob (pushed there, mounted, or referenced by a manifest).
CREATE TABLE repository_blobs (
    repository_id  INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    digest         TEXT NOT NULL REFERENCES blobs(digest),
    linked_at      TEXT NOT NULL,
    PRIMARY KEY (repository_id, digest)
);
CREATE INDEX repository_blobs_digest ON repository_blobs(digest);

CREATE TABLE manifests (
    id                 INTEGER PRIMARY KEY,
    repository_id      INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    digest             TEXT NOT NULL,
    media_type         TEXT NOT NULL,
    payload            BLOB NOT NULL,           -- the exact bytes pushed
    size_bytes         INTEGER NOT NULL,
    config_digest      TEXT,
    config_media_type  TEXT,
    artifact_type      TEXT,
    subject_digest     TEXT,
    image_created_at   TEXT,                    -- config `created` (for an index: newest child)
    total_size_bytes   INTEGER,                 -- sum of layer sizes (index: of its children)
    annotations        TEXT,                    -- JSON object or NULL
    created_at         TEXT NOT NULL,           -- when it was pushed
    unreferenced_at    TEXT,                    -- when the last tag / parent went away (GC)
    UNIQUE (repository_id, digest)
);
CREATE INDEX manifests_subject ON manifests(repository_id, subject_digest)
    WHERE subject_digest IS NOT NULL;

-- Blobs a manifest needs: its config and layers, in order.
CREATE TABLE manifest_blobs (
    manifest_id  INTEGER NOT NULL REFERENCES manifests(id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,              -- -1 = config, 0.. = layers
    digest       TEXT NOT NULL,
    size_bytes   INTEGER NOT NULL,
    media_type   TEXT NOT NULL,
    PRIMARY KEY (manifest_id, position)
);
CREATE INDEX manifest_blobs_digest ON manifest_blobs(digest);

-- Manifests an index lists; children live in the same repository.
CREATE TABLE manifest_children (
    parent_id     INTEGER NOT NULL REFERENCES manifests(id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    child_digest  TEXT NOT NULL,
    platform      TEXT,                         -- JSON object or NULL
    PRIMARY KEY (parent_id, position)
);
CREATE INDEX manifest_children_child ON manifest_children(child_digest);

CREATE TABLE tags (
    id             INTEGER PRIMARY KEY,
    repository_id  INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    manifest_id    INTEGER NOT NULL REFERENCES manifests(id),
    pushed_at      TEXT NOT NULL,
    UNIQUE (repository_id, name)
);
CREATE INDEX tags_manifest ON tags(manifest_id);

CREATE TABLE uploads (
    id              TEXT PRIMARY KEY,          -- the session id in the Location URL
    repository_id   INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    algorithm       TEXT NOT NULL DEFAULT 'sha256',
    offset_bytes    INTEGER NOT NULL DEFAULT 0,
    started_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

-- A job's intent is written here before it is enqueued, so no crash loses it.
CREATE TABLE jobs (
    id             INTEGER PRIMARY KEY,
    kind           TEXT NOT NULL,              -- cleanup_tags | delete_repository | collect_garbage | …
    params         TEXT NOT NULL,              -- JSON
    requester_id   INTEGER REFERENCES users(id) ON DELETE SET NULL,
    project_id     INTEGER REFERENCES projects(id) ON DELETE SET NULL,
    repository_id  INTEGER REFERENCES repositories(id) ON DELETE SET NULL,
    state          TEXT NOT NULL DEFAULT 'queued'
                   CHECK (state IN ('queued', 'running', 'done', 'failed')),
    counts         TEXT NOT NULL DEFAULT '{}', -- JSON: deleted, kept, bytes_freed, …
    result         TEXT,                       -- JSON: deleted tag names, reasons, …
    error          TEXT,
    attempts       INTEGER NOT NULL DEFAULT 0,
    lease_owner    TEXT,
    lease_expires_at TEXT,
    created_at     TEXT NOT NULL,
    started_at     TEXT,
    finished_at    TEXT
);
CREATE INDEX jobs_state ON jobs(state);
CREATE INDEX jobs_repository ON jobs(repository_id);

-- Named exclusive leases with an expiry (e.g. the once-an-hour bulk-delete limit).
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);

-- GitLab's container_expiration_policy, one per project.
CREATE TABLE cleanup_policies (
    project_id       INTEGER PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
    enabled          INTEGER NOT NULL DEFAULT 0 CHECK (enabled IN (0, 1)),
    cadence          TEXT NOT NULL DEFAULT '1d',
    keep_n           INTEGER DEFAULT 10,
    older_than       TEXT DEFAULT '90d',
    name_regex       TEXT DEFAULT '.*',
    name_regex_keep  TEXT,
    next_run_at      TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
