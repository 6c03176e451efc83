-- Version 3: a job may wait before its next attempt (repository deletion backs off
-- exponentially), and runners find due work by state and time.

ALTER TABLE jobs ADD COLUMN run_after TEXT COLLATE "C";
CREATE INDEX jobs_due ON jobs(state, run_after);
