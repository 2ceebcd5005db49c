//! The embedded catalogue: SQLite in WAL mode with a busy timeout, migrations from
//! `migrations/sqlite`, and IMMEDIATE transactions for every write. Every [`Write`] goes
//! through one writer task that commits what has queued up together (see [`run_writer`]).

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use futures::FutureExt;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

use super::stored::{from_micros, micros, shared_type, shared_with, state_event_job};
use super::{
    AccessRecord, Asset, AssetPage, AssetQuery, AssetSource, BlobRecord, BlobWrite, Catalog,
    CatalogError, CatalogStats, Credential, CredentialInfo, DamagedFile, FileRecord, JobCounts,
    JobOutcome, JobRecord, JobStatus, Lane, NewJob, ProjectUsage, Quota, ShareRole, SortKey,
    StorageUsage, StoredBlob, TextMatch, Token, Webhook, Write, BLOB_DELETE_JOB_KIND,
};
use crate::model::{AssetState, AssetType, FileState};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// A catalogue in one SQLite database file.
pub struct SqliteCatalog {
    pool: SqlitePool,
    /// The queue of the writer task that commits every [`Write`]; see [`run_writer`].
    writes: mpsc::Sender<PendingWrite>,
}

/// A write waiting for the writer task, and where its verdict goes.
type PendingWrite = (Write, oneshot::Sender<Result<(), CatalogError>>);

/// Most writes the writer task commits in one transaction.
const MAX_WRITE_BATCH: usize = 256;

impl SqliteCatalog {
    /// Opens (creating if needed) the database at `url` and runs pending migrations.
    pub async fn open(url: &str) -> Result<Self, CatalogError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .pragma("cache_size", "-65536")
            .pragma("temp_store", "memory");
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            // A ping per checkout is a round trip to the connection's worker thread, and a
            // local file cannot drop a connection the way a server can.
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        super::check_schema(&MIGRATOR, applied_migration(&pool).await?)?;
        MIGRATOR.run(&pool).await?;
        let (writes, queue) = mpsc::channel(MAX_WRITE_BATCH);
        tokio::spawn(run_writer(options.clone(), options.connect().await?, queue));
        Ok(Self { pool, writes })
    }
}

/// The newest migration applied to the database, if any.
async fn applied_migration(pool: &SqlitePool) -> Result<Option<i64>, CatalogError> {
    let migrated: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table'
             AND name = '_sqlx_migrations')",
    )
    .fetch_one(pool)
    .await?;
    if !migrated {
        return Ok(None);
    }
    Ok(
        sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(pool)
            .await?,
    )
}

/// Runs `work` as a task of its own. sqlx cannot roll back a transaction whose `BEGIN` was
/// cancelled in flight (the connection goes back to the pool still holding the write lock),
/// so work that opens a transaction on a pooled connection must not be dropped half-way when
/// its caller is (a client hanging up, a worker stopping).
async fn detached<T: Send + 'static>(
    work: impl std::future::Future<Output = Result<T, CatalogError>> + Send + 'static,
) -> Result<T, CatalogError> {
    tokio::spawn(work).await.map_err(|e| {
        CatalogError::Database(sqlx::Error::Protocol(format!("catalogue task failed: {e}")))
    })?
}

fn map_unique(err: sqlx::Error) -> CatalogError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            CatalogError::Unique(db.message().to_owned())
        }
        _ => CatalogError::Database(err),
    }
}

fn decode_asset(row: &sqlx::sqlite::SqliteRow) -> Result<Asset, CatalogError> {
    let doc: String = row.try_get("doc")?;
    let mut asset: Asset = serde_json::from_str(&doc)?;
    asset.version = row.try_get("version")?;
    Ok(asset)
}

fn decode_file(row: &sqlx::sqlite::SqliteRow) -> Result<FileRecord, CatalogError> {
    let doc: String = row.try_get("doc")?;
    let mut file: FileRecord = serde_json::from_str(&doc)?;
    file.version = row.try_get("version")?;
    Ok(file)
}

