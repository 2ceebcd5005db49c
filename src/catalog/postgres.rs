//! The shared catalogue: PostgreSQL, for any number of assetd nodes on one database.
//! Migrations come from `migrations/postgres` (same file names as SQLite's); `serve` and
//! `migrate` apply them under sqlx's advisory lock, so nodes starting together take turns.
//!
//! Every [`Write`] is one READ COMMITTED transaction. A versioned update first locks its row
//! (`SELECT … FOR UPDATE` on id *and* version), so a writer that lost the race sees no row and
//! the whole write rolls back as [`CatalogError::Conflict`]. A transaction PostgreSQL aborts
//! for reasons of its own (a deadlock between counter rows, a serialization failure) is run
//! again here, whole, a few times: unlike a conflict it says nothing about the records.
//!
//! Jobs are claimed with `FOR UPDATE SKIP LOCKED`, so the workers of all nodes share one
//! queue and each job is claimed by one of them at a time; a lease that is not renewed (the
//! node died) makes the job claimable again.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, Row};
use time::OffsetDateTime;

use super::stored::{from_micros, micros, shared_type, shared_with, state_event_job};
use super::{
    AccessRecord, Asset, AssetPage, AssetQuery, AssetSource, BlobRecord, BlobWrite, Catalog,
    CatalogError, CatalogStats, Credential, CredentialInfo, DamagedFile, FileRecord, JobCounts,
    JobOutcome, JobRecord, JobStatus, Lane, NewJob, ProjectUsage, Quota, ShareRole, SortKey,
    StorageUsage, StoredBlob, TextMatch, Token, Webhook, Write, BLOB_DELETE_JOB_KIND,
};
use crate::model::{AssetState, AssetType, FileState};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Connections each node keeps to the database.
const MAX_CONNECTIONS: u32 = 16;

/// How often a write that PostgreSQL aborted on its own is run again.
const TRANSIENT_ATTEMPTS: u32 = 5;

/// A catalogue in a PostgreSQL database.
pub struct PgCatalog {
    pool: PgPool,
}

impl PgCatalog {
    /// Connects to the database at `url` (`postgres://USER:PASS@HOST:PORT/DB`) and runs
    /// pending migrations, refusing a schema newer than this build knows.
    pub async fn open(url: &str) -> Result<Self, CatalogError> {
        let options: PgConnectOptions = url.parse()?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.application_name("assetd"))
            .await?;
        super::check_schema(&MIGRATOR, applied_migration(&pool).await?)?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }
}

