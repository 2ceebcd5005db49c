-- The durable job queue. A job is QUEUED until a worker claims it (RUNNING with a lease it
-- renews by heartbeat); an expired lease means the worker died and the job is claimable
-- again. Finished jobs are deleted; permanently failed ones stay FAILED for inspection.

CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    dedup_key    TEXT,
    state        TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    run_after    INTEGER NOT NULL,
    lease_until  INTEGER,
    worker       TEXT,
    last_error   TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX jobs_ready ON jobs (state, run_after);
-- At most one pending job per key, so enqueueing twice is harmless.
CREATE UNIQUE INDEX jobs_pending_key ON jobs (dedup_key)
    WHERE state IN ('QUEUED', 'RUNNING');
