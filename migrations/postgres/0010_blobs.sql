-- Content-addressed blobs (the twin of migrations/sqlite/0010_blobs.sql). Every distinct
-- content is stored once, under a key that is fresh for every write and never reused;
-- `blobs` maps its SHA-256 to that key. Files refer to a blob through `files.blob_key`; how
-- many do is counted from there, in the transaction that changes a reference, so no counter
-- can drift. `blob_writes` records writes in progress, so that what a crashed writer left
-- behind can be found (see src/service/storage.rs).

CREATE TABLE blobs (
    key        TEXT PRIMARY KEY,
    sha256     TEXT,
    md5        TEXT,
    size       BIGINT NOT NULL,
    state      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    checked_at BIGINT,
    damage     TEXT
);
-- At most one LIVE copy of any content: concurrent writers of the same bytes meet here (the
-- second blocks until the first commits, then fails and runs its write again).
CREATE UNIQUE INDEX blobs_one_live_copy ON blobs (sha256) WHERE state = 'LIVE';
CREATE INDEX blobs_by_state ON blobs (state, checked_at);

CREATE TABLE blob_writes (
    id          TEXT PRIMARY KEY,
    key         TEXT NOT NULL,
    upload_id   TEXT,
    lease_until BIGINT NOT NULL
);
CREATE INDEX blob_writes_by_key ON blob_writes (key);
CREATE INDEX blob_writes_by_lease ON blob_writes (lease_until);

ALTER TABLE files ADD COLUMN blob_key TEXT;
-- Bytes of deleted and cancelled files were removed when they went; their records keep no
-- reference.
UPDATE files SET doc = jsonb_set(doc, '{blob_key}', 'null'::jsonb)
WHERE state IN ('DELETED', 'CANCELLED') AND doc ->> 'blob_key' IS NOT NULL;
UPDATE files SET blob_key = doc ->> 'blob_key';
CREATE INDEX files_by_blob ON files (blob_key) WHERE blob_key IS NOT NULL;

-- Bytes stored before content addressing (`files/<file_id>`) become blobs without a SHA-256:
-- referenced, purged and scrubbed (by MD5) like the others, just never shared.
INSERT INTO blobs (key, sha256, md5, size, state, created_at, updated_at)
SELECT blob_key, NULL, max(doc ->> 'file_md5'), coalesce(max((doc ->> 'file_size')::BIGINT), 0),
    'LIVE', max(update_time), max(update_time)
FROM files WHERE blob_key IS NOT NULL GROUP BY blob_key;
