-- What keeps listing fast in a project of a million assets (bench/catalog.sh measures it).
-- Everything here is derived from `assets` and `asset_tags` and kept up to date by triggers,
-- so every write path stays correct without knowing about it.

-- Fuzzy name filters: a trigram index over asset names. `list_assets` asks it for candidates
-- holding every trigram of the text, then keeps the same LIKE as before, so results do not
-- change. Only rowids are stored (detail = none): positions would double its size.
CREATE VIRTUAL TABLE asset_names USING fts5 (
    asset_name,
    content = 'assets',
    content_rowid = 'seq',
    tokenize = 'trigram',
    detail = 'none'
);
INSERT INTO asset_names (asset_names) VALUES ('rebuild');

CREATE TRIGGER asset_names_insert AFTER INSERT ON assets BEGIN
    INSERT INTO asset_names (rowid, asset_name) VALUES (new.seq, new.asset_name);
END;
CREATE TRIGGER asset_names_delete AFTER DELETE ON assets BEGIN
    INSERT INTO asset_names (asset_names, rowid, asset_name)
    VALUES ('delete', old.seq, old.asset_name);
END;
CREATE TRIGGER asset_names_update AFTER UPDATE OF asset_name ON assets
WHEN old.asset_name IS NOT new.asset_name BEGIN
    INSERT INTO asset_names (asset_names, rowid, asset_name)
    VALUES ('delete', old.seq, old.asset_name);
    INSERT INTO asset_names (rowid, asset_name) VALUES (new.seq, new.asset_name);
END;

-- Fuzzy tag filters: every distinct tag ever used. A fuzzy filter matches these few strings
-- and then looks the assets up by tag, instead of testing each asset's tags. Tags that fall
-- out of use stay; they just match no asset.
CREATE TABLE tag_names (
    tag TEXT PRIMARY KEY
) WITHOUT ROWID;
INSERT INTO tag_names (tag) SELECT DISTINCT tag FROM asset_tags;

CREATE TRIGGER tag_names_insert AFTER INSERT ON asset_tags
WHEN NOT EXISTS (SELECT 1 FROM tag_names WHERE tag = new.tag) BEGIN
    INSERT INTO tag_names (tag) VALUES (new.tag);
END;

-- Listing totals: assets per project, type and state. A listing filtered by nothing else
-- than those sums a few rows instead of counting up to every asset of the project.
CREATE TABLE asset_counts (
    project_id  TEXT NOT NULL,
    asset_type  TEXT NOT NULL,
    asset_state TEXT NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (project_id, asset_type, asset_state)
) WITHOUT ROWID;
INSERT INTO asset_counts (project_id, asset_type, asset_state, n)
SELECT project_id, asset_type, asset_state, count(*) FROM assets
GROUP BY project_id, asset_type, asset_state;

CREATE TRIGGER asset_counts_insert AFTER INSERT ON assets BEGIN
    INSERT INTO asset_counts (project_id, asset_type, asset_state, n)
    VALUES (new.project_id, new.asset_type, new.asset_state, 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER asset_counts_delete AFTER DELETE ON assets BEGIN
    UPDATE asset_counts SET n = n - 1
    WHERE project_id = old.project_id AND asset_type = old.asset_type
        AND asset_state = old.asset_state;
END;
CREATE TRIGGER asset_counts_update AFTER UPDATE OF project_id, asset_type, asset_state ON assets
WHEN old.project_id IS NOT new.project_id OR old.asset_type IS NOT new.asset_type
    OR old.asset_state IS NOT new.asset_state BEGIN
    UPDATE asset_counts SET n = n - 1
    WHERE project_id = old.project_id AND asset_type = old.asset_type
        AND asset_state = old.asset_state;
    INSERT INTO asset_counts (project_id, asset_type, asset_state, n)
    VALUES (new.project_id, new.asset_type, new.asset_state, 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;

-- Name filters that the trigram index cannot serve (exact names, fuzzy text shorter than
-- three characters) read this instead of the whole rows.
CREATE INDEX assets_by_name ON assets (project_id, asset_name);

-- Listings that start from candidate seqs (name trigrams, tags) check their other filters and
-- sort here: the listing columns in seq order, a narrow copy of the table without documents.
-- A new seq is the largest, so inserts append to it.
CREATE INDEX assets_by_seq ON assets (
    seq, project_id, asset_name, asset_type, asset_state, shared_type, create_time,
    update_time, asset_order
);

-- sort_key=asset_order ascending: orders first, assets without one last, equal orders newest
-- first. This index is that order, so a page needs no sort. (Descending is assets_by_order
-- read backwards.)
CREATE INDEX assets_by_order_asc
    ON assets (project_id, asset_order IS NULL, asset_order, create_time DESC, seq DESC);