/// The newest migration applied to the database, if any.
async fn applied_migration(pool: &PgPool) -> Result<Option<i64>, CatalogError> {
    let migrated: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
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

/// Runs `work` as a task of its own, so that a caller that is dropped half-way (a client
/// hanging up) cannot leave a transaction half-sent on a pooled connection.
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

/// Whether PostgreSQL aborted a transaction for reasons that running it again can cure:
/// a serialization failure (40001) or a deadlock (40P01). Either way nothing was written.
fn is_transient(err: &CatalogError) -> bool {
    match err {
        CatalogError::Database(sqlx::Error::Database(db)) => {
            matches!(db.code().as_deref(), Some("40001" | "40P01"))
        }
        _ => false,
    }
}

/// Whether `key` can be stored at all. PostgreSQL refuses U+0000 in text, even as a query
/// parameter, so a lookup by such a key (a path segment `%00`) finds nothing, as on SQLite,
/// instead of failing.
fn storable(key: &str) -> bool {
    !key.contains('\0')
}

/// The keys of `keys` that can be stored (see [`storable`]).
fn storable_keys(keys: &[String]) -> Vec<&str> {
    keys.iter()
        .map(String::as_str)
        .filter(|k| storable(k))
        .collect()
}

fn decode_asset(row: &PgRow) -> Result<Asset, CatalogError> {
    let doc: String = row.try_get("doc")?;
    let mut asset: Asset = serde_json::from_str(&doc)?;
    asset.version = row.try_get("version")?;
    Ok(asset)
}

fn decode_file(row: &PgRow) -> Result<FileRecord, CatalogError> {
    let doc: String = row.try_get("doc")?;
    let mut file: FileRecord = serde_json::from_str(&doc)?;
    file.version = row.try_get("version")?;
    Ok(file)
}

fn decode_job(row: &PgRow) -> Result<JobRecord, CatalogError> {
    Ok(JobRecord {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        payload: row.try_get("payload")?,
        attempts: row.try_get("attempts")?,
        max_attempts: row.try_get("max_attempts")?,
        last_error: row.try_get("last_error")?,
        lane: Lane::parse(row.try_get("lane")?),
    })
}

fn as_count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn sql_offset(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Commits `write` in one transaction: all of it or nothing.
async fn commit_write(pool: &PgPool, write: &Write) -> Result<(), CatalogError> {
    let mut tx = pool.begin().await?;
    let quotas = lock_quotas(&mut tx, write).await?;
    for asset in &write.assets {
        update_asset(&mut tx, asset).await?;
    }
    insert_assets(&mut tx, &write.new_assets).await?;
    commit_files(&mut tx, write).await?;
    for job in &write.jobs {
        insert_job(&mut tx, job).await?;
    }
    for quota in &quotas {
        super::QuotaExceeded::check(quota, usage_of(&mut tx, &quota.project_id).await?)?;
    }
    tx.commit().await?;
    Ok(())
}

/// Inserts and updates the files of `write`, records its stored blobs, and keeps blob
/// references straight: a file may only newly refer to a LIVE blob, and a blob whose last
/// reference goes becomes DELETING with a delete job, all in the caller's transaction.
///
/// Under READ COMMITTED a statement only sees what committed before it began, so both sides
/// of a race between a new reference and a release lock the blob row first (`FOR SHARE`,
/// `FOR UPDATE`) and look at its state or count its references only after holding the lock,
/// in a statement of their own: whichever comes second then sees the other's commit.
async fn commit_files(conn: &mut PgConnection, write: &Write) -> Result<(), CatalogError> {
    if write.new_files.is_empty() && write.files.is_empty() && write.stored_blobs.is_empty() {
        return Ok(());
    }
    let before: HashMap<String, String> = if write.files.is_empty() {
        HashMap::new()
    } else {
        let ids: Vec<&str> = write.files.iter().map(|f| f.file_id.as_str()).collect();
        sqlx::query_as(
            "SELECT file_id, blob_key FROM files
             WHERE blob_key IS NOT NULL AND file_id = ANY($1)
             ORDER BY file_id FOR UPDATE",
        )
        .bind(&ids)
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
        // Locked in key order, so that writers referring to the same blobs cannot deadlock.
        let live: Vec<String> = sqlx::query_scalar(
            "SELECT key FROM blobs WHERE key = ANY($1) AND state = 'LIVE'
             ORDER BY key FOR SHARE",
        )
        .bind(&referenced)
        .fetch_all(&mut *conn)
        .await?;
        if let Some(gone) = referenced.iter().find(|k| !live.contains(k)) {
            return Err(CatalogError::BlobGone(gone.clone()));
        }
    }
    // A damaged copy replaced by fresh bytes: every file on it moves to them.
    for (damaged, fresh) in &settled.healed {
        sqlx::query(
            "UPDATE files SET blob_key = $1, doc = jsonb_set(doc, '{blob_key}', to_jsonb($1::text)),
                 version = version + 1
             WHERE blob_key = $2",
        )
        .bind(fresh)
        .bind(damaged)
        .execute(&mut *conn)
        .await?;
    }
    released.sort_unstable();
    released.dedup();
    for key in released {
        release_blob(conn, &key).await?;
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
/// LIVE copy of the same content exists (the write's files are sent to that copy). A LIVE
/// copy committed by a concurrent writer meanwhile is a [`CatalogError::Conflict`]: the
/// unique index on LIVE hashes makes this insert wait for that writer and then fail, and the
/// caller's next attempt finds the copy as the twin.
async fn settle_blobs(
    conn: &mut PgConnection,
    stored: &[StoredBlob],
) -> Result<Settled, CatalogError> {
    let mut settled = Settled::default();
    for blob in stored {
        let ended = sqlx::query("DELETE FROM blob_writes WHERE id = $1 AND key = $2")
            .bind(&blob.write_id)
            .bind(&blob.key)
            .execute(&mut *conn)
            .await?;
        if ended.rows_affected() == 0 {
            return Err(CatalogError::WriteExpired(blob.key.clone()));
        }
        let twin: Option<(String, Option<String>)> = sqlx::query_as(
            "SELECT key, damage FROM blobs WHERE sha256 = $1 AND state = 'LIVE' FOR UPDATE",
        )
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
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(&blob.key)
        .bind(&blob.sha256)
        .bind(&blob.md5)
        .bind(blob.size)
        .bind(state)
        .bind(now)
        .execute(&mut *conn)
        .await
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
        payload: serde_json::json!({ "kind": BLOB_DELETE_JOB_KIND, "key": key }).to_string(),
        dedup_key: Some(format!("{BLOB_DELETE_JOB_KIND}:{key}")),
        run_after: OffsetDateTime::now_utc(),
        max_attempts: 10,
        lane: Lane::Light,
    }
}

/// Marks a LIVE blob DELETING and enqueues the job that removes its bytes.
async fn mark_deleting(conn: &mut PgConnection, key: &str) -> Result<(), CatalogError> {
    sqlx::query("UPDATE blobs SET state = 'DELETING', updated_at = $1 WHERE key = $2")
        .bind(micros(OffsetDateTime::now_utc()))
        .bind(key)
        .execute(&mut *conn)
        .await?;
    insert_job(conn, &delete_blob_job(key)).await
}

/// Marks `key` DELETING if it is LIVE and no file refers to it any more; returns whether it
/// did. The blob row is locked before the references are counted (see [`commit_files`]).
async fn release_blob(conn: &mut PgConnection, key: &str) -> Result<bool, CatalogError> {
    let state: Option<String> =
        sqlx::query_scalar("SELECT state FROM blobs WHERE key = $1 FOR UPDATE")
            .bind(key)
            .fetch_optional(&mut *conn)
            .await?;
    if state.as_deref() != Some("LIVE") {
        return Ok(false);
    }
    let referenced: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM files WHERE blob_key = $1)")
            .bind(key)
            .fetch_one(&mut *conn)
            .await?;
    if referenced {
        return Ok(false);
    }
    mark_deleting(conn, key).await?;
    Ok(true)
}

fn decode_blob(row: &PgRow) -> Result<BlobRecord, CatalogError> {
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

/// The quotas of the projects `write` adds assets or uploaded files to, locked until the
/// transaction ends: writes to one project with a quota take turns, so each sees what the
/// one before it added, and concurrent writes cannot overshoot together.
async fn lock_quotas(conn: &mut PgConnection, write: &Write) -> Result<Vec<Quota>, CatalogError> {
    let assets = write.new_assets.iter().map(|a| a.project_id.clone());
    let files = write.new_files.iter().filter(|f| f.derived.is_none());
    let mut projects: Vec<String> = assets.chain(files.map(|f| f.project_id.clone())).collect();
    if projects.is_empty() {
        return Ok(Vec::new());
    }
    projects.sort_unstable();
    projects.dedup();
    sqlx::query(
        "SELECT project_id, max_bytes, max_assets, requests_per_second FROM project_quotas
         WHERE project_id = ANY($1) AND (max_bytes IS NOT NULL OR max_assets IS NOT NULL)
         ORDER BY project_id FOR UPDATE",
    )
    .bind(&projects)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(decode_quota)
    .collect()
}

fn decode_quota(row: &PgRow) -> Result<Quota, CatalogError> {
    let limit = |name| -> Result<Option<u64>, CatalogError> {
        Ok(row.try_get::<Option<i64>, _>(name)?.map(as_count))
    };
    Ok(Quota {
        project_id: row.try_get("project_id")?,
        max_bytes: limit("max_bytes")?,
        max_assets: limit("max_assets")?,
        requests_per_second: limit("requests_per_second")?
            .map(|v| u32::try_from(v).unwrap_or(u32::MAX)),
    })
}

async fn usage_of(conn: &mut PgConnection, project_id: &str) -> Result<ProjectUsage, CatalogError> {
    let (bytes, assets): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT coalesce(sum(bytes), 0)::int8 FROM project_bytes WHERE project_id = $1),
             (SELECT coalesce(sum(n), 0)::int8 FROM asset_counts
              WHERE project_id = $1 AND asset_state <> 'DELETED')",
    )
    .bind(project_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(ProjectUsage {
        bytes: as_count(bytes),
        assets: as_count(assets),
    })
}

/// Inserts new assets with their tag and share rows, and their events, in two statements
/// however many assets there are.
async fn insert_assets(conn: &mut PgConnection, assets: &[Asset]) -> Result<(), CatalogError> {
    if assets.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(assets.len());
    let mut projects = Vec::with_capacity(assets.len());
    let mut names = Vec::with_capacity(assets.len());
    let mut types = Vec::with_capacity(assets.len());
    let mut states = Vec::with_capacity(assets.len());
    let mut users = Vec::with_capacity(assets.len());
    let mut orders = Vec::with_capacity(assets.len());
    let mut shared_types = Vec::with_capacity(assets.len());
    let mut expiries = Vec::with_capacity(assets.len());
    let mut created = Vec::with_capacity(assets.len());
    let mut updated = Vec::with_capacity(assets.len());
    let mut docs = Vec::with_capacity(assets.len());
    let (mut tag_ids, mut tags) = (Vec::new(), Vec::new());
    let (mut share_ids, mut share_projects) = (Vec::new(), Vec::new());
    for asset in assets {
        ids.push(asset.asset_id.clone());
        projects.push(asset.project_id.clone());
        names.push(asset.asset_name.clone());
        types.push(asset.asset_type.as_str());
        states.push(asset.asset_state.as_str());
        users.push(asset.app_user_id.clone());
        orders.push(asset.asset_order);
        shared_types.push(shared_type(asset));
        expiries.push(asset.share_expire().map(micros));
        created.push(micros(asset.create_time));
        updated.push(micros(asset.update_time));
        docs.push(serde_json::to_string(asset)?);
        for tag in &asset.tags {
            tag_ids.push(asset.asset_id.clone());
            tags.push(tag.clone());
        }
        for project in shared_with(asset) {
            share_ids.push(asset.asset_id.clone());
            share_projects.push(project.clone());
        }
    }
    sqlx::query(
        "WITH new AS (
             INSERT INTO assets (asset_id, project_id, asset_name, asset_type, asset_state,
                 app_user_id, asset_order, shared_type, share_expire, create_time, update_time,
                 version, doc)
             SELECT r.asset_id, r.project_id, r.asset_name, r.asset_type, r.asset_state,
                 r.app_user_id, r.asset_order, r.shared_type, r.share_expire, r.create_time,
                 r.update_time, 1, r.doc::jsonb
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                 $6::text[], $7::int4[], $8::text[], $9::int8[], $10::int8[], $11::int8[],
                 $12::text[])
                 AS r (asset_id, project_id, asset_name, asset_type, asset_state, app_user_id,
                     asset_order, shared_type, share_expire, create_time, update_time, doc)
             RETURNING seq, asset_id
         ), tagged AS (
             INSERT INTO asset_tags (asset_seq, tag)
             SELECT DISTINCT new.seq, t.tag
             FROM unnest($13::text[], $14::text[]) AS t (asset_id, tag) JOIN new USING (asset_id)
             ON CONFLICT DO NOTHING
         )
         INSERT INTO asset_shares (project_id, asset_seq)
         SELECT DISTINCT s.project_id, new.seq
         FROM unnest($15::text[], $16::text[]) AS s (asset_id, project_id) JOIN new USING (asset_id)
         ON CONFLICT DO NOTHING",
    )
    .bind(&ids)
    .bind(&projects)
    .bind(&names)
    .bind(&types)
    .bind(&states)
    .bind(&users)
    .bind(&orders)
    .bind(&shared_types)
    .bind(&expiries)
    .bind(&created)
    .bind(&updated)
    .bind(&docs)
    .bind(&tag_ids)
    .bind(&tags)
    .bind(&share_ids)
    .bind(&share_projects)
    .execute(&mut *conn)
    .await
    .map_err(map_unique)?;

    let events = assets
        .iter()
        .filter_map(|asset| Some((asset, state_event_job(asset, None)?)));
    insert_events(conn, events).await
}

/// The outbox: enqueues each event job whose asset's project has a webhook.
async fn insert_events<'a>(
    conn: &mut PgConnection,
    events: impl Iterator<Item = (&'a Asset, NewJob)>,
) -> Result<(), CatalogError> {
    let mut projects = Vec::new();
    let mut kinds = Vec::new();
    let mut payloads = Vec::new();
    let mut attempts = Vec::new();
    let mut times = Vec::new();
    for (asset, job) in events {
        projects.push(asset.project_id.clone());
        kinds.push(job.kind);
        payloads.push(job.payload);
        attempts.push(job.max_attempts);
        times.push(micros(job.run_after));
    }
    if projects.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO jobs (kind, payload, state, max_attempts, run_after, created_at, updated_at)
         SELECT e.kind, e.payload, 'QUEUED', e.attempts, e.at, e.at, e.at
         FROM unnest($1::text[], $2::text[], $3::text[], $4::int4[], $5::int8[])
             AS e (project_id, kind, payload, attempts, at)
         WHERE EXISTS (SELECT 1 FROM webhooks w WHERE w.project_id = e.project_id)",
    )
    .bind(&projects)
    .bind(&kinds)
    .bind(&payloads)
    .bind(&attempts)
    .bind(&times)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn update_asset(conn: &mut PgConnection, asset: &Asset) -> Result<(), CatalogError> {
    // The row lock makes the version check and the update one step: a writer that read
    // the same version waits here, then finds the version moved on.
    let before: Option<String> = sqlx::query_scalar(
        "SELECT asset_state FROM assets WHERE asset_id = $1 AND version = $2 FOR UPDATE",
    )
    .bind(&asset.asset_id)
    .bind(asset.version)
    .fetch_optional(&mut *conn)
    .await?;
    let before = before.ok_or(CatalogError::Conflict)?;
    let shares = shared_with(asset).cloned().collect::<Vec<_>>();
    sqlx::query(
        "WITH moved AS (
             UPDATE assets SET asset_name = $3, asset_type = $4, asset_state = $5,
                 app_user_id = $6, asset_order = $7, shared_type = $8, share_expire = $9,
                 update_time = $10, version = version + 1, doc = $11::jsonb
             WHERE asset_id = $1 AND version = $2
             RETURNING seq
         ), untagged AS (
             DELETE FROM asset_tags t USING moved
             WHERE t.asset_seq = moved.seq AND t.tag <> ALL ($12::text[])
         ), tagged AS (
             INSERT INTO asset_tags (asset_seq, tag)
             SELECT DISTINCT moved.seq, x FROM moved, unnest($12::text[]) AS x
             ON CONFLICT DO NOTHING
         ), unshared AS (
             DELETE FROM asset_shares s USING moved
             WHERE s.asset_seq = moved.seq AND s.project_id <> ALL ($13::text[])
         )
         INSERT INTO asset_shares (project_id, asset_seq)
         SELECT DISTINCT x, moved.seq FROM moved, unnest($13::text[]) AS x
         ON CONFLICT DO NOTHING",
    )
    .bind(&asset.asset_id)
    .bind(asset.version)
    .bind(&asset.asset_name)
    .bind(asset.asset_type.as_str())
    .bind(asset.asset_state.as_str())
    .bind(&asset.app_user_id)
    .bind(asset.asset_order)
    .bind(shared_type(asset))
    .bind(asset.share_expire().map(micros))
    .bind(micros(asset.update_time))
    .bind(serde_json::to_string(asset)?)
    .bind(&asset.tags)
    .bind(&shares)
    .execute(&mut *conn)
    .await?;
    let event = state_event_job(asset, before.parse().ok());
    insert_events(conn, event.map(|job| (asset, job)).into_iter()).await
}

