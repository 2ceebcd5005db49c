-- Per-project quotas, and the bytes each project holds, which they are checked against
-- (the PostgreSQL twin of migrations/sqlite/0060_quotas.sql).

CREATE TABLE project_quotas (
    project_id          TEXT PRIMARY KEY,
    max_bytes           BIGINT,
    max_assets          BIGINT,
    requests_per_second BIGINT,
    updated_at          BIGINT NOT NULL
);

-- Bytes of the files each project uploaded (or is uploading: a CREATING file counts with its
-- declared size, so concurrent uploads cannot overshoot together). Files the server made
-- (`derived`) and files that FAILED, were CANCELLED or deleted do not count. Kept up to date
-- by a trigger, so every write path stays correct without knowing about it; the asset count
-- comes from `asset_counts`.
CREATE TABLE project_bytes (
    project_id TEXT PRIMARY KEY,
    bytes      BIGINT NOT NULL
);

-- What a file row adds to its project's bytes.
CREATE FUNCTION counted_file_bytes(state TEXT, doc JSONB) RETURNS BIGINT
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN state NOT IN ('FAILED', 'CANCELLED', 'DELETING', 'DELETED')
        AND doc ->> 'derived' IS NULL
        THEN coalesce((doc ->> 'file_size')::BIGINT, 0) ELSE 0 END
$$;

INSERT INTO project_bytes (project_id, bytes)
SELECT project_id, sum(counted_file_bytes(state, doc)) FROM files GROUP BY project_id;

-- A file's project never changes; its state and size do.
CREATE FUNCTION project_bytes_after_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    delta BIGINT := 0;
    project TEXT;
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        delta := delta + counted_file_bytes(NEW.state, NEW.doc);
        project := NEW.project_id;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        delta := delta - counted_file_bytes(OLD.state, OLD.doc);
        project := OLD.project_id;
    END IF;
    IF delta <> 0 THEN
        INSERT INTO project_bytes AS p (project_id, bytes) VALUES (project, delta)
        ON CONFLICT (project_id) DO UPDATE SET bytes = p.bytes + excluded.bytes;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER project_bytes_change AFTER INSERT OR UPDATE OR DELETE ON files
    FOR EACH ROW EXECUTE FUNCTION project_bytes_after_change();
