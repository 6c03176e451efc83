-- Version 5: two costs a bulk cleanup of 100,000 tags paid over and over.
--
-- Each repository keeps its tag count, maintained by triggers on every insert and delete of a
-- tag (whichever code path does it, cascades included). GitLab's tag list (X-Total) and
-- tags_count used to count the repository's tags on every request: milliseconds at 100,000
-- tags, on the event loop.
ALTER TABLE repositories ADD COLUMN tags_count INTEGER NOT NULL DEFAULT 0;
UPDATE repositories
   SET tags_count = (SELECT COUNT(*) FROM tags WHERE tags.repository_id = repositories.id);

-- OR IGNORE changes nothing (the count is never NULL), but a statement that cannot fail
-- needs no statement journal: inside the catalog's savepoints, a plain UPDATE here made every
-- tag insert and delete about six times slower.
CREATE TRIGGER tags_count_up AFTER INSERT ON tags BEGIN
    UPDATE OR IGNORE repositories SET tags_count = tags_count + 1 WHERE id = NEW.repository_id;
END;
CREATE TRIGGER tags_count_down AFTER DELETE ON tags BEGIN
    UPDATE OR IGNORE repositories SET tags_count = tags_count - 1 WHERE id = OLD.repository_id;
END;

-- When a manifest lost its last reference moves to a table of its own. As a column of
-- manifests, stamping it rewrote each whole row, payload included: a cleanup batch of 10,000
-- tags wrote ~10 MB to the WAL for what is 10,000 small rows here. A manifest with no row here
-- is referenced (or has never been: garbage collection then counts from its push).
CREATE TABLE unreferenced_manifests (
    manifest_id  INTEGER PRIMARY KEY REFERENCES manifests(id) ON DELETE CASCADE,
    since        TEXT NOT NULL
);
-- Version 4 also stamped an index's children that still had a tag; their grace now starts
-- when the tag goes, so such stamps are not carried over.
INSERT INTO unreferenced_manifests (manifest_id, since)
    SELECT id, unreferenced_at FROM manifests
     WHERE unreferenced_at IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM tags WHERE tags.manifest_id = manifests.id);
ALTER TABLE manifests DROP COLUMN unreferenced_at;