async fn insert_file(conn: &mut PgConnection, file: &FileRecord) -> Result<(), CatalogError> {
    sqlx::query(
        "INSERT INTO files (file_id, asset_id, project_id, category, state, create_time,
             update_time, version, blob_key, doc)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9::jsonb)",
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

async fn update_file(conn: &mut PgConnection, file: &FileRecord) -> Result<(), CatalogError> {
    let done = sqlx::query(
        "UPDATE files SET category = $1, state = $2, update_time = $3, version = version + 1,
             blob_key = $4, doc = $5::jsonb
         WHERE file_id = $6 AND version = $7",
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

async fn insert_job(conn: &mut PgConnection, job: &NewJob) -> Result<(), CatalogError> {
    let now = micros(OffsetDateTime::now_utc());
    sqlx::query(
        "INSERT INTO jobs (kind, payload, dedup_key, state, max_attempts, run_after,
             created_at, updated_at, lane)
         VALUES ($1, $2, $3, 'QUEUED', $4, $5, $6, $6, $7)
         ON CONFLICT (dedup_key) WHERE state IN ('QUEUED', 'RUNNING') DO NOTHING",
    )
    .bind(&job.kind)
    .bind(&job.payload)
    .bind(&job.dedup_key)
    .bind(job.max_attempts)
    .bind(micros(job.run_after))
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

fn type_names(types: &[AssetType]) -> Vec<String> {
    types.iter().map(|t| t.as_str().to_owned()).collect()
}

fn state_names(states: &[AssetState]) -> Vec<String> {
    states.iter().map(|s| s.as_str().to_owned()).collect()
}

/// Appends `WHERE …` for every filter of `query` (shared by the count and the page).
fn push_filters(qb: &mut QueryBuilder<'_, Postgres>, query: &AssetQuery) {
    let now = micros(query.now.unwrap_or_else(OffsetDateTime::now_utc));
    let project = query.project_id.clone();
    qb.push(" WHERE ");
    match (query.role, query.source) {
        (Some(ShareRole::Sharer), _) => {
            qb.push("a.project_id = ")
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
            qb.push("a.project_id = ").push_bind(project);
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
        push_text_match(qb, "a.asset_name", name);
    }
    if !query.tags.is_empty() {
        let joiner = if query.tags_all { " AND " } else { " OR " };
        qb.push(" AND (");
        for (i, tag) in query.tags.iter().enumerate() {
            if i > 0 {
                qb.push(joiner);
            }
            // Tag rows by tag (indexed), and for a fuzzy filter the matching tags among the
            // distinct ones (by trigram): never a test of every asset's tags.
            qb.push("a.seq IN (SELECT t.asset_seq FROM asset_tags t WHERE ");
            if tag.exact {
                qb.push("t.tag = ").push_bind(tag.text.clone());
            } else {
                qb.push("t.tag IN (SELECT v.tag FROM tag_names v WHERE TRUE");
                push_text_match(qb, "v.tag", tag);
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
    push_any(qb, "a.asset_type", type_names(&query.types));
    push_any(qb, "a.asset_state", state_names(&query.states));
    push_any(qb, "a.asset_id", query.asset_ids.clone());
    for (key, value) in &query.system_properties {
        qb.push(
            " AND EXISTS (SELECT 1 FROM jsonb_array_elements(a.doc -> 'system_properties') p
                 WHERE p ->> 'key' = ",
        )
        .push_bind(key.clone())
        .push(" AND assetd_fold(p ->> 'value') = assetd_fold(")
        .push_bind(value.clone())
        .push("))");
    }
    if let Some(service) = query.supported_service {
        qb.push(" AND a.doc -> 'supported_service' @> jsonb_build_array(")
            .push_bind(service.as_str())
            .push("::text)");
    }
    if let Some(user) = &query.app_user_id {
        qb.push(" AND a.app_user_id = ").push_bind(user.clone());
    }
    push_voice_filters(qb, query);
    push_avatar_filters(qb, query);
}

const VOICE: &str = "a.doc #> '{asset_extra_meta,voice_model_meta}'";
const AVATAR: &str = "a.doc #> '{asset_extra_meta,human_model_2d_meta}'";

fn push_voice_filters(qb: &mut QueryBuilder<'_, Postgres>, query: &AssetQuery) {
    let voice_filtered = !query.voice_sexes.is_empty()
        || !query.voice_languages.is_empty()
        || query.is_realtime_voice.is_some()
        || query.voice_provider.is_some();
    if !voice_filtered {
        return;
    }
    qb.push(" AND a.asset_type = 'VOICE_MODEL'");
    push_any(
        qb,
        &format!("coalesce({VOICE} ->> 'sex', 'UNKNOW')"),
        query.voice_sexes.clone(),
    );
    if !query.voice_languages.is_empty() {
        qb.push(format!(
            " AND (coalesce({VOICE} ->> 'language', 'UNKNOW') = ANY ("
        ))
        .push_bind(query.voice_languages.clone())
        .push(format!(
            ") OR EXISTS (SELECT 1 FROM jsonb_array_elements_text(
                 CASE jsonb_typeof({VOICE} -> 'languages') WHEN 'array'
                 THEN {VOICE} -> 'languages' ELSE '[]' END) l WHERE l = ANY ("
        ))
        .push_bind(query.voice_languages.clone())
        .push(")))");
    }
    if let Some(realtime) = query.is_realtime_voice {
        qb.push(format!(
            " AND coalesce(({VOICE} ->> 'is_realtime_voice')::boolean, TRUE) = "
        ))
        .push_bind(realtime);
    }
    match query.voice_provider.as_deref() {
        None => {}
        Some("HUAWEI_METASTUDIO") => {
            qb.push(format!(
                " AND {VOICE} #>> '{{external_voice_meta,provider}}' IS NULL"
            ));
        }
        Some(provider) => {
            qb.push(format!(
                " AND {VOICE} #>> '{{external_voice_meta,provider}}' = "
            ))
            .push_bind(provider.to_owned());
        }
    }
}

fn push_avatar_filters(qb: &mut QueryBuilder<'_, Postgres>, query: &AssetQuery) {
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
            " AND coalesce(({AVATAR} ->> 'is_action_editable')::boolean, FALSE) = "
        ))
        .push_bind(editable);
    }
    if let Some(library) = query.is_with_action_library {
        qb.push(format!(
            " AND coalesce(({AVATAR} ->> 'is_with_action_library')::boolean, FALSE) = "
        ))
        .push_bind(library);
    }
    if let Some(movable) = query.is_movable {
        qb.push(if movable { " AND " } else { " AND NOT " });
        qb.push(
            "EXISTS (SELECT 1 FROM asset_tags t WHERE t.asset_seq = a.seq AND t.tag = 'WALKING')",
        );
    }
    if let Some(version) = &query.human_model_2d_version {
        qb.push(format!(
            " AND coalesce({AVATAR} ->> 'model_version', 'V2') = "
        ))
        .push_bind(version.clone());
    }
    let devices = format!(" coalesce({AVATAR} -> 'device_names' @> jsonb_build_array(");
    if let Some(device) = &query.include_device_name {
        qb.push(format!(" AND{devices}"))
            .push_bind(device.clone())
            .push("::text), FALSE)");
    }
    if let Some(device) = &query.exclude_device_name {
        qb.push(format!(" AND NOT{devices}"))
            .push_bind(device.clone())
            .push("::text), FALSE)");
    }
}

/// ` AND column = text`, or for a fuzzy match ` AND column contains text` with ASCII letters
/// compared case-insensitively (`assetd_fold`, which the trigram indexes are built on).
fn push_text_match(qb: &mut QueryBuilder<'_, Postgres>, column: &str, m: &TextMatch) {
    if m.exact {
        qb.push(format!(" AND {column} = "))
            .push_bind(m.text.clone());
    } else {
        let escaped = m
            .text
            .to_ascii_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        qb.push(format!(" AND assetd_fold({column}) LIKE "))
            .push_bind(format!("%{escaped}%"))
            .push(" ESCAPE '\\'");
    }
}

/// ` AND column = ANY (values)`; nothing when `values` is empty.
fn push_any(qb: &mut QueryBuilder<'_, Postgres>, column: &str, values: Vec<String>) {
    if values.is_empty() {
        return;
    }
    qb.push(format!(" AND {column} = ANY ("))
        .push_bind(values)
        .push(")");
}

fn push_order(qb: &mut QueryBuilder<'_, Postgres>, query: &AssetQuery) {
    let dir = if query.descending { "DESC" } else { "ASC" };
    match query.sort {
        SortKey::CreateTime => qb.push(format!(" ORDER BY a.create_time {dir}, a.seq {dir}")),
        SortKey::UpdateTime => qb.push(format!(" ORDER BY a.update_time {dir}, a.seq {dir}")),
        // Byte order, as on SQLite, whatever the database's collation.
        SortKey::AssetName => qb.push(format!(
            " ORDER BY a.asset_name COLLATE \"C\" {dir}, a.seq {dir}"
        )),
        // Assets without an order go last either way; equal orders show the newest first
        // (the two assets_by_order indexes).
        SortKey::AssetOrder => qb.push(format!(
            " ORDER BY a.asset_order {dir} NULLS LAST, a.create_time DESC, a.seq DESC"
        )),
    };
}

fn decode_token(row: &PgRow) -> Result<Token, CatalogError> {
    Ok(Token {
        token_hash: row.try_get("token_hash")?,
        access_key: row.try_get("access_key")?,
        project_id: row.try_get("project_id")?,
        is_admin: row.try_get("is_admin")?,
        expires_at: from_micros(row.try_get("expires_at")?),
        secret_fingerprint: row.try_get("secret_fingerprint")?,
    })
}

/// Adds one `(state, n)` row of a job count to `counts`.
fn count_job_state(counts: &mut JobCounts, row: &PgRow) -> Result<(), CatalogError> {
    let n = as_count(row.try_get("n")?);
    match row.try_get::<String, _>("state")?.as_str() {
        "QUEUED" => counts.queued = n,
        "RUNNING" => counts.running = n,
        "FAILED" => counts.failed = n,
        _ => {}
    }
    Ok(())
}

#[async_trait]
impl Catalog for PgCatalog {
    async fn put_credential(&self, credential: &Credential) -> Result<(), CatalogError> {
        sqlx::query(
            "INSERT INTO credentials (access_key, secret_key, project_id, is_admin, created_at)
             VALUES ($1, $2, $3, $4, $5)
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
            "SELECT access_key, secret_key, project_id, is_admin FROM credentials
             WHERE access_key = $1",
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
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM tokens WHERE expires_at < $1")
                .bind(micros(OffsetDateTime::now_utc()))
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO tokens (token_hash, access_key, project_id, is_admin, expires_at,
                     secret_fingerprint)
                 VALUES ($1, $2, $3, $4, $5, $6)",
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
        sqlx::query(
            "SELECT token_hash, access_key, project_id, is_admin, expires_at, secret_fingerprint
             FROM tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(decode_token)
        .transpose()
    }

    async fn delete_token(&self, token_hash: &str) -> Result<bool, CatalogError> {
        let done = sqlx::query("DELETE FROM tokens WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn server_secret(&self, name: &str, fresh: &[u8]) -> Result<Vec<u8>, CatalogError> {
        // Nodes starting together race to create the secret; the first insert wins and every
        // node reads that one.
        sqlx::query(
            "INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(name)
        .bind(fresh)
        .execute(&self.pool)
        .await?;
        Ok(
            sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
                .bind(name)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn asset(&self, asset_id: &str) -> Result<Option<Asset>, CatalogError> {
        if !storable(asset_id) {
            return Ok(None);
        }
        sqlx::query("SELECT doc::text AS doc, version FROM assets WHERE asset_id = $1")
            .bind(asset_id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(decode_asset)
            .transpose()
    }

    async fn assets(&self, asset_ids: &[String]) -> Result<Vec<Asset>, CatalogError> {
        let asset_ids = storable_keys(asset_ids);
        if asset_ids.is_empty() {
            return Ok(Vec::new());
        }
        sqlx::query("SELECT doc::text AS doc, version FROM assets WHERE asset_id = ANY ($1)")
            .bind(asset_ids)
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
            // One snapshot for the count and the page.
            let mut tx = pool
                .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .await?;
            let mut count = match counted_by_type_and_state(query) {
                Some((types, states)) => {
                    let mut qb = QueryBuilder::new(
                        "SELECT coalesce(sum(n), 0)::int8 FROM asset_counts a
                         WHERE a.project_id = ",
                    );
                    qb.push_bind(query.project_id.clone());
                    push_any(&mut qb, "a.asset_type", type_names(types));
                    push_any(&mut qb, "a.asset_state", state_names(states));
                    qb
                }
                None => {
                    let mut qb = QueryBuilder::new("SELECT count(*) FROM assets a");
                    push_filters(&mut qb, query);
                    qb
                }
            };
            let total: i64 = count.build_query_scalar().fetch_one(&mut *tx).await?;

            // The page's seqs first, then their documents: skipped rows are never decoded.
            let mut page = QueryBuilder::new(
                "SELECT a.doc::text AS doc, a.version FROM assets a
                 WHERE a.seq IN (SELECT a.seq FROM assets a",
            );
            push_filters(&mut page, query);
            push_order(&mut page, query);
            page.push(" LIMIT ")
                .push_bind(i64::from(query.limit))
                .push(" OFFSET ")
                .push_bind(sql_offset(query.offset))
                .push(")");
            push_order(&mut page, query);
            let rows = page.build().fetch_all(&mut *tx).await?;
            tx.commit().await?;
            Ok(AssetPage {
                count: as_count(total),
                assets: rows.iter().map(decode_asset).collect::<Result<_, _>>()?,
            })
        })
        .await
    }

    async fn file(&self, file_id: &str) -> Result<Option<FileRecord>, CatalogError> {
        if !storable(file_id) {
            return Ok(None);
        }
        sqlx::query("SELECT doc::text AS doc, version FROM files WHERE file_id = $1")
            .bind(file_id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(decode_file)
            .transpose()
    }

    async fn files_of(&self, asset_ids: &[String]) -> Result<Vec<FileRecord>, CatalogError> {
        let asset_ids = storable_keys(asset_ids);
        if asset_ids.is_empty() {
            return Ok(Vec::new());
        }
        sqlx::query(
            "SELECT doc::text AS doc, version FROM files WHERE asset_id = ANY ($1)
             ORDER BY create_time, file_id",
        )
        .bind(asset_ids)
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
            "SELECT doc::text AS doc, version FROM files
             WHERE state = 'CREATING' AND update_time < $1
             ORDER BY update_time LIMIT $2",
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
        let pool = self.pool.clone();
        detached(async move {
            let mut attempt = 1;
            loop {
                match commit_write(&pool, &write).await {
                    Err(e) if is_transient(&e) && attempt < TRANSIENT_ATTEMPTS => {
                        tracing::debug!(error = %e, attempt, "write aborted by the database; running it again");
                        // Spread the retries of writers that collided.
                        let pause = rand::random::<u64>() % (5 * u64::from(attempt)) + 1;
                        tokio::time::sleep(Duration::from_millis(pause)).await;
                        attempt += 1;
                    }
                    result => return result,
                }
            }
        })
        .await
    }

    async fn files_in_state(
        &self,
        state: FileState,
        limit: u32,
        offset: u64,
    ) -> Result<(u64, Vec<FileRecord>), CatalogError> {
        let total: i64 = sqlx::query_scalar("SELECT count(*) FROM files WHERE state = $1")
            .bind(state.as_str())
            .fetch_one(&self.pool)
            .await?;
        let rows = sqlx::query(
            "SELECT doc::text AS doc, version FROM files WHERE state = $1
             ORDER BY update_time, file_id LIMIT $2 OFFSET $3",
        )
        .bind(state.as_str())
        .bind(i64::from(limit))
        .bind(sql_offset(offset))
        .fetch_all(&self.pool)
        .await?;
        let files = rows.iter().map(decode_file).collect::<Result<_, _>>()?;
        Ok((as_count(total), files))
    }

    async fn review_whitelisted(&self, project_id: &str) -> Result<bool, CatalogError> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM review_whitelist WHERE project_id = $1)",
        )
        .bind(project_id)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn set_review_whitelisted(&self, project_id: &str, on: bool) -> Result<(), CatalogError> {
        if on {
            sqlx::query(
                "INSERT INTO review_whitelist (project_id, added_at) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
            )
            .bind(project_id)
            .bind(micros(OffsetDateTime::now_utc()))
            .execute(&self.pool)
            .await?;
        } else {
            sqlx::query("DELETE FROM review_whitelist WHERE project_id = $1")
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
             WHERE project_id = $1",
        )
        .bind(project_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(decode_quota).transpose()
    }

    async fn put_quota(&self, quota: &Quota) -> Result<(), CatalogError> {
        let limit = |v: Option<u64>| v.map(|v| i64::try_from(v).unwrap_or(i64::MAX));
        let unlimited = quota.max_bytes.is_none()
            && quota.max_assets.is_none()
            && quota.requests_per_second.is_none();
        let query = if unlimited {
            sqlx::query("DELETE FROM project_quotas WHERE project_id = $1").bind(&quota.project_id)
        } else {
            sqlx::query(
                "INSERT INTO project_quotas (project_id, max_bytes, max_assets,
                     requests_per_second, updated_at) VALUES ($1, $2, $3, $4, $5)
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
            "INSERT INTO webhooks (project_id, url, secret, updated_at) VALUES ($1, $2, $3, $4)
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
        let row = sqlx::query("SELECT project_id, url, secret FROM webhooks WHERE project_id = $1")
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
        let done = sqlx::query("DELETE FROM webhooks WHERE project_id = $1")
            .bind(project_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn record_access(&self, records: &[AccessRecord]) -> Result<(), CatalogError> {
        if records.is_empty() {
            return Ok(());
        }
        let assets = records
            .iter()
            .map(|r| r.asset_id.clone())
            .collect::<Vec<_>>();
        let owners = records
            .iter()
            .map(|r| r.owner_project_id.clone())
            .collect::<Vec<_>>();
        let readers = records
            .iter()
            .map(|r| r.reader_project_id.clone())
            .collect::<Vec<_>>();
        let actions = records.iter().map(|r| r.action.clone()).collect::<Vec<_>>();
        let times = records.iter().map(|r| micros(r.at)).collect::<Vec<_>>();
        sqlx::query(
            "INSERT INTO share_access (asset_id, owner_project_id, reader_project_id, action, at)
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[])",
        )
        .bind(assets)
        .bind(owners)
        .bind(readers)
        .bind(actions)
        .bind(times)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn access_log(
        &self,
        asset_id: &str,
        limit: u32,
        offset: u64,
    ) -> Result<(u64, Vec<AccessRecord>), CatalogError> {
        let total: i64 =
            sqlx::query_scalar("SELECT count(*) FROM share_access WHERE asset_id = $1")
                .bind(asset_id)
                .fetch_one(&self.pool)
                .await?;
        let rows = sqlx::query(
            "SELECT asset_id, owner_project_id, reader_project_id, action, at FROM share_access
             WHERE asset_id = $1 ORDER BY at DESC, id DESC LIMIT $2 OFFSET $3",
        )
        .bind(asset_id)
        .bind(i64::from(limit))
        .bind(sql_offset(offset))
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
        Ok((as_count(total), records))
    }

    async fn claim_job(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        lanes: &[Lane],
    ) -> Result<Option<JobRecord>, CatalogError> {
        // A job of `lanes` whose lease ran out (its worker or node died) first, else the
        // next due one; rows another worker is claiming right now are skipped, not waited for.
        let lanes: Vec<&str> = lanes.iter().map(|l| l.as_str()).collect();
        sqlx::query(
            "UPDATE jobs SET state = 'RUNNING', attempts = attempts + 1, lease_until = $1,
                 worker = $2, updated_at = $3, progress = NULL
             WHERE id = coalesce(
                 (SELECT id FROM jobs WHERE state = 'RUNNING' AND lease_until < $3
                  AND lane = ANY($4) ORDER BY lease_until LIMIT 1 FOR UPDATE SKIP LOCKED),
                 (SELECT id FROM jobs WHERE state = 'QUEUED' AND run_after <= $3
                  AND lane = ANY($4) ORDER BY run_after, id LIMIT 1 FOR UPDATE SKIP LOCKED))
             RETURNING id, kind, payload, attempts, max_attempts, last_error, lane",
        )
        .bind(micros(lease_until))
        .bind(worker)
        .bind(micros(now))
        .bind(&lanes)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(decode_job)
        .transpose()
    }

    async fn heartbeat_job(
        &self,
        id: i64,
        worker: &str,
        lease_until: OffsetDateTime,
    ) -> Result<bool, CatalogError> {
        let done = sqlx::query(
            "UPDATE jobs SET lease_until = $1 WHERE id = $2 AND worker = $3 AND state = 'RUNNING'",
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
                sqlx::query("DELETE FROM jobs WHERE id = $1 AND worker = $2 AND state = 'RUNNING'")
                    .bind(id)
                    .bind(worker)
            }
            JobOutcome::Retry { at, error } => sqlx::query(
                "UPDATE jobs SET state = 'QUEUED', run_after = $3, last_error = $4,
                     lease_until = NULL, worker = NULL, updated_at = $5, progress = NULL
                 WHERE id = $1 AND worker = $2 AND state = 'RUNNING'",
            )
            .bind(id)
            .bind(worker)
            .bind(micros(*at))
            .bind(error)
            .bind(now),
            JobOutcome::Failed { error } => sqlx::query(
                "UPDATE jobs SET state = 'FAILED', last_error = $3, lease_until = NULL,
                     updated_at = $4
                 WHERE id = $1 AND worker = $2 AND state = 'RUNNING'",
            )
            .bind(id)
            .bind(worker)
            .bind(error)
            .bind(now),
        };
        query.execute(&self.pool).await?;
        Ok(())
    }

    async fn claim_period(
        &self,
        name: &str,
        period_start: OffsetDateTime,
    ) -> Result<bool, CatalogError> {
        let done = sqlx::query(
            "INSERT INTO periodic_runs (name, period_start) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET period_start = excluded.period_start
             WHERE periodic_runs.period_start < excluded.period_start",
        )
        .bind(name)
        .bind(micros(period_start))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn start_blob_write(
        &self,
        id: &str,
        key: &str,
        lease_until: OffsetDateTime,
    ) -> Result<(), CatalogError> {
        sqlx::query("INSERT INTO blob_writes (id, key, lease_until) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(key)
            .bind(micros(lease_until))
            .execute(&self.pool)
            .await
            .map_err(map_unique)?;
        Ok(())
    }

    async fn set_blob_upload(&self, id: &str, upload_id: &str) -> Result<bool, CatalogError> {
        let done = sqlx::query("UPDATE blob_writes SET upload_id = $1 WHERE id = $2")
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
        sqlx::query("UPDATE blob_writes SET lease_until = $1 WHERE id = ANY($2)")
            .bind(micros(lease_until))
            .bind(ids)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn end_blob_write(
        &self,
        id: &str,
        expired_before: Option<OffsetDateTime>,
    ) -> Result<bool, CatalogError> {
        let done = sqlx::query("DELETE FROM blob_writes WHERE id = $1 AND lease_until < $2")
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
            "SELECT id, key, upload_id, lease_until FROM blob_writes WHERE lease_until < $1
             ORDER BY lease_until LIMIT $2",
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
        if !storable(key) {
            return Ok(None);
        }
        sqlx::query(&format!("SELECT {BLOB_COLUMNS} FROM blobs WHERE key = $1"))
            .bind(key)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(decode_blob)
            .transpose()
    }

    async fn forget_blob(&self, key: &str) -> Result<bool, CatalogError> {
        let done = sqlx::query("DELETE FROM blobs WHERE key = $1 AND state = 'DELETING'")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn deleting_blobs(&self, limit: u32) -> Result<Vec<String>, CatalogError> {
        Ok(sqlx::query_scalar(
            "SELECT key FROM blobs WHERE state = 'DELETING' ORDER BY updated_at LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn release_unreferenced_blobs(&self, limit: u32) -> Result<Vec<String>, CatalogError> {
        let pool = self.pool.clone();
        detached(async move {
            let mut tx = pool.begin().await?;
            let keys: Vec<String> = sqlx::query_scalar(
                "SELECT key FROM blobs b WHERE state = 'LIVE'
                     AND NOT EXISTS (SELECT 1 FROM files f WHERE f.blob_key = b.key)
                 ORDER BY key LIMIT $1",
            )
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
            let mut released = Vec::new();
            // Each candidate is locked and counted again: a reference may have come meanwhile.
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
        let keys = storable_keys(keys);
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        Ok(sqlx::query_scalar(
            "SELECT key FROM blobs WHERE key = ANY($1)
             UNION SELECT key FROM blob_writes WHERE key = ANY($1)",
        )
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
             WHERE state = 'LIVE' AND (checked_at IS NULL OR checked_at < $1)
             ORDER BY checked_at NULLS FIRST, key LIMIT $2"
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
        sqlx::query("UPDATE blobs SET damage = $1, checked_at = $2 WHERE key = $3")
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
             WHERE b.damage IS NOT NULL ORDER BY b.checked_at NULLS FIRST, f.file_id LIMIT $1",
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
        Ok((as_count(total), files))
    }

    async fn storage_usage(&self) -> Result<StorageUsage, CatalogError> {
        let (blobs, stored): (i64, i64) = sqlx::query_as(
            "SELECT count(*), coalesce(sum(size), 0)::BIGINT FROM blobs WHERE state = 'LIVE'",
        )
        .fetch_one(&self.pool)
        .await?;
        let (files, logical): (i64, i64) = sqlx::query_as(
            "SELECT count(*), coalesce(sum(b.size), 0)::BIGINT
             FROM files f JOIN blobs b ON b.key = f.blob_key",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(StorageUsage {
            blobs: as_count(blobs),
            stored_bytes: as_count(stored),
            files: as_count(files),
            logical_bytes: as_count(logical),
        })
    }

    async fn job_counts(&self) -> Result<JobCounts, CatalogError> {
        let rows = sqlx::query("SELECT state, count(*) AS n FROM jobs GROUP BY state")
            .fetch_all(&self.pool)
            .await?;
        let mut counts = JobCounts::default();
        for row in &rows {
            count_job_state(&mut counts, row)?;
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
        let gone: Option<String> = sqlx::query_scalar(
            "WITH tokens_gone AS (DELETE FROM tokens WHERE access_key = $1)
             DELETE FROM credentials WHERE access_key = $1 RETURNING access_key",
        )
        .bind(access_key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(gone.is_some())
    }

    async fn stats(&self) -> Result<CatalogStats, CatalogError> {
        let mut stats = CatalogStats::default();
        // One snapshot for all three counts.
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?;
        let rows = sqlx::query(
            "SELECT kind, state, count(*) AS n FROM jobs GROUP BY kind, state ORDER BY kind",
        )
        .fetch_all(&mut *tx)
        .await?;
        for row in &rows {
            let kind: String = row.try_get("kind")?;
            if stats.jobs.last().is_none_or(|(k, _)| *k != kind) {
                stats.jobs.push((kind, JobCounts::default()));
            }
            count_job_state(&mut stats.jobs.last_mut().expect("pushed above").1, row)?;
        }
        // The listing totals already count assets by state: no scan of the assets.
        let rows = sqlx::query(
            "SELECT asset_state, sum(n)::int8 AS n FROM asset_counts GROUP BY asset_state
             HAVING sum(n) > 0 ORDER BY asset_state",
        )
        .fetch_all(&mut *tx)
        .await?;
        for row in &rows {
            let state: String = row.try_get("asset_state")?;
            if let Ok(state) = state.parse::<AssetState>() {
                stats.assets.push((state, as_count(row.try_get("n")?)));
            }
        }
        let review: i64 = sqlx::query_scalar("SELECT count(*) FROM files WHERE state = $1")
            .bind(FileState::Review.as_str())
            .fetch_one(&mut *tx)
            .await?;
        stats.review_queue = as_count(review);
        tx.commit().await?;
        Ok(stats)
    }

    async fn set_job_progress(&self, dedup_key: &str, progress: &str) -> Result<(), CatalogError> {
        sqlx::query("UPDATE jobs SET progress = $1 WHERE dedup_key = $2 AND state = 'RUNNING'")
            .bind(progress)
            .bind(dedup_key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn job_status(&self, dedup_key: &str) -> Result<Option<JobStatus>, CatalogError> {
        if !storable(dedup_key) {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT state, attempts, max_attempts, last_error, progress FROM jobs
             WHERE dedup_key = $1 AND state IN ('QUEUED', 'RUNNING')",
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
