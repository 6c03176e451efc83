-- Version 9: protection rules of a project's container registry (issue 14, points 3 and 4).
--
-- Access levels are stored as GitLab's numbers, with 60 standing for "admin" (only
-- administrators), a level no membership reaches.

-- Tag rules: a mutable rule has both levels; an immutable one has neither (it refuses every
-- change to an existing tag, whoever asks). The same pattern may be both, once each.
CREATE TABLE tag_protection_rules (
    id                               INTEGER PRIMARY KEY,
    project_id                       INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    tag_name_pattern                 TEXT NOT NULL,
    minimum_access_level_for_push    INTEGER CHECK (minimum_access_level_for_push IN (40, 50, 60)),
    minimum_access_level_for_delete  INTEGER CHECK (minimum_access_level_for_delete IN (40, 50, 60)),
    immutable                        INTEGER NOT NULL DEFAULT 0 CHECK (immutable IN (0, 1)),
    created_at                       TEXT NOT NULL,
    UNIQUE (project_id, tag_name_pattern, immutable),
    CHECK (
        (immutable = 1 AND minimum_access_level_for_push IS NULL
                       AND minimum_access_level_for_delete IS NULL)
        OR (immutable = 0 AND minimum_access_level_for_push IS NOT NULL
                          AND minimum_access_level_for_delete IS NOT NULL)
    )
);

-- Repository rules: at least one of the two levels (a missing one leaves that action to the
-- project's ordinary roles).
CREATE TABLE repository_protection_rules (
    id                               INTEGER PRIMARY KEY,
    project_id                       INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    repository_path_pattern          TEXT NOT NULL,
    minimum_access_level_for_push    INTEGER CHECK (minimum_access_level_for_push IN (40, 50, 60)),
    minimum_access_level_for_delete  INTEGER CHECK (minimum_access_level_for_delete IN (40, 50, 60)),
    created_at                       TEXT NOT NULL,
    UNIQUE (project_id, repository_path_pattern),
    CHECK (minimum_access_level_for_push IS NOT NULL
           OR minimum_access_level_for_delete IS NOT NULL)
);
