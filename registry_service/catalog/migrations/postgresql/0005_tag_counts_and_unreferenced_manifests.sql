-- Version 5: two costs a bulk cleanup of 100,000 tags paid over and over.
--
-- Each repository keeps its tag count, maintained by triggers on every insert and delete of a
-- tag (whichever code path does it, cascades included). GitLab's tag list (X-Total) and
-- tags_count used to count the repository's tags on every request: milliseconds at 100,000
-- tags, on the event loop.
ALTER TABLE repositories ADD COLUMN tags_count BIGINT NOT NULL DEFAULT 0;
UPDATE repositories
   SET tags_count = (SELECT COUNT(*) FROM tags WHERE tags.repository_id = repositories.id);

-- SQLite's triggers run once per tag; these run once per statement, over the rows it
-- inserted or deleted (its transition table), to the same counts. Per row, a bulk delete of
-- 100,000 tags would update one repository row 100,000 times in one transaction, each update
-- a new row version the next one has to step over. An INSERT … ON CONFLICT DO UPDATE lists
-- only the rows it really inserted, so a re-tag counts nothing, as in SQLite.
CREATE FUNCTION tags_count_up() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE repositories r SET tags_count = r.tags_count + added.n
      FROM (SELECT repository_id, COUNT(*) AS n FROM inserted GROUP BY repository_id) added
     WHERE r.id = added.repository_id;
    RETURN NULL;
END
$$;
CREATE FUNCTION tags_count_down() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE repositories r SET tags_count = r.tags_count - removed.n
      FROM (SELECT repository_id, COUNT(*) AS n FROM deleted GROUP BY repository_id) removed
     WHERE r.id = removed.repository_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER tags_count_up AFTER INSERT ON tags
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION tags_count_up();
CREATE TRIGGER tags_count_down AFTER DELETE ON tags
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION tags_count_down();

-- When a manifest lost its last reference moves to a table of its own. As a column of
-- manifests, stamping it rewrote each whole row, payload included: a cleanup batch of 10,000
-- tags wrote ~10 MB to the WAL for what is 10,000 small rows here. A manifest with no row here
-- is referenced (or has never been: garbage collection then counts from its push).
CREATE TABLE unreferenced_manifests (
    manifest_id  BIGINT PRIMARY KEY REFERENCES manifests(id) ON DELETE CASCADE
                 DEFERRABLE INITIALLY IMMEDIATE,
    since        TEXT COLLATE "C" NOT NULL
);
-- Version 4 also stamped an index's children that still had a tag; their grace now starts
-- when the tag goes, so such stamps are not carried over.
INSERT INTO unreferenced_manifests (manifest_id, since)
    SELECT id, unreferenced_at FROM manifests
     WHERE unreferenced_at IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM tags WHERE tags.manifest_id = manifests.id);
ALTER TABLE manifests DROP COLUMN unreferenced_at;
