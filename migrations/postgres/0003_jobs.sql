-- The durable job queue. A job is QUEUED until a worker claims it (RUNNING with a lease it
-- renews by heartbeat); an expired lease means the worker (or its whole node) died and the
-- job is claimable again. Workers of every node claim with FOR UPDATE SKIP LOCKED, so each
-- job is claimed by one of them. Finished jobs are deleted; permanently failed ones stay
-- FAILED for inspection.

CREATE TABLE jobs (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    dedup_key    TEXT,
    state        TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    run_after    BIGINT NOT NULL,
    lease_until  BIGINT,
    worker       TEXT,
    last_error   TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
-- What a claim looks at: due queued jobs in order, and running jobs by lease.
CREATE INDEX jobs_queued ON jobs (run_after, id) WHERE state = 'QUEUED';
CREATE INDEX jobs_leased ON jobs (lease_until) WHERE state = 'RUNNING';
CREATE INDEX jobs_by_state ON jobs (state);
-- At most one pending job per key, so enqueueing twice is harmless.
CREATE UNIQUE INDEX jobs_pending_key ON jobs (dedup_key)
    WHERE state IN ('QUEUED', 'RUNNING');
