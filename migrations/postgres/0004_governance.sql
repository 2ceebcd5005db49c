-- Governance: projects whose assets skip review, per-project webhooks, and the log of reads
-- of shared assets by other projects.

CREATE TABLE review_whitelist (
    project_id TEXT PRIMARY KEY,
    added_at   BIGINT NOT NULL
);

CREATE TABLE webhooks (
    project_id TEXT PRIMARY KEY,
    url        TEXT NOT NULL,
    secret     TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE share_access (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    asset_id          TEXT NOT NULL,
    owner_project_id  TEXT NOT NULL,
    reader_project_id TEXT NOT NULL,
    action            TEXT NOT NULL,
    at                BIGINT NOT NULL
);
CREATE INDEX share_access_by_asset ON share_access (asset_id, at);
