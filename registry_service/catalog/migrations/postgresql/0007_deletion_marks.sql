-- Version 7: deleting a project, a group or a user is asynchronous. Their container
-- repositories go through the repository-deletion jobs; until the last one is gone the row
-- stays, marked, and lookups treat it as gone. A mark is written in the same transaction as
-- the repository-deletion intents, so a crash leaves either both or neither.
ALTER TABLE projects ADD COLUMN marked_for_deletion_at TEXT COLLATE "C";
ALTER TABLE namespaces ADD COLUMN marked_for_deletion_at TEXT COLLATE "C";
ALTER TABLE users ADD COLUMN marked_for_deletion_at TEXT COLLATE "C";
CREATE INDEX projects_marked ON projects(marked_for_deletion_at)
    WHERE marked_for_deletion_at IS NOT NULL;
CREATE INDEX namespaces_marked ON namespaces(marked_for_deletion_at)
    WHERE marked_for_deletion_at IS NOT NULL;
CREATE INDEX users_marked ON users(marked_for_deletion_at)
    WHERE marked_for_deletion_at IS NOT NULL;
