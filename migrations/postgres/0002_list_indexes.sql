-- What keeps listing fast in a large project. Everything here is derived from `assets` and
-- `asset_tags` and kept up to date by triggers, so every write path stays correct without
-- knowing about it.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- The case folding of fuzzy name and tag filters: ASCII letters only, exactly like SQLite's
-- LIKE, so both backends return the same matches. Queries and indexes use this one function.
CREATE FUNCTION assetd_fold(text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN translate($1, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz');

-- Fuzzy name filters: `assetd_fold(asset_name) LIKE '%…%'` is answered from trigrams.
CREATE INDEX assets_name_trigrams ON assets USING gin (assetd_fold(asset_name) gin_trgm_ops);

-- Exact name filters, and fuzzy text too short for trigrams, within one project.
CREATE INDEX assets_by_name ON assets (project_id, asset_name);

-- Fuzzy tag filters: every distinct tag ever used. A fuzzy filter matches these few strings
-- (by trigram) and then looks the assets up by tag, instead of testing each asset's tags.
-- Tags that fall out of use stay; they just match no asset.
CREATE TABLE tag_names (
    tag TEXT PRIMARY KEY
);
INSERT INTO tag_names (tag) SELECT DISTINCT tag FROM asset_tags;
CREATE INDEX tag_names_trigrams ON tag_names USING gin (assetd_fold(tag) gin_trgm_ops);

CREATE FUNCTION tag_names_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tag_names (tag) SELECT DISTINCT tag FROM new_rows ORDER BY 1
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER tag_names_insert AFTER INSERT ON asset_tags
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tag_names_after_insert();

-- Listing totals: assets per project, type and state. A listing filtered by nothing else
-- than those sums a few rows instead of counting up to every asset of the project.
CREATE TABLE asset_counts (
    project_id  TEXT NOT NULL,
    asset_type  TEXT NOT NULL,
    asset_state TEXT NOT NULL,
    n           BIGINT NOT NULL,
    PRIMARY KEY (project_id, asset_type, asset_state)
);
INSERT INTO asset_counts (project_id, asset_type, asset_state, n)
SELECT project_id, asset_type, asset_state, count(*) FROM assets
GROUP BY project_id, asset_type, asset_state;

-- Counters change once per statement, in key order, so concurrent writers lock them in the
-- same order.
CREATE FUNCTION asset_counts_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO asset_counts AS c (project_id, asset_type, asset_state, n)
    SELECT project_id, asset_type, asset_state, count(*) FROM new_rows
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (project_id, asset_type, asset_state) DO UPDATE SET n = c.n + excluded.n;
    RETURN NULL;
END $$;
CREATE TRIGGER asset_counts_insert AFTER INSERT ON assets
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION asset_counts_after_insert();

CREATE FUNCTION asset_counts_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO asset_counts AS c (project_id, asset_type, asset_state, n)
    SELECT k.project_id, k.asset_type, k.asset_state, sum(k.n)
    FROM old_rows o JOIN new_rows n USING (seq)
    CROSS JOIN LATERAL (VALUES (o.project_id, o.asset_type, o.asset_state, -1),
                               (n.project_id, n.asset_type, n.asset_state, 1))
        AS k (project_id, asset_type, asset_state, n)
    WHERE (o.project_id, o.asset_type, o.asset_state)
        IS DISTINCT FROM (n.project_id, n.asset_type, n.asset_state)
    GROUP BY 1, 2, 3 HAVING sum(k.n) <> 0 ORDER BY 1, 2, 3
    ON CONFLICT (project_id, asset_type, asset_state) DO UPDATE SET n = c.n + excluded.n;
    RETURN NULL;
END $$;
CREATE TRIGGER asset_counts_update AFTER UPDATE ON assets
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION asset_counts_after_update();

CREATE FUNCTION asset_counts_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE asset_counts AS c SET n = c.n - d.n
    FROM (SELECT project_id, asset_type, asset_state, count(*) AS n FROM old_rows
          GROUP BY 1, 2, 3 ORDER BY 1, 2, 3) AS d
    WHERE (c.project_id, c.asset_type, c.asset_state)
        = (d.project_id, d.asset_type, d.asset_state);
    RETURN NULL;
END $$;
CREATE TRIGGER asset_counts_delete AFTER DELETE ON assets
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION asset_counts_after_delete();

-- sort_key=asset_order: orders first and assets without one last in either direction, equal
-- orders newest first. Each direction has the index that is its order, so a page needs no
-- sort.
CREATE INDEX assets_by_order_asc
    ON assets (project_id, asset_order ASC NULLS LAST, create_time DESC, seq DESC);
CREATE INDEX assets_by_order_desc
    ON assets (project_id, asset_order DESC NULLS LAST, create_time DESC, seq DESC);
