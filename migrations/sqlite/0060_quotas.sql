-- Per-project quotas, and the bytes each project holds, which they are checked against.

CREATE TABLE project_quotas (
    project_id          TEXT PRIMARY KEY,
    max_bytes           INTEGER,
    max_assets          INTEGER,
    requests_per_second INTEGER,
    updated_at          INTEGER NOT NULL
);

-- Bytes of the files each project uploaded (or is uploading: a CREATING file counts with its
-- declared size, so concurrent uploads cannot overshoot together). Files the server made
-- (`derived`) and files that FAILED, were CANCELLED or deleted do not count. Kept up to date
-- by triggers, so every write path stays correct without knowing about it; the asset count
-- comes from `asset_counts`.
CREATE TABLE project_bytes (
    project_id TEXT PRIMARY KEY,
    bytes      INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO project_bytes (project_id, bytes)
SELECT project_id, sum(coalesce(doc ->> '$.file_size', 0)) FROM files
WHERE state NOT IN ('FAILED', 'CANCELLED', 'DELETING', 'DELETED') AND doc ->> '$.derived' IS NULL
GROUP BY project_id;

CREATE TRIGGER project_bytes_insert AFTER INSERT ON files
WHEN new.state NOT IN ('FAILED', 'CANCELLED', 'DELETING', 'DELETED')
    AND new.doc ->> '$.derived' IS NULL BEGIN
    INSERT INTO project_bytes (project_id, bytes)
    VALUES (new.project_id, coalesce(new.doc ->> '$.file_size', 0))
    ON CONFLICT DO UPDATE SET bytes = bytes + excluded.bytes;
END;
CREATE TRIGGER project_bytes_delete AFTER DELETE ON files
WHEN old.state NOT IN ('FAILED', 'CANCELLED', 'DELETING', 'DELETED')
    AND old.doc ->> '$.derived' IS NULL BEGIN
    UPDATE project_bytes SET bytes = bytes - coalesce(old.doc ->> '$.file_size', 0)
    WHERE project_id = old.project_id;
END;
-- A file's project never changes; its state and size do.
CREATE TRIGGER project_bytes_update AFTER UPDATE OF state, doc ON files BEGIN
    INSERT INTO project_bytes (project_id, bytes)
    VALUES (new.project_id,
        CASE WHEN new.state NOT IN ('FAILED', 'CANCELLED', 'DELETING', 'DELETED')
            AND new.doc ->> '$.derived' IS NULL
            THEN coalesce(new.doc ->> '$.file_size', 0) ELSE 0 END
        - CASE WHEN old.state NOT IN ('FAILED', 'CANCELLED', 'DELETING', 'DELETED')
            AND old.doc ->> '$.derived' IS NULL
            THEN coalesce(old.doc ->> '$.file_size', 0) ELSE 0 END)
    ON CONFLICT DO UPDATE SET bytes = bytes + excluded.bytes;
END;
