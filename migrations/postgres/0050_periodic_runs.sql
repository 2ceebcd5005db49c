-- Periodic tasks (the abandoned-upload sweep) run once per period however many nodes share
-- the catalogue: the node that advances a task's period here is the one that runs it.

CREATE TABLE periodic_runs (
    name         TEXT PRIMARY KEY,
    period_start BIGINT NOT NULL
);
