-- Version 4: the job lists read jobs by project (GET /projects/:id/registry/jobs) and the
-- runners look up the newest job of a kind (garbage collection's schedule) on every sweep.

CREATE INDEX jobs_project ON jobs(project_id, id);
CREATE INDEX jobs_kind ON jobs(kind, id);
