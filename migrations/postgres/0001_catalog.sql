-- Credentials, tokens, assets and files. Assets and files keep their full record as JSON in
-- `doc`; the other columns duplicate what listings filter and sort on. Times are
-- microseconds since the Unix epoch, as on SQLite.

CREATE TABLE credentials (
    access_key TEXT PRIMARY KEY,
    secret_key TEXT NOT NULL,
    project_id TEXT NOT NULL,
    is_admin   BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE tokens (
    token_hash TEXT PRIMARY KEY,
    access_key TEXT NOT NULL,
    project_id TEXT NOT NULL,
    is_admin   BOOLEAN NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX tokens_by_expiry ON tokens (expires_at);

CREATE TABLE server_secrets (
    name  TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

CREATE TABLE assets (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    asset_id     TEXT NOT NULL UNIQUE,
    project_id   TEXT NOT NULL,
    asset_name   TEXT NOT NULL,
    asset_type   TEXT NOT NULL,
    asset_state  TEXT NOT NULL,
    app_user_id  TEXT,
    asset_order  INTEGER,
    shared_type  TEXT NOT NULL,
    share_expire BIGINT,
    create_time  BIGINT NOT NULL,
    update_time  BIGINT NOT NULL,
    version      BIGINT NOT NULL,
    doc          JSONB NOT NULL
);
CREATE INDEX assets_by_create ON assets (project_id, create_time, seq);
CREATE INDEX assets_by_update ON assets (project_id, update_time, seq);
CREATE INDEX assets_by_type ON assets (project_id, asset_type, create_time, seq);
CREATE INDEX assets_by_state ON assets (project_id, asset_state, create_time, seq);
CREATE INDEX assets_public ON assets (shared_type) WHERE shared_type <> 'PRIVATE';

CREATE TABLE asset_tags (
    asset_seq BIGINT NOT NULL REFERENCES assets (seq) ON DELETE CASCADE,
    tag       TEXT NOT NULL,
    PRIMARY KEY (asset_seq, tag)
);
CREATE INDEX asset_tags_by_tag ON asset_tags (tag, asset_seq);

CREATE TABLE asset_shares (
    project_id TEXT NOT NULL,
    asset_seq  BIGINT NOT NULL REFERENCES assets (seq) ON DELETE CASCADE,
    PRIMARY KEY (project_id, asset_seq)
);
CREATE INDEX asset_shares_by_asset ON asset_shares (asset_seq);

CREATE TABLE files (
    file_id     TEXT PRIMARY KEY,
    asset_id    TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    category    TEXT NOT NULL,
    state       TEXT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL,
    version     BIGINT NOT NULL,
    doc         JSONB NOT NULL
);
CREATE INDEX files_by_asset ON files (asset_id, create_time);
CREATE INDEX files_by_state ON files (state, update_time);
-- At most one live MAIN and one live COVER per asset; failed, cancelled and deleted files
-- do not count, so a failed upload can be replaced.
CREATE UNIQUE INDEX files_one_main ON files (asset_id)
    WHERE category = 'MAIN' AND state NOT IN ('FAILED', 'CANCELLED', 'DELETING', 'DELETED');
CREATE UNIQUE INDEX files_one_cover ON files (asset_id)
    WHERE category = 'COVER' AND state NOT IN ('FAILED', 'CANCELLED', 'DELETING', 'DELETED');