/// Rewrites the derived tag and share rows of one asset.
async fn sync_children(
    conn: &mut SqliteConnection,
    seq: i64,
    asset: &Asset,
) -> Result<(), CatalogError> {
    let tags = serde_json::to_string(&asset.tags)?;
    let shares = serde_json::to_string(&shared_with(asset).collect::<Vec<_>>())?;
    sqlx::query(
        "DELETE FROM asset_tags WHERE asset_seq = ?;
         DELETE FROM asset_shares WHERE asset_seq = ?;
         INSERT OR IGNORE INTO asset_tags (asset_seq, tag) SELECT ?, value FROM json_each(?);
         INSERT OR IGNORE INTO asset_shares (project_id, asset_seq)
         SELECT value, ? FROM json_each(?)",
    )
    .bind(seq)
    .bind(seq)
    .bind(seq)
    .bind(tags)
    .bind(seq)
    .bind(shares)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Inserts new assets with their tag and share rows: three statements sent as one, whose
/// parameters are JSON arrays of rows, however many assets there are. Every statement is a
/// round trip to the connection's worker thread (two context switches), and those round
/// trips, not SQLite, are most of what a write costs.
const INSERT_ASSETS: &str = "
    INSERT INTO assets (asset_id, project_id, asset_name, asset_type, asset_state, app_user_id,
        asset_order, shared_type, share_expire, create_time, update_time, version, doc)
    SELECT r ->> 0, r ->> 1, r ->> 2, r ->> 3, r ->> 4, r ->> 5, r ->> 6, r ->> 7, r ->> 8,
        r ->> 9, r ->> 10, 1, r ->> 11
    FROM (SELECT value AS r FROM json_each(?));
    INSERT OR IGNORE INTO asset_tags (asset_seq, tag)
    SELECT a.seq, t.value ->> 1 FROM json_each(?) t JOIN assets a ON a.asset_id = t.value ->> 0;
    INSERT OR IGNORE INTO asset_shares (project_id, asset_seq)
    SELECT s.value ->> 1, a.seq FROM json_each(?) s JOIN assets a ON a.asset_id = s.value ->> 0";

async fn insert_assets(conn: &mut SqliteConnection, assets: &[&Asset]) -> Result<(), CatalogError> {
    if assets.is_empty() {
        return Ok(());
    }
    let mut rows = Vec::with_capacity(assets.len());
    let mut tags = Vec::new();
    let mut shares = Vec::new();
    for asset in assets {
        rows.push(json!([
            asset.asset_id,
            asset.project_id,
            asset.asset_name,
            asset.asset_type.as_str(),
            asset.asset_state.as_str(),
            asset.app_user_id,
            asset.asset_order,
            shared_type(asset),
            asset.share_expire().map(micros),
            micros(asset.create_time),
            micros(asset.update_time),
            serde_json::to_string(asset)?,
        ]));
        let id = &asset.asset_id;
        tags.extend(asset.tags.iter().map(|tag| json!([id, tag])));
        shares.extend(shared_with(asset).map(|project| json!([id, project])));
    }
    sqlx::query(INSERT_ASSETS)
        .bind(serde_json::to_string(&rows)?)
        .bind(serde_json::to_string(&tags)?)
        .bind(serde_json::to_string(&shares)?)
        .execute(&mut *conn)
        .await
        .map_err(map_unique)?;

    let mut projects = assets
        .iter()
        .map(|a| a.project_id.as_str())
        .collect::<Vec<_>>();
    projects.sort_unstable();
    projects.dedup();
    let hooked: Vec<String> = sqlx::query_scalar(
        "SELECT project_id FROM webhooks WHERE project_id IN (SELECT value FROM json_each(?))",
    )
    .bind(serde_json::to_string(&projects)?)
    .fetch_all(&mut *conn)
    .await?;
    for asset in assets.iter().filter(|a| hooked.contains(&a.project_id)) {
        enqueue_state_event(conn, asset, None).await?;
    }
    Ok(())
}

/// Commits `writes` in one IMMEDIATE transaction: all of them or none.
async fn commit_writes(conn: &mut SqliteConnection, writes: &[&Write]) -> Result<(), CatalogError> {
    #[cfg(test)]
    tests::maybe_panic(writes);
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    // New assets have fresh ids, so no other write in the batch depends on them or they on
    // it: they go first, all in one statement.
    let new_assets = writes
        .iter()
        .flat_map(|w| &w.new_assets)
        .collect::<Vec<_>>();
    insert_assets(&mut tx, &new_assets).await?;
    for write in writes {
        for asset in &write.assets {
            update_asset(&mut tx, asset).await?;
        }
        commit_files(&mut tx, write).await?;
        for job in &write.jobs {
            insert_job(&mut tx, job).await?;
        }
    }
    check_quotas(&mut tx, writes).await?;
    tx.commit().await?;
    Ok(())
}

/// Inserts and updates the files of `write`, records its stored blobs, and keeps blob
/// references straight: a file may only newly refer to a LIVE blob, and a blob whose last
/// reference goes becomes DELETING with a delete job, all in the caller's transaction.
async fn commit_files(conn: &mut SqliteConnection, write: &Write) -> Result<(), CatalogError> {
    if write.new_files.is_empty() && write.files.is_empty() && write.stored_blobs.is_empty() {
        return Ok(());
    }
    let before: HashMap<String, String> = if write.files.is_empty() {
        HashMap::new()
    } else {
        let ids: Vec<&str> = write.files.iter().map(|f| f.file_id.as_str()).collect();
        sqlx::query_as(
            "SELECT file_id, blob_key FROM files
             WHERE blob_key IS NOT NULL AND file_id IN (SELECT value FROM json_each(?))",
        )
        .bind(serde_json::to_string(&ids)?)
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .collect()
    };
    let settled = settle_blobs(conn, &write.stored_blobs).await?;
    let resolve = |file: &FileRecord| -> FileRecord {
        let mut file = file.clone();
        if let Some(twin) = file.blob_key.as_ref().and_then(|k| settled.twins.get(k)) {
            file.blob_key = Some(twin.clone());
        }
        file
    };
    let mut referenced = Vec::new();
    for file in &write.new_files {
        let file = resolve(file);
        referenced.extend(file.blob_key.clone());
        insert_file(conn, &file).await?;
    }
    let mut released = Vec::new();
    for file in &write.files {
        let file = resolve(file);
        let old = before.get(&file.file_id);
        if file.blob_key.as_ref() != old {
            referenced.extend(file.blob_key.clone());
            released.extend(old.cloned());
        }
        update_file(conn, &file).await?;
    }
    referenced.sort_unstable();
    referenced.dedup();
    if !referenced.is_empty() {
        let live: Vec<String> = sqlx::query_scalar(
            "SELECT key FROM blobs WHERE state = 'LIVE' AND key IN (SELECT value FROM json_each(?))",
        )
        .bind(serde_json::to_string(&referenced)?)
        .fetch_all(&mut *conn)
        .await?;
        if let Some(gone) = referenced.iter().find(|k| !live.contains(k)) {
            return Err(CatalogError::BlobGone(gone.clone()));
        }
    }
    // A damaged copy replaced by fresh bytes: every file on it moves to them.
    for (damaged, fresh) in &settled.healed {
        sqlx::query(
            "UPDATE files SET blob_key = ?, doc = json_set(doc, '$.blob_key', ?),
                 version = version + 1
             WHERE blob_key = ?",
        )
        .bind(fresh)
        .bind(fresh)
        .bind(damaged)
        .execute(&mut *conn)
        .await?;
    }
    for key in released {
        release_blob(conn, &key).await?;
    }
    Ok(())
}

/// Fails when a project that `writes` add assets or uploaded files to is now past its quota.
/// Run inside the write transaction, after the write: SQLite's single writer makes check and
/// write one step, so concurrent requests cannot overshoot together.
async fn check_quotas(conn: &mut SqliteConnection, writes: &[&Write]) -> Result<(), CatalogError> {
    let mut projects: Vec<&str> = writes
        .iter()
        .flat_map(|w| {
            let assets = w.new_assets.iter().map(|a| a.project_id.as_str());
            let files = w.new_files.iter().filter(|f| f.derived.is_none());
            assets.chain(files.map(|f| f.project_id.as_str()))
        })
        .collect();
    if projects.is_empty() {
        return Ok(());
    }
    projects.sort_unstable();
    projects.dedup();
    let rows = sqlx::query(
        "SELECT project_id, max_bytes, max_assets, requests_per_second FROM project_quotas
         WHERE project_id IN (SELECT value FROM json_each(?))
             AND (max_bytes IS NOT NULL OR max_assets IS NOT NULL)",
    )
    .bind(serde_json::to_string(&projects)?)
    .fetch_all(&mut *conn)
    .await?;
    for row in rows {
        let quota = decode_quota(&row)?;
        let usage = usage_of(&mut *conn, &quota.project_id).await?;
        super::QuotaExceeded::check(&quota, usage)?;
    }
    Ok(())
}

/// What recording a write's stored blobs decided.
#[derive(Default)]
struct Settled {
    /// New key → the LIVE twin its files refer to instead.
    twins: HashMap<String, String>,
    /// (damaged LIVE twin, the new key replacing it).
    healed: Vec<(String, String)>,
}

/// Records newly written blobs: each ends its write and becomes LIVE, or DELETING when a
/// LIVE copy of the same content exists (the write's files are sent to that copy).
async fn settle_blobs(
    conn: &mut SqliteConnection,
    stored: &[StoredBlob],
) -> Result<Settled, CatalogError> {
    let mut settled = Settled::default();
    for blob in stored {
        let ended = sqlx::query("DELETE FROM blob_writes WHERE id = ? AND key = ?")
            .bind(&blob.write_id)
            .bind(&blob.key)
            .execute(&mut *conn)
            .await?;
        if ended.rows_affected() == 0 {
            return Err(CatalogError::WriteExpired(blob.key.clone()));
        }
        let twin: Option<(String, Option<String>)> =
            sqlx::query_as("SELECT key, damage FROM blobs WHERE sha256 = ? AND state = 'LIVE'")
                .bind(&blob.sha256)
                .fetch_optional(&mut *conn)
                .await?;
        let state = match &twin {
            Some((twin, None)) => {
                settled.twins.insert(blob.key.clone(), twin.clone());
                "DELETING"
            }
            Some((damaged, Some(_))) => {
                mark_deleting(conn, damaged).await?;
                settled.healed.push((damaged.clone(), blob.key.clone()));
                "LIVE"
            }
            None => "LIVE",
        };
        let now = micros(OffsetDateTime::now_utc());
        sqlx::query(
            "INSERT INTO blobs (key, sha256, md5, size, state, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&blob.key)
        .bind(&blob.sha256)
        .bind(&blob.md5)
        .bind(blob.size)
        .bind(state)
        .bind(now)
        .bind(now)
        .execute(&mut *conn)
        .await
        // Another LIVE copy of the same content committed meanwhile (not possible with one
        // writer, but the contract for every backend): start over, and find it as the twin.
        .map_err(|e| match map_unique(e) {
            CatalogError::Unique(_) => CatalogError::Conflict,
            other => other,
        })?;
        if state == "DELETING" {
            insert_job(conn, &delete_blob_job(&blob.key)).await?;
        }
    }
    Ok(settled)
}

fn delete_blob_job(key: &str) -> NewJob {
    NewJob {
        kind: BLOB_DELETE_JOB_KIND.to_owned(),
        payload: json!({ "kind": BLOB_DELETE_JOB_KIND, "key": key }).to_string(),
        dedup_key: Some(format!("{BLOB_DELETE_JOB_KIND}:{key}")),
        run_after: OffsetDateTime::now_utc(),
        max_attempts: 10,
        lane: Lane::Light,
    }
}

/// Marks a LIVE blob DELETING and enqueues the job that removes its bytes.
async fn mark_deleting(conn: &mut SqliteConnection, key: &str) -> Result<(), CatalogError> {
    sqlx::query("UPDATE blobs SET state = 'DELETING', updated_at = ? WHERE key = ?")
        .bind(micros(OffsetDateTime::now_utc()))
        .bind(key)
        .execute(&mut *conn)
        .await?;
    insert_job(conn, &delete_blob_job(key)).await
}

/// Marks `key` DELETING if it is LIVE and no file refers to it any more; returns whether it did.
async fn release_blob(conn: &mut SqliteConnection, key: &str) -> Result<bool, CatalogError> {
    let released: Option<String> = sqlx::query_scalar(
        "UPDATE blobs SET state = 'DELETING', updated_at = ?
         WHERE key = ? AND state = 'LIVE'
             AND NOT EXISTS (SELECT 1 FROM files WHERE blob_key = ?)
         RETURNING key",
    )
    .bind(micros(OffsetDateTime::now_utc()))
    .bind(key)
    .bind(key)
    .fetch_optional(&mut *conn)
    .await?;
    if released.is_some() {
        insert_job(conn, &delete_blob_job(key)).await?;
    }
    Ok(released.is_some())
}

fn decode_blob(row: &sqlx::sqlite::SqliteRow) -> Result<BlobRecord, CatalogError> {
    let state: String = row.try_get("state")?;
    Ok(BlobRecord {
        key: row.try_get("key")?,
        sha256: row.try_get("sha256")?,
        md5: row.try_get("md5")?,
        size: row.try_get("size")?,
        state: state
            .parse()
            .map_err(|e: String| sqlx::Error::Decode(e.into()))?,
        damage: row.try_get("damage")?,
        checked_at: row
            .try_get::<Option<i64>, _>("checked_at")?
            .map(from_micros),
    })
}

const BLOB_COLUMNS: &str = "key, sha256, md5, size, state, damage, checked_at";

fn decode_quota(row: &sqlx::sqlite::SqliteRow) -> Result<Quota, CatalogError> {
    let limit = |name| -> Result<Option<u64>, CatalogError> {
        Ok(row
            .try_get::<Option<i64>, _>(name)?
            .map(|v| v.max(0) as u64))
    };
    Ok(Quota {
        project_id: row.try_get("project_id")?,
        max_bytes: limit("max_bytes")?,
        max_assets: limit("max_assets")?,
        requests_per_second: limit("requests_per_second")?.map(|v| v.min(u32::MAX as u64) as u32),
    })
}

async fn usage_of(
    conn: &mut SqliteConnection,
    project_id: &str,
) -> Result<ProjectUsage, CatalogError> {
    let (bytes, assets): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT coalesce(sum(bytes), 0) FROM project_bytes WHERE project_id = ?1),
             (SELECT coalesce(sum(n), 0) FROM asset_counts
              WHERE project_id = ?1 AND asset_state <> 'DELETED')",
    )
    .bind(project_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(ProjectUsage {
        bytes: bytes.max(0) as u64,
        assets: assets.max(0) as u64,
    })
}

/// The writer task: commits every queued [`Write`] on its own connection, as many as are
/// waiting in one transaction (group commit), and answers each.
///
/// SQLite runs one writer at a time. Pooled writers that find the lock taken sleep in the
/// busy handler (1 ms, 2 ms, 5 ms, …), and every statement, BEGIN and COMMIT is a round trip
/// to a connection's worker thread; one writer committing the queue together does several
/// times more writes per second under load. Each write stays atomic: when a batch fails,
/// nothing of it was committed, and every write is retried alone for its own verdict.
///
/// The writer supervises itself: a panic while committing (a bug, a misbehaving log layer)
/// fails that batch's writes, drops the connection (which rolls back whatever it had begun)
/// and carries on with a new one. Without this, every later write would fail while the rest
/// of the server ran on.
async fn run_writer(
    options: SqliteConnectOptions,
    conn: SqliteConnection,
    mut queue: mpsc::Receiver<PendingWrite>,
) {
    let mut conn = Some(conn);
    let mut batch = Vec::with_capacity(MAX_WRITE_BATCH);
    while queue.recv_many(&mut batch, MAX_WRITE_BATCH).await > 0 {
        let writer = match conn.as_mut() {
            Some(writer) => writer,
            None => match options.connect().await {
                Ok(fresh) => conn.insert(fresh),
                Err(e) => {
                    tracing::error!(error = %e, "the catalogue writer cannot reconnect");
                    fail_batch(&mut batch, "the catalogue writer cannot reconnect");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            },
        };
        let answered = AssertUnwindSafe(commit_batch(writer, &mut batch))
            .catch_unwind()
            .await;
        if answered.is_err() {
            tracing::error!("the catalogue writer panicked; its batch failed, and it goes on with a new connection");
            conn = None;
            fail_batch(&mut batch, "the catalogue writer restarted");
        }
    }
}

/// Commits `batch` together and answers every write in it (see [`run_writer`]).
async fn commit_batch(conn: &mut SqliteConnection, batch: &mut Vec<PendingWrite>) {
    let writes = batch.iter().map(|(write, _)| write).collect::<Vec<_>>();
    let together = commit_writes(conn, &writes).await;
    if batch.len() == 1 {
        let (_, done) = batch.remove(0);
        let _ = done.send(together);
    } else if together.is_ok() {
        for (_, done) in batch.drain(..) {
            let _ = done.send(Ok(()));
        }
    } else {
        while !batch.is_empty() {
            let (write, done) = batch.remove(0);
            let _ = done.send(commit_writes(conn, &[&write]).await);
        }
    }
}

/// Answers every write still in `batch` with an error: none of them was committed.
fn fail_batch(batch: &mut Vec<PendingWrite>, why: &str) {
    for (_, done) in batch.drain(..) {
        let _ = done.send(Err(CatalogError::Database(sqlx::Error::Protocol(
            why.to_owned(),
        ))));
    }
}

/// The outbox: an event job for a state change, when the asset's project has a webhook.
async fn enqueue_state_event(
    conn: &mut SqliteConnection,
    asset: &Asset,
    from: Option<AssetState>,
) -> Result<(), CatalogError> {
    let Some(job) = state_event_job(asset, from) else {
        return Ok(());
    };
    let hooked: Option<i64> = sqlx::query_scalar("SELECT 1 FROM webhooks WHERE project_id = ?")
        .bind(&asset.project_id)
        .fetch_optional(&mut *conn)
        .await?;
    if hooked.is_none() {
        return Ok(());
    }
    insert_job(conn, &job).await
}

async fn update_asset(conn: &mut SqliteConnection, asset: &Asset) -> Result<(), CatalogError> {
    let before: Option<String> =
        sqlx::query_scalar("SELECT asset_state FROM assets WHERE asset_id = ? AND version = ?")
            .bind(&asset.asset_id)
            .bind(asset.version)
            .fetch_optional(&mut *conn)
            .await?;
    let before = before.ok_or(CatalogError::Conflict)?;
    let seq: Option<i64> = sqlx::query_scalar(
        "UPDATE assets SET asset_name = ?, asset_type = ?, asset_state = ?, app_user_id = ?,
             asset_order = ?, shared_type = ?, share_expire = ?, update_time = ?,
             version = version + 1, doc = ?
         WHERE asset_id = ? AND version = ? RETURNING seq",
    )
    .bind(&asset.asset_name)
    .bind(asset.asset_type.as_str())
    .bind(asset.asset_state.as_str())
    .bind(&asset.app_user_id)
    .bind(asset.asset_order)
    .bind(shared_type(asset))
    .bind(asset.share_expire().map(micros))
    .bind(micros(asset.update_time))
    .bind(serde_json::to_string(asset)?)
    .bind(&asset.asset_id)
    .bind(asset.version)
    .fetch_optional(&mut *conn)
    .await?;
    let seq = seq.ok_or(CatalogError::Conflict)?;
    sync_children(conn, seq, asset).await?;
    enqueue_state_event(conn, asset, before.parse().ok()).await
}

async fn insert_file(conn: &mut SqliteConnection, file: &FileRecord) -> Result<(), CatalogError> {
    sqlx::query(
        "INSERT INTO files (file_id, asset_id, project_id, category, state, create_time,
             update_time, version, blob_key, doc)
         VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
    )
    .bind(&file.file_id)
    .bind(&file.asset_id)
    .bind(&file.project_id)
    .bind(file.asset_file_category.as_str())
    .bind(file.state.as_str())
    .bind(micros(file.create_time))
    .bind(micros(file.update_time))
    .bind(&file.blob_key)
    .bind(serde_json::to_string(file)?)
    .execute(&mut *conn)
    .await
    .map_err(map_unique)?;
    Ok(())
}

async fn update_file(conn: &mut SqliteConnection, file: &FileRecord) -> Result<(), CatalogError> {
    let done = sqlx::query(
        "UPDATE files SET category = ?, state = ?, update_time = ?, version = version + 1,
             blob_key = ?, doc = ?
         WHERE file_id = ? AND version = ?",
    )
    .bind(file.asset_file_category.as_str())
    .bind(file.state.as_str())
    .bind(micros(file.update_time))
    .bind(&file.blob_key)
    .bind(serde_json::to_string(file)?)
    .bind(&file.file_id)
    .bind(file.version)
    .execute(&mut *conn)
    .await
    .map_err(map_unique)?;
    if done.rows_affected() == 0 {
        return Err(CatalogError::Conflict);
    }
    Ok(())
}

async fn insert_job(conn: &mut SqliteConnection, job: &NewJob) -> Result<(), CatalogError> {
    let now = micros(OffsetDateTime::now_utc());
    sqlx::query(
        "INSERT OR IGNORE INTO jobs (kind, payload, dedup_key, state, max_attempts, run_after,
             created_at, updated_at, lane)
         VALUES (?, ?, ?, 'QUEUED', ?, ?, ?, ?, ?)",
    )
    .bind(&job.kind)
    .bind(&job.payload)
    .bind(&job.dedup_key)
    .bind(job.max_attempts)
    .bind(micros(job.run_after))
    .bind(now)
    .bind(now)
    .bind(job.lane.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The type and state filters of `query` when it has no other filter, so that its total is
/// a sum over `asset_counts`.
fn counted_by_type_and_state(query: &AssetQuery) -> Option<(&[AssetType], &[AssetState])> {
    // Spelled out field by field, so that a new filter cannot be forgotten here.
    let AssetQuery {
        project_id: _,
        now: _,
        limit: _,
        offset: _,
        name,
        tags,
        tags_all: _,
        created_from,
        created_to,
        types,
        states,
        asset_ids,
        sort: _,
        descending: _,
        source,
        role,
        system_properties,
        supported_service,
        app_user_id,
        voice_sexes,
        voice_languages,
        is_realtime_voice,
        voice_provider,
        action_editable,
        is_with_action_library,
        is_movable,
        human_model_2d_version,
        include_device_name,
        exclude_device_name,
    } = query;
    let only_types_and_states = *source == AssetSource::Customization
        && role.is_none()
        && name.is_none()
        && tags.is_empty()
        && created_from.is_none()
        && created_to.is_none()
        && asset_ids.is_empty()
        && system_properties.is_empty()
        && supported_service.is_none()
        && app_user_id.is_none()
        && voice_sexes.is_empty()
        && voice_languages.is_empty()
        && is_realtime_voice.is_none()
        && voice_provider.is_none()
        && action_editable.is_none()
        && is_with_action_library.is_none()
        && is_movable.is_none()
        && human_model_2d_version.is_none()
        && include_device_name.is_none()
        && exclude_device_name.is_none();
    only_types_and_states.then_some((types.as_slice(), states.as_slice()))
}

/// Whether `query` starts from a list of candidate seqs (name trigrams, tags) rather than
/// from the project's rows in order.
fn has_candidates(query: &AssetQuery) -> bool {
    !query.tags.is_empty()
        || query
            .name
            .as_ref()
            .is_some_and(|name| trigram_query(&name.text).is_some())
}

/// `FROM assets a` for the count and the page of `query`. Starting from candidates, the
/// other filters and the sort read `assets_by_seq`, a narrow copy of the listing columns,
/// instead of whole rows (documents included) scattered over the table.
fn listing_from(query: &AssetQuery) -> &'static str {
    if has_candidates(query) {
        " FROM assets a INDEXED BY assets_by_seq"
    } else {
        " FROM assets a"
    }
}

/// Appends `WHERE …` for every filter of `query` (shared by the count and the page).
fn push_filters(qb: &mut QueryBuilder<'_, Sqlite>, query: &AssetQuery) {
    let now = micros(query.now.unwrap_or_else(OffsetDateTime::now_utc));
    let project = query.project_id.clone();
    // Starting from candidates is the plan to take. Without statistics SQLite takes
    // `project_id = ?` for a selective index and would instead test every asset of the
    // project against the list; the unary + rules that out.
    let own = if has_candidates(query) {
        "+a.project_id = "
    } else {
        "a.project_id = "
    };
    qb.push(" WHERE ");
    match (query.role, query.source) {
        (Some(ShareRole::Sharer), _) => {
            qb.push(own)
                .push_bind(project)
                .push(" AND a.shared_type = 'SHARED'");
        }
        (Some(ShareRole::Sharee), _) => {
            qb.push("a.seq IN (SELECT asset_seq FROM asset_shares WHERE project_id = ")
                .push_bind(project.clone())
                .push(") AND a.shared_type = 'SHARED' AND a.project_id <> ")
                .push_bind(project)
                .push(" AND (a.share_expire IS NULL OR a.share_expire > ")
                .push_bind(now)
                .push(")");
        }
        (None, AssetSource::Customization) => {
            qb.push(own).push_bind(project);
        }
        (None, AssetSource::System) => {
            qb.push("a.shared_type = 'PUBLIC'");
        }
        (None, AssetSource::All) => {
            qb.push("(a.project_id = ")
                .push_bind(project)
                .push(" OR a.shared_type = 'PUBLIC')");
        }
    }
    if let Some(name) = &query.name {
        qb.push(" AND a.asset_name");
        push_text_match(qb, name);
        if let Some(trigrams) = trigram_query(&name.text) {
            qb.push(" AND a.seq IN (SELECT rowid FROM asset_names WHERE asset_names MATCH ")
                .push_bind(trigrams)
                .push(")");
        }
    }
    if !query.tags.is_empty() {
        let joiner = if query.tags_all { " AND " } else { " OR " };
        qb.push(" AND (");
        for (i, tag) in query.tags.iter().enumerate() {
            if i > 0 {
                qb.push(joiner);
            }
            // Tag rows by tag (indexed), and for a fuzzy filter the matching tags among the
            // distinct ones: never a test of every asset's tags.
            qb.push("a.seq IN (SELECT t.asset_seq FROM asset_tags t WHERE t.tag");
            if tag.exact {
                push_text_match(qb, tag);
            } else {
                qb.push(" IN (SELECT v.tag FROM tag_names v WHERE v.tag");
                push_text_match(qb, tag);
                qb.push(")");
            }
            qb.push(")");
        }
        qb.push(")");
    }
    if let Some(from) = query.created_from {
        qb.push(" AND a.create_time >= ").push_bind(micros(from));
    }
    if let Some(to) = query.created_to {
        qb.push(" AND a.create_time <= ").push_bind(micros(to));
    }
    push_in(
        qb,
        "a.asset_type",
        query.types.iter().map(|t| t.as_str().to_owned()),
    );
    push_in(
        qb,
        "a.asset_state",
        query.states.iter().map(|s| s.as_str().to_owned()),
    );
    push_in(qb, "a.asset_id", query.asset_ids.iter().cloned());
    for (key, value) in &query.system_properties {
        qb.push(
            " AND EXISTS (SELECT 1 FROM json_each(a.doc, '$.system_properties') p
                 WHERE json_extract(p.value, '$.key') = ",
        )
        .push_bind(key.clone())
        .push(" AND lower(json_extract(p.value, '$.value')) = lower(")
        .push_bind(value.clone())
        .push("))");
    }
    if let Some(service) = query.supported_service {
        qb.push(
            " AND EXISTS (SELECT 1 FROM json_each(a.doc, '$.supported_service') s WHERE s.value = ",
        )
        .push_bind(service.as_str())
        .push(")");
    }
    if let Some(user) = &query.app_user_id {
        qb.push(" AND a.app_user_id = ").push_bind(user.clone());
    }
    push_voice_filters(qb, query);
    push_avatar_filters(qb, query);
}

const VOICE: &str = "json_extract(a.doc, '$.asset_extra_meta.voice_model_meta";
const AVATAR: &str = "json_extract(a.doc, '$.asset_extra_meta.human_model_2d_meta";

fn push_voice_filters(qb: &mut QueryBuilder<'_, Sqlite>, query: &AssetQuery) {
    let voice_filtered = !query.voice_sexes.is_empty()
        || !query.voice_languages.is_empty()
        || query.is_realtime_voice.is_some()
        || query.voice_provider.is_some();
    if !voice_filtered {
        return;
    }
    qb.push(" AND a.asset_type = 'VOICE_MODEL'");
    push_in(
        qb,
        &format!("coalesce({VOICE}.sex'), 'UNKNOW')"),
        query.voice_sexes.iter().cloned(),
    );
    if !query.voice_languages.is_empty() {
        qb.push(format!(" AND (coalesce({VOICE}.language'), 'UNKNOW') IN ("));
        push_list(qb, query.voice_languages.iter().cloned());
        qb.push(
            ") OR EXISTS (SELECT 1 FROM json_each(a.doc, '$.asset_extra_meta.voice_model_meta.languages') l WHERE l.value IN (",
        );
        push_list(qb, query.voice_languages.iter().cloned());
        qb.push(")))");
    }
    if let Some(realtime) = query.is_realtime_voice {
        qb.push(format!(" AND coalesce({VOICE}.is_realtime_voice'), 1) = "))
            .push_bind(i64::from(realtime));
    }
    match query.voice_provider.as_deref() {
        None => {}
        Some("HUAWEI_METASTUDIO") => {
            qb.push(format!(
                " AND {VOICE}.external_voice_meta.provider') IS NULL"
            ));
        }
        Some(provider) => {
            qb.push(format!(" AND {VOICE}.external_voice_meta.provider') = "))
                .push_bind(provider.to_owned());
        }
    }
}

fn push_avatar_filters(qb: &mut QueryBuilder<'_, Sqlite>, query: &AssetQuery) {
    let avatar_filtered = query.action_editable.is_some()
        || query.is_with_action_library.is_some()
        || query.is_movable.is_some()
        || query.human_model_2d_version.is_some()
        || query.include_device_name.is_some()
        || query.exclude_device_name.is_some();
    if !avatar_filtered {
        return;
    }
    qb.push(" AND a.asset_type = 'HUMAN_MODEL_2D'");
    if let Some(editable) = query.action_editable {
        qb.push(format!(
            " AND coalesce({AVATAR}.is_action_editable'), 0) = "
        ))
        .push_bind(i64::from(editable));
    }
    if let Some(library) = query.is_with_action_library {
        qb.push(format!(
            " AND coalesce({AVATAR}.is_with_action_library'), 0) = "
        ))
        .push_bind(i64::from(library));
    }
    if let Some(movable) = query.is_movable {
        qb.push(if movable { " AND " } else { " AND NOT " });
        qb.push(
            "EXISTS (SELECT 1 FROM asset_tags t WHERE t.asset_seq = a.seq AND t.tag = 'WALKING')",
        );
    }
    if let Some(version) = &query.human_model_2d_version {
        qb.push(format!(" AND coalesce({AVATAR}.model_version'), 'V2') = "))
            .push_bind(version.clone());
    }
    let devices = "SELECT 1 FROM json_each(a.doc, '$.asset_extra_meta.human_model_2d_meta.device_names') d WHERE d.value = ";
    if let Some(device) = &query.include_device_name {
        qb.push(format!(" AND EXISTS ({devices}"))
            .push_bind(device.clone())
            .push(")");
    }
    if let Some(device) = &query.exclude_device_name {
        qb.push(format!(" AND NOT EXISTS ({devices}"))
            .push_bind(device.clone())
            .push(")");
    }
}

/// Most trigrams an `asset_names` query asks for. Each is a posting list to merge, and a few
/// spread over the text already narrow the candidates to about the matches.
const MAX_TRIGRAMS: usize = 4;

/// An `asset_names` query for the names holding some trigrams of `text` (its first, its last
/// and a few spread between): a superset of the names that contain `text` (or equal it),
/// which the LIKE or `=` beside it narrows down to exactly those. `None` below three
/// characters, where a trigram index cannot help.
fn trigram_query(text: &str) -> Option<String> {
    let chars = text.chars().collect::<Vec<_>>();
    let trigrams = chars.windows(3).collect::<Vec<_>>();
    let last = trigrams.len().checked_sub(1)?;
    let picks = MAX_TRIGRAMS.min(trigrams.len());
    let mut terms = Vec::new();
    for i in 0..picks {
        let at = if picks == 1 {
            0
        } else {
            i * last / (picks - 1)
        };
        let trigram = trigrams[at].iter().collect::<String>();
        let term = format!("\"{}\"", trigram.replace('"', "\"\""));
        if !terms.contains(&term) {
            terms.push(term);
        }
    }
    Some(terms.join(" AND "))
}

fn push_text_match(qb: &mut QueryBuilder<'_, Sqlite>, m: &TextMatch) {
    if m.exact {
        qb.push(" = ").push_bind(m.text.clone());
    } else {
        let escaped = m
            .text
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        qb.push(" LIKE ")
            .push_bind(format!("%{escaped}%"))
            .push(" ESCAPE '\\'");
    }
}

fn push_list(qb: &mut QueryBuilder<'_, Sqlite>, values: impl Iterator<Item = String>) {
    let mut separated = qb.separated(", ");
    for value in values {
        separated.push_bind(value);
    }
}

fn push_in(qb: &mut QueryBuilder<'_, Sqlite>, column: &str, values: impl Iterator<Item = String>) {
    let mut values = values.peekable();
    if values.peek().is_none() {
        return;
    }
    qb.push(format!(" AND {column} IN ("));
    push_list(qb, values);
    qb.push(")");
}

fn push_order(qb: &mut QueryBuilder<'_, Sqlite>, query: &AssetQuery) {
    let dir = if query.descending { "DESC" } else { "ASC" };
    match query.sort {
        SortKey::CreateTime => qb.push(format!(" ORDER BY a.create_time {dir}, a.seq {dir}")),
        SortKey::UpdateTime => qb.push(format!(" ORDER BY a.update_time {dir}, a.seq {dir}")),
        SortKey::AssetName => qb.push(format!(" ORDER BY a.asset_name {dir}, a.seq {dir}")),
        // Assets without an order go last either way; equal orders show the newest first.
        // Each direction is spelled as the index that yields it: assets_by_order_asc, and
        // assets_by_order read backwards, where NULLs (the smallest values) come last anyway.
        SortKey::AssetOrder if query.descending => {
            qb.push(" ORDER BY a.asset_order DESC, a.create_time DESC, a.seq DESC")
        }
        SortKey::AssetOrder => qb
            .push(" ORDER BY a.asset_order IS NULL, a.asset_order, a.create_time DESC, a.seq DESC"),
    };
}

#[async_trait]
impl Catalog for SqliteCatalog {
    async fn put_credential(&self, credential: &Credential) -> Result<(), CatalogError> {
        sqlx::query(
            "INSERT INTO credentials (access_key, secret_key, project_id, is_admin, created_at)
             VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (access_key) DO UPDATE SET secret_key = excluded.secret_key,
                 project_id = excluded.project_id, is_admin = excluded.is_admin",
        )
        .bind(&credential.access_key)
        .bind(credential.secret_key.expose_secret())
        .bind(&credential.project_id)
        .bind(credential.is_admin)
        .bind(micros(OffsetDateTime::now_utc()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn credential(&self, access_key: &str) -> Result<Option<Credential>, CatalogError> {
        let row = sqlx::query(
            "SELECT access_key, secret_key, project_id, is_admin FROM credentials WHERE access_key = ?",
        )
        .bind(access_key)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(Credential {
                access_key: row.try_get("access_key")?,
                secret_key: SecretString::from(row.try_get::<String, _>("secret_key")?),
                project_id: row.try_get("project_id")?,
                is_admin: row.try_get("is_admin")?,
            })
        })
        .transpose()
    }

    async fn put_token(&self, token: &Token) -> Result<(), CatalogError> {
        let (pool, token) = (self.pool.clone(), token.clone());
        detached(async move {
            let token = &token;
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            sqlx::query("DELETE FROM tokens WHERE expires_at < ?")
                .bind(micros(OffsetDateTime::now_utc()))
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO tokens (token_hash, access_key, project_id, is_admin, expires_at,
                                     secret_fingerprint)
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(&token.token_hash)
            .bind(&token.access_key)
            .bind(&token.project_id)
            .bind(token.is_admin)
            .bind(micros(token.expires_at))
            .bind(&token.secret_fingerprint)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    async fn token(&self, token_hash: &str) -> Result<Option<Token>, CatalogError> {
        let row = sqlx::query(
            "SELECT token_hash, access_key, project_id, is_admin, expires_at, secret_fingerprint
             FROM tokens WHERE token_hash = ?",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(Token {
                token_hash: row.try_get("token_hash")?,
                access_key: row.try_get("access_key")?,
                project_id: row.try_get("project_id")?,
                is_admin: row.try_get("is_admin")?,
                expires_at: from_micros(row.try_get("expires_at")?),
                secret_fingerprint: row.try_get("secret_fingerprint")?,
            })
        })
        .transpose()
    }

    async fn delete_token(&self, token_hash: &str) -> Result<bool, CatalogError> {
        let (pool, hash) = (self.pool.clone(), token_hash.to_owned());
        detached(async move {
            let done = sqlx::query("DELETE FROM tokens WHERE token_hash = ?")
                .bind(&hash)
                .execute(&pool)
                .await?;
            Ok(done.rows_affected() > 0)
        })
        .await
    }

    async fn server_secret(&self, name: &str, fresh: &[u8]) -> Result<Vec<u8>, CatalogError> {
        let (pool, name, fresh) = (self.pool.clone(), name.to_owned(), fresh.to_vec());
        detached(async move {
            let (name, fresh) = (name.as_str(), fresh.as_slice());
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            sqlx::query("INSERT OR IGNORE INTO server_secrets (name, value) VALUES (?, ?)")
                .bind(name)
                .bind(fresh)
                .execute(&mut *tx)
                .await?;
            let value: Vec<u8> =
                sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = ?")
                    .bind(name)
                    .fetch_one(&mut *tx)
                    .await?;
            tx.commit().await?;
            Ok(value)
        })
        .await
    }

    async fn asset(&self, asset_id: &str) -> Result<Option<Asset>, CatalogError> {
        sqlx::query("SELECT doc, version FROM assets WHERE asset_id = ?")
            .bind(asset_id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(decode_asset)
            .transpose()
    }

    async fn assets(&self, asset_ids: &[String]) -> Result<Vec<Asset>, CatalogError> {
        if asset_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb = QueryBuilder::new("SELECT doc, version FROM assets WHERE asset_id IN (");
        push_list(&mut qb, asset_ids.iter().cloned());
        qb.push(")");
        qb.build()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(decode_asset)
            .collect()
    }

    async fn list_assets(&self, query: &AssetQuery) -> Result<AssetPage, CatalogError> {
        let (pool, query) = (self.pool.clone(), query.clone());
        detached(async move {
            let query = &query;
            // One read transaction so the count and the page see the same snapshot.
            let mut tx = pool.begin().await?;
            let mut count = match counted_by_type_and_state(query) {
                Some((types, states)) => {
                    let mut qb = QueryBuilder::new(
                        "SELECT coalesce(sum(n), 0) FROM asset_counts a WHERE a.project_id = ",
                    );
                    qb.push_bind(query.project_id.clone());
                    push_in(
                        &mut qb,
                        "a.asset_type",
                        types.iter().map(|t| t.as_str().to_owned()),
                    );
                    push_in(
                        &mut qb,
                        "a.asset_state",
                        states.iter().map(|s| s.as_str().to_owned()),
                    );
                    qb
                }
                None => {
                    let mut qb = QueryBuilder::new("SELECT count(*)");
                    qb.push(listing_from(query));
                    push_filters(&mut qb, query);
                    qb
                }
            };
            let total: i64 = count.build_query_scalar().fetch_one(&mut *tx).await?;

            // The page's seqs first, then their documents: a plan that sorts carries seqs, not
            // documents, and skipped rows are never read.
            let mut page = QueryBuilder::new(
                "SELECT a.doc, a.version FROM assets a WHERE a.seq IN (SELECT a.seq",
            );
            page.push(listing_from(query));
            push_filters(&mut page, query);
            push_order(&mut page, query);
            page.push(" LIMIT ")
                .push_bind(i64::from(query.limit))
                .push(" OFFSET ")
                .push_bind(i64::try_from(query.offset).unwrap_or(i64::MAX))
                .push(")");
            push_order(&mut page, query);
            let rows = page.build().fetch_all(&mut *tx).await?;
            tx.commit().await?;
            Ok(AssetPage {
                count: u64::try_from(total).unwrap_or(0),
                assets: rows.iter().map(decode_asset).collect::<Result<_, _>>()?,
            })
        })
        .await
    }

    async fn file(&self, file_id: &str) -> Result<Option<FileRecord>, CatalogError> {
        sqlx::query("SELECT doc, version FROM files WHERE file_id = ?")
            .bind(file_id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(decode_file)
            .transpose()
    }

    async fn files_of(&self, asset_ids: &[String]) -> Result<Vec<FileRecord>, CatalogError> {
        if asset_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb = QueryBuilder::new("SELECT doc, version FROM files WHERE asset_id IN (");
        push_list(&mut qb, asset_ids.iter().cloned());
        qb.push(") ORDER BY create_time, file_id");
        qb.build()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(decode_file)
            .collect()
    }

    async fn stale_uploads(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<FileRecord>, CatalogError> {
        sqlx::query(
            "SELECT doc, version FROM files WHERE state = 'CREATING' AND update_time < ?
             ORDER BY update_time LIMIT ?",
        )
        .bind(micros(before))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(decode_file)
        .collect()
    }

    async fn apply(&self, write: Write) -> Result<(), CatalogError> {
        // The writer only stops when the catalogue is dropped, like a closed pool.
        let (done, verdict) = oneshot::channel();
        self.writes
            .send((write, done))
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        verdict.await.map_err(|_| sqlx::Error::PoolClosed)?
    }

    async fn files_in_state(
        &self,
        state: FileState,
        limit: u32,
        offset: u64,
    ) -> Result<(u64, Vec<FileRecord>), CatalogError> {
        let total: i64 = sqlx::query_scalar("SELECT count(*) FROM files WHERE state = ?")
            .bind(state.as_str())
            .fetch_one(&self.pool)
            .await?;
        let rows = sqlx::query(
            "SELECT doc, version FROM files WHERE state = ? ORDER BY update_time, file_id
             LIMIT ? OFFSET ?",
        )
        .bind(state.as_str())
        .bind(i64::from(limit))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        let files = rows.iter().map(decode_file).collect::<Result<_, _>>()?;
        Ok((u64::try_from(total).unwrap_or(0), files))
    }

    async fn review_whitelisted(&self, project_id: &str) -> Result<bool, CatalogError> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM review_whitelist WHERE project_id = ?")
                .bind(project_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    async fn set_review_whitelisted(&self, project_id: &str, on: bool) -> Result<(), CatalogError> {
        if on {
            sqlx::query(
                "INSERT OR IGNORE INTO review_whitelist (project_id, added_at) VALUES (?, ?)",
            )
            .bind(project_id)
            .bind(micros(OffsetDateTime::now_utc()))
            .execute(&self.pool)
            .await?;
        } else {
            sqlx::query("DELETE FROM review_whitelist WHERE project_id = ?")
                .bind(project_id)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    async fn review_whitelist(&self) -> Result<Vec<String>, CatalogError> {
        Ok(
            sqlx::query_scalar("SELECT project_id FROM review_whitelist ORDER BY project_id")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn quota(&self, project_id: &str) -> Result<Option<Quota>, CatalogError> {
        let row = sqlx::query(
            "SELECT project_id, max_bytes, max_assets, requests_per_second FROM project_quotas
             WHERE project_id = ?",
        )
        .bind(project_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(decode_quota).transpose()
    }

    async fn put_quota(&self, quota: &Quota) -> Result<(), CatalogError> {
        let limit = |v: Option<u64>| v.map(|v| v.min(i64::MAX as u64) as i64);
        let unlimited = quota.max_bytes.is_none()
            && quota.max_assets.is_none()
            && quota.requests_per_second.is_none();
        let query = if unlimited {
            sqlx::query("DELETE FROM project_quotas WHERE project_id = ?").bind(&quota.project_id)
        } else {
            sqlx::query(
                "INSERT INTO project_quotas (project_id, max_bytes, max_assets,
                     requests_per_second, updated_at) VALUES (?, ?, ?, ?, ?)
                 ON CONFLICT (project_id) DO UPDATE SET max_bytes = excluded.max_bytes,
                     max_assets = excluded.max_assets,
                     requests_per_second = excluded.requests_per_second,
                     updated_at = excluded.updated_at",
            )
            .bind(&quota.project_id)
            .bind(limit(quota.max_bytes))
            .bind(limit(quota.max_assets))
            .bind(quota.requests_per_second.map(i64::from))
            .bind(micros(OffsetDateTime::now_utc()))
        };
        query.execute(&self.pool).await?;
        Ok(())
    }

    async fn project_usage(&self, project_id: &str) -> Result<ProjectUsage, CatalogError> {
        let mut conn = self.pool.acquire().await?;
        usage_of(&mut conn, project_id).await
    }

    async fn put_webhook(&self, webhook: &Webhook) -> Result<(), CatalogError> {
        sqlx::query(
            "INSERT INTO webhooks (project_id, url, secret, updated_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (project_id) DO UPDATE SET url = excluded.url, secret = excluded.secret,
                 updated_at = excluded.updated_at",
        )
        .bind(&webhook.project_id)
        .bind(&webhook.url)
        .bind(webhook.secret.expose_secret())
        .bind(micros(OffsetDateTime::now_utc()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn webhook(&self, project_id: &str) -> Result<Option<Webhook>, CatalogError> {
        let row = sqlx::query("SELECT project_id, url, secret FROM webhooks WHERE project_id = ?")
            .bind(project_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(Webhook {
                project_id: row.try_get("project_id")?,
                url: row.try_get("url")?,
                secret: SecretString::from(row.try_get::<String, _>("secret")?),
            })
        })
        .transpose()
    }

    async fn delete_webhook(&self, project_id: &str) -> Result<bool, CatalogError> {
        let done = sqlx::query("DELETE FROM webhooks WHERE project_id = ?")
            .bind(project_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn record_access(&self, records: &[AccessRecord]) -> Result<(), CatalogError> {
        let (pool, records) = (self.pool.clone(), records.to_vec());
        detached(async move {
            let records = records.as_slice();
            if records.is_empty() {
                return Ok(());
            }
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            for r in records {
                sqlx::query(
                    "INSERT INTO share_access (asset_id, owner_project_id, reader_project_id, action, at)
                     VALUES (?, ?, ?, ?, ?)",
                )
                .bind(&r.asset_id)
                .bind(&r.owner_project_id)
                .bind(&r.reader_project_id)
                .bind(&r.action)
                .bind(micros(r.at))
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    async fn access_log(
        &self,
        asset_id: &str,
        limit: u32,
        offset: u64,
    ) -> Result<(u64, Vec<AccessRecord>), CatalogError> {
        let total: i64 = sqlx::query_scalar("SELECT count(*) FROM share_access WHERE asset_id = ?")
            .bind(asset_id)
            .fetch_one(&self.pool)
            .await?;
        let rows = sqlx::query(
            "SELECT asset_id, owner_project_id, reader_project_id, action, at FROM share_access
             WHERE asset_id = ? ORDER BY at DESC, id DESC LIMIT ? OFFSET ?",
        )
        .bind(asset_id)
        .bind(i64::from(limit))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        let records = rows
            .iter()
            .map(|row| {
                Ok(AccessRecord {
                    asset_id: row.try_get("asset_id")?,
                    owner_project_id: row.try_get("owner_project_id")?,
                    reader_project_id: row.try_get("reader_project_id")?,
                    action: row.try_get("action")?,
                    at: from_micros(row.try_get("at")?),
                })
            })
            .collect::<Result<_, CatalogError>>()?;
        Ok((u64::try_from(total).unwrap_or(0), records))
    }

    async fn claim_job(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        lanes: &[Lane],
    ) -> Result<Option<JobRecord>, CatalogError> {
        let (pool, worker) = (self.pool.clone(), worker.to_owned());
        let lanes = lanes.iter().map(|l| l.as_str()).collect::<Vec<_>>();
        detached(async move {
            let worker = worker.as_str();
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            let now = micros(now);
            let mut qb = QueryBuilder::<Sqlite>::new(
                "UPDATE jobs SET state = 'RUNNING', attempts = attempts + 1, lease_until = ",
            );
            qb.push_bind(micros(lease_until))
                .push(", worker = ")
                .push_bind(worker)
                .push(", updated_at = ")
                .push_bind(now)
                .push(", progress = NULL WHERE id = (SELECT id FROM jobs WHERE ((state = 'QUEUED' AND run_after <= ")
                .push_bind(now)
                .push(") OR (state = 'RUNNING' AND lease_until < ")
                .push_bind(now)
                .push(")) AND lane IN (");
            let mut separated = qb.separated(", ");
            for lane in lanes {
                separated.push_bind(lane);
            }
            qb.push(
                ") ORDER BY run_after, id LIMIT 1)
                 RETURNING id, kind, payload, attempts, max_attempts, last_error, lane",
            );
            let row = qb.build().fetch_optional(&mut *tx).await?;
            tx.commit().await?;
            row.map(|row| {
                Ok(JobRecord {
                    id: row.try_get("id")?,
                    kind: row.try_get("kind")?,
                    payload: row.try_get("payload")?,
                    attempts: row.try_get("attempts")?,
                    max_attempts: row.try_get("max_attempts")?,
                    last_error: row.try_get("last_error")?,
                    lane: Lane::parse(row.try_get("lane")?),
                })
            })
            .transpose()
        })
        .await
    }

    async fn heartbeat_job(
        &self,
        id: i64,
        worker: &str,
        lease_until: OffsetDateTime,
    ) -> Result<bool, CatalogError> {
        let done = sqlx::query(
            "UPDATE jobs SET lease_until = ? WHERE id = ? AND worker = ? AND state = 'RUNNING'",
        )
        .bind(micros(lease_until))
        .bind(id)
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn finish_job(
        &self,
        id: i64,
        worker: &str,
        outcome: JobOutcome,
    ) -> Result<(), CatalogError> {
        let now = micros(OffsetDateTime::now_utc());
        let query = match &outcome {
            JobOutcome::Done => {
                sqlx::query("DELETE FROM jobs WHERE id = ? AND worker = ? AND state = 'RUNNING'")
                    .bind(id)
                    .bind(worker)
            }
            JobOutcome::Retry { at, error } => sqlx::query(
                "UPDATE jobs SET state = 'QUEUED', run_after = ?, last_error = ?, lease_until = NULL,
                     worker = NULL, updated_at = ?, progress = NULL
                 WHERE id = ? AND worker = ? AND state = 'RUNNING'",
            )
            .bind(micros(*at))
            .bind(error)
            .bind(now)
            .bind(id)
            .bind(worker),
            JobOutcome::Failed { error } => sqlx::query(
                "UPDATE jobs SET state = 'FAILED', last_error = ?, lease_until = NULL, updated_at = ?
                 WHERE id = ? AND worker = ? AND state = 'RUNNING'",
            )
            .bind(error)
            .bind(now)
            .bind(id)
            .bind(worker),
        };
        query.execute(&self.pool).await?;
        Ok(())
    }

    async fn start_blob_write(
        &self,
        id: &str,
        key: &str,
        lease_until: OffsetDateTime,
    ) -> Result<(), CatalogError> {
        sqlx::query("INSERT INTO blob_writes (id, key, lease_until) VALUES (?, ?, ?)")
            .bind(id)
            .bind(key)
            .bind(micros(lease_until))
            .execute(&self.pool)
            .await
            .map_err(map_unique)?;
        Ok(())
    }

    async fn set_blob_upload(&self, id: &str, upload_id: &str) -> Result<bool, CatalogError> {
        let done = sqlx::query("UPDATE blob_writes SET upload_id = ? WHERE id = ?")
            .bind(upload_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn renew_blob_writes(
        &self,
        ids: &[String],
        lease_until: OffsetDateTime,
    ) -> Result<(), CatalogError> {
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE blob_writes SET lease_until = ? WHERE id IN (SELECT value FROM json_each(?))",
        )
        .bind(micros(lease_until))
        .bind(serde_json::to_string(ids)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn end_blob_write(
        &self,
        id: &str,
        expired_before: Option<OffsetDateTime>,
    ) -> Result<bool, CatalogError> {
        let done = sqlx::query("DELETE FROM blob_writes WHERE id = ? AND lease_until < ?")
            .bind(id)
            .bind(expired_before.map_or(i64::MAX, micros))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn expired_blob_writes(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<BlobWrite>, CatalogError> {
        let rows: Vec<(String, String, Option<String>, i64)> = sqlx::query_as(
            "SELECT id, key, upload_id, lease_until FROM blob_writes WHERE lease_until < ?
             ORDER BY lease_until LIMIT ?",
        )
        .bind(micros(now))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, key, upload_id, lease)| BlobWrite {
                id,
                key,
                upload_id,
                lease_until: from_micros(lease),
            })
            .collect())
    }

    async fn blob(&self, key: &str) -> Result<Option<BlobRecord>, CatalogError> {
        sqlx::query(&format!("SELECT {BLOB_COLUMNS} FROM blobs WHERE key = ?"))
            .bind(key)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(decode_blob)
            .transpose()
    }

    async fn forget_blob(&self, key: &str) -> Result<bool, CatalogError> {
        let done = sqlx::query("DELETE FROM blobs WHERE key = ? AND state = 'DELETING'")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn deleting_blobs(&self, limit: u32) -> Result<Vec<String>, CatalogError> {
        Ok(sqlx::query_scalar(
            "SELECT key FROM blobs WHERE state = 'DELETING' ORDER BY updated_at LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn release_unreferenced_blobs(&self, limit: u32) -> Result<Vec<String>, CatalogError> {
        let pool = self.pool.clone();
        detached(async move {
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            let keys: Vec<String> = sqlx::query_scalar(
                "SELECT key FROM blobs b WHERE state = 'LIVE'
                     AND NOT EXISTS (SELECT 1 FROM files f WHERE f.blob_key = b.key)
                 LIMIT ?",
            )
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
            let mut released = Vec::new();
            for key in keys {
                if release_blob(&mut tx, &key).await? {
                    released.push(key);
                }
            }
            tx.commit().await?;
            Ok(released)
        })
        .await
    }

    async fn known_blob_keys(&self, keys: &[String]) -> Result<Vec<String>, CatalogError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let keys = serde_json::to_string(keys)?;
        Ok(sqlx::query_scalar(
            "SELECT key FROM blobs WHERE key IN (SELECT value FROM json_each(?))
             UNION SELECT key FROM blob_writes WHERE key IN (SELECT value FROM json_each(?))",
        )
        .bind(&keys)
        .bind(&keys)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn blobs_to_scrub(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<BlobRecord>, CatalogError> {
        sqlx::query(&format!(
            "SELECT {BLOB_COLUMNS} FROM blobs
             WHERE state = 'LIVE' AND (checked_at IS NULL OR checked_at < ?)
             ORDER BY checked_at, key LIMIT ?"
        ))
        .bind(micros(before))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(decode_blob)
        .collect()
    }

    async fn record_scrub(
        &self,
        key: &str,
        damage: Option<&str>,
        at: OffsetDateTime,
    ) -> Result<(), CatalogError> {
        sqlx::query("UPDATE blobs SET damage = ?, checked_at = ? WHERE key = ?")
            .bind(damage)
            .bind(micros(at))
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn damaged_files(&self, limit: u32) -> Result<(u64, Vec<DamagedFile>), CatalogError> {
        let total: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM blobs b JOIN files f ON f.blob_key = b.key
             WHERE b.damage IS NOT NULL",
        )
        .fetch_one(&self.pool)
        .await?;
        let rows = sqlx::query(
            "SELECT f.file_id, f.asset_id, f.project_id, b.key, b.damage, b.checked_at
             FROM blobs b JOIN files f ON f.blob_key = b.key
             WHERE b.damage IS NOT NULL ORDER BY b.checked_at, f.file_id LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let files = rows
            .iter()
            .map(|row| {
                Ok(DamagedFile {
                    file_id: row.try_get("file_id")?,
                    asset_id: row.try_get("asset_id")?,
                    project_id: row.try_get("project_id")?,
                    blob_key: row.try_get("key")?,
                    damage: row.try_get("damage")?,
                    checked_at: row
                        .try_get::<Option<i64>, _>("checked_at")?
                        .map(from_micros),
                })
            })
            .collect::<Result<_, CatalogError>>()?;
        Ok((u64::try_from(total).unwrap_or(0), files))
    }

    async fn storage_usage(&self) -> Result<StorageUsage, CatalogError> {
        let (blobs, stored): (i64, i64) = sqlx::query_as(
            "SELECT count(*), coalesce(sum(size), 0) FROM blobs WHERE state = 'LIVE'",
        )
        .fetch_one(&self.pool)
        .await?;
        let (files, logical): (i64, i64) = sqlx::query_as(
            "SELECT count(*), coalesce(sum(b.size), 0) FROM files f JOIN blobs b ON b.key = f.blob_key",
        )
        .fetch_one(&self.pool)
        .await?;
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        Ok(StorageUsage {
            blobs: n(blobs),
            stored_bytes: n(stored),
            files: n(files),
            logical_bytes: n(logical),
        })
    }

    async fn claim_period(
        &self,
        name: &str,
        period_start: OffsetDateTime,
    ) -> Result<bool, CatalogError> {
        let done = sqlx::query(
            "INSERT INTO periodic_runs (name, period_start) VALUES (?, ?)
             ON CONFLICT (name) DO UPDATE SET period_start = excluded.period_start
             WHERE periodic_runs.period_start < excluded.period_start",
        )
        .bind(name)
        .bind(micros(period_start))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn job_counts(&self) -> Result<JobCounts, CatalogError> {
        let rows = sqlx::query("SELECT state, count(*) AS n FROM jobs GROUP BY state")
            .fetch_all(&self.pool)
            .await?;
        let mut counts = JobCounts::default();
        for row in rows {
            let n = u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0);
            match row.try_get::<String, _>("state")?.as_str() {
                "QUEUED" => counts.queued = n,
                "RUNNING" => counts.running = n,
                "FAILED" => counts.failed = n,
                _ => {}
            }
        }
        Ok(counts)
    }

    async fn list_credentials(&self) -> Result<Vec<CredentialInfo>, CatalogError> {
        let rows = sqlx::query(
            "SELECT access_key, project_id, is_admin, created_at FROM credentials
             ORDER BY access_key",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(CredentialInfo {
                    access_key: row.try_get("access_key")?,
                    project_id: row.try_get("project_id")?,
                    is_admin: row.try_get("is_admin")?,
                    created_at: from_micros(row.try_get("created_at")?),
                })
            })
            .collect()
    }

    async fn delete_credential(&self, access_key: &str) -> Result<bool, CatalogError> {
        let (pool, access_key) = (self.pool.clone(), access_key.to_owned());
        detached(async move {
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            sqlx::query("DELETE FROM tokens WHERE access_key = ?")
                .bind(&access_key)
                .execute(&mut *tx)
                .await?;
            let gone = sqlx::query("DELETE FROM credentials WHERE access_key = ?")
                .bind(&access_key)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok(gone > 0)
        })
        .await
    }

    async fn stats(&self) -> Result<CatalogStats, CatalogError> {
        let mut stats = CatalogStats::default();
        let rows = sqlx::query(
            "SELECT kind, state, count(*) AS n FROM jobs GROUP BY kind, state ORDER BY kind",
        )
        .fetch_all(&self.pool)
        .await?;
        for row in rows {
            let kind: String = row.try_get("kind")?;
            let n = u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0);
            if stats.jobs.last().is_none_or(|(k, _)| *k != kind) {
                stats.jobs.push((kind, JobCounts::default()));
            }
            let counts = &mut stats.jobs.last_mut().expect("pushed above").1;
            match row.try_get::<String, _>("state")?.as_str() {
                "QUEUED" => counts.queued = n,
                "RUNNING" => counts.running = n,
                "FAILED" => counts.failed = n,
                _ => {}
            }
        }
        let rows =
            sqlx::query("SELECT asset_state, count(*) AS n FROM assets GROUP BY asset_state")
                .fetch_all(&self.pool)
                .await?;
        for row in rows {
            let state: String = row.try_get("asset_state")?;
            if let Ok(state) = state.parse::<AssetState>() {
                let n = u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0);
                stats.assets.push((state, n));
            }
        }
        let review: i64 = sqlx::query_scalar("SELECT count(*) FROM files WHERE state = ?")
            .bind(FileState::Review.as_str())
            .fetch_one(&self.pool)
            .await?;
        stats.review_queue = u64::try_from(review).unwrap_or(0);
        Ok(stats)
    }

    async fn set_job_progress(&self, dedup_key: &str, progress: &str) -> Result<(), CatalogError> {
        sqlx::query("UPDATE jobs SET progress = ? WHERE dedup_key = ? AND state = 'RUNNING'")
            .bind(progress)
            .bind(dedup_key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn job_status(&self, dedup_key: &str) -> Result<Option<JobStatus>, CatalogError> {
        let row = sqlx::query(
            "SELECT state, attempts, max_attempts, last_error, progress FROM jobs
             WHERE dedup_key = ? AND state IN ('QUEUED', 'RUNNING')",
        )
        .bind(dedup_key)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(JobStatus {
                state: row.try_get("state")?,
                attempts: row.try_get("attempts")?,
                max_attempts: row.try_get("max_attempts")?,
                last_error: row.try_get("last_error")?,
                progress: row.try_get("progress")?,
            })
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The job kind whose write makes the writer panic, standing in for any bug or
    /// misbehaving log layer that panics inside the writer task.
    const PANIC_KIND: &str = "test:panic-in-writer";

    pub(super) fn maybe_panic(writes: &[&Write]) {
        if writes
            .iter()
            .flat_map(|w| &w.jobs)
            .any(|j| j.kind == PANIC_KIND)
        {
            panic!("injected panic in the catalogue writer");
        }
    }

    fn job(kind: &str) -> NewJob {
        NewJob {
            kind: kind.to_owned(),
            payload: "{}".to_owned(),
            dedup_key: None,
            run_after: OffsetDateTime::now_utc(),
            max_attempts: 1,
            lane: Lane::Light,
        }
    }

    #[tokio::test]
    async fn the_writer_survives_a_panic_and_keeps_committing() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("catalog.db").display());
        let catalog = SqliteCatalog::open(&url).await.unwrap();
        let poisoned = Write {
            jobs: vec![job(PANIC_KIND)],
            ..Write::default()
        };
        assert!(catalog.apply(poisoned).await.is_err());
        let fine = Write {
            jobs: vec![job("after")],
            ..Write::default()
        };
        catalog
            .apply(fine)
            .await
            .expect("the writer commits after a panic");
        assert_eq!(catalog.job_counts().await.unwrap().queued, 1);
    }
}
