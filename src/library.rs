//! `assetd library copy`: moves a whole library (catalogue and blobs) from the backends the
//! settings select to others — SQLite + local disk to PostgreSQL + S3 and back — then
//! proves the destination identical.
//!
//! The destination must be empty (a fresh database and an empty bucket or prefix, `assetd
//! migrate` allowed) or hold an earlier, interrupted copy of the same library: a library's
//! identity is its `library-id` server secret, created here on first copy and copied first.
//! Anything else is refused before a single row is written.
//!
//! A copy is resumable because every step is idempotent: rows are upserted by primary key
//! in batches of one transaction each, and a blob is skipped when the destination already
//! holds an object of its size (the verification reads it anyway). Running the same copy
//! again continues where the last one stopped and ends identical. Nodes must not serve
//! either side meanwhile: a copy is a snapshot of a library at rest.

use std::collections::HashMap;

use anyhow::{bail, Context};
use futures::{StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use md5::{Digest, Md5};

use crate::blobs::{BlobKey, BlobStore, Expect, NoLog};
use crate::catalog::rows::{Rows, Table, Value};

/// The secret naming a library; equal on a library and its copies.
const LIBRARY_ID: &str = "library-id";
/// Mismatches listed before the rest are only counted.
const MISMATCHES_SHOWN: usize = 20;

/// One side of a copy.
#[derive(Debug, Clone)]
pub struct Location {
    /// Catalogue URL (`sqlite://FILE`, `postgres://…`).
    pub database_url: String,
    /// Blob store URL (`s3://BUCKET[/PREFIX]` or a directory).
    pub blob_url: String,
}

/// What a copy did and what its verification found.
#[derive(Debug, Default)]
pub struct Report {
    /// Tables copied.
    pub tables: usize,
    /// Rows in the source, all tables together.
    pub rows: u64,
    /// Rows this run wrote (the rest were there, identical, from an earlier run).
    pub rows_written: u64,
    /// Blobs in the source.
    pub blobs: u64,
    /// Their bytes.
    pub blob_bytes: u64,
    /// Blobs this run wrote (the rest were there from an earlier run).
    pub blobs_written: u64,
    /// Rows whose values were compared equal.
    pub rows_verified: u64,
    /// Blobs whose MD5 was compared equal.
    pub blobs_verified: u64,
    /// What differs, at most [`MISMATCHES_SHOWN`] of it.
    pub mismatches: Vec<String>,
    /// How many differences there are in all.
    pub mismatch_count: u64,
}

impl Report {
    fn mismatch(&mut self, what: String) {
        self.mismatch_count += 1;
        if self.mismatches.len() < MISMATCHES_SHOWN {
            self.mismatches.push(what);
        }
    }

    /// The summary `library copy` prints.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "copied {} tables: {} records ({} written by this run), {} blobs of {} bytes \
             ({} written by this run)\nverified {} of {} records and the MD5 of {} of {} blobs\n",
            self.tables,
            self.rows,
            self.rows_written,
            self.blobs,
            self.blob_bytes,
            self.blobs_written,
            self.rows_verified,
            self.rows,
            self.blobs_verified,
            self.blobs,
        );
        if self.mismatch_count == 0 {
            out.push_str("the destination is identical to the source\n");
        } else {
            out.push_str(&format!("MISMATCHES ({}):\n", self.mismatch_count));
            for m in &self.mismatches {
                out.push_str(&format!("  {m}\n"));
            }
        }
        out
    }
}

/// Copies the library at `from` to `to` (batches of `batch` rows) and verifies it; see the
/// module docs for what `to` may be. Mismatches are in the report, not an error.
pub async fn copy(from: &Location, to: &Location, batch: usize) -> anyhow::Result<Report> {
    if from.database_url == to.database_url || from.blob_url == to.blob_url {
        bail!("the destination must be another catalogue and another blob store than the source");
    }
    // Opening migrates both (and refuses a schema newer than this assetd knows), so both
    // sides have the same tables.
    let source_catalog = crate::catalog::open(&from.database_url)
        .await
        .context("opening the source catalogue")?;
    let fresh: [u8; 16] = rand::random();
    let library_id = source_catalog
        .server_secret(LIBRARY_ID, &fresh)
        .await
        .context("reading the source library's identity")?;
    drop(source_catalog);
    if let Some(file) = to.database_url.strip_prefix("sqlite://") {
        if let Some(dir) = std::path::Path::new(file).parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating directory {}", dir.display()))?;
        }
    }
    let destination_catalog = crate::catalog::open(&to.database_url)
        .await
        .context("opening the destination catalogue")?;
    drop(destination_catalog);
    let src = Rows::connect(&from.database_url).await?;
    let dst = Rows::connect(&to.database_url).await?;
    let src_blobs = BlobStore::open(&from.blob_url)
        .await
        .context("opening the source blob store")?;
    let dst_blobs = BlobStore::open(&to.blob_url)
        .await
        .context("opening the destination blob store")?;

    let tables = paired_tables(&src, &dst).await?;
    check_destination(&dst, &tables, &dst_blobs, &library_id).await?;
    mark_destination(&src, &dst, &tables).await?;

    let mut report = Report {
        tables: tables.len(),
        ..Report::default()
    };
    copy_rows(&src, &dst, &tables, batch, &mut report).await?;
    let keys = copy_blobs(&src_blobs, &dst_blobs, &mut report).await?;
    verify_rows(&src, &dst, &tables, batch, &mut report).await?;
    verify_blobs(&src_blobs, &dst_blobs, &keys, &mut report).await?;
    Ok(report)
}

/// Each source table with the destination's twin, columns in the source's order.
async fn paired_tables(src: &Rows, dst: &Rows) -> anyhow::Result<Vec<(Table, Table)>> {
    let theirs = dst.tables().await?;
    let mut pairs = Vec::new();
    for table in src.tables().await? {
        let twin = theirs
            .iter()
            .find(|t| t.name == table.name)
            .with_context(|| format!("the destination has no table {}", table.name))?;
        let twin = twin
            .aligned_with(&table)
            .map_err(|e| anyhow::anyhow!("the two schemas differ: {e}"))?;
        pairs.push((table, twin));
    }
    if let Some(extra) = theirs
        .iter()
        .find(|t| !pairs.iter().any(|(s, _)| s.name == t.name))
    {
        bail!(
            "the two schemas differ: the source has no table {}",
            extra.name
        );
    }
    Ok(pairs)
}

/// Refuses a destination that is neither empty nor a copy of this library.
async fn check_destination(
    dst: &Rows,
    tables: &[(Table, Table)],
    dst_blobs: &BlobStore,
    library_id: &[u8],
) -> anyhow::Result<()> {
    let mut holding = None;
    for (_, table) in tables {
        if dst.count(table).await? > 0 {
            holding = Some(table.name.clone());
            break;
        }
    }
    let Some(holding) = holding else {
        if let Some(object) = dst_blobs.list("").next().await {
            let (key, _) = object?;
            bail!(
                "the destination blob store {} is not empty (it holds {key}); copy into an \
                 empty bucket or prefix",
                dst_blobs.url()
            );
        }
        return Ok(());
    };
    let secrets = tables
        .iter()
        .find(|(s, _)| s.name == "server_secrets")
        .map(|(_, d)| d)
        .context("the catalogue has no server_secrets table")?;
    let found = dst
        .lookup(secrets, &[vec![Value::Text(LIBRARY_ID.to_owned())]])
        .await?;
    let same = found.iter().any(|row| {
        secrets
            .columns
            .iter()
            .zip(row)
            .any(|(c, v)| c.name == "value" && *v == Value::Bytes(library_id.to_vec()))
    });
    if !same {
        bail!(
            "the destination catalogue already holds another library (table {holding} has \
             rows); copy into an empty database, or into an earlier copy of this same library \
             to resume it"
        );
    }
    tracing::info!("the destination holds an earlier copy of this library; resuming");
    Ok(())
}

/// Writes the library's identity before any other row, so that a copy killed after its
/// first batch is recognised as this library's when run again.
async fn mark_destination(src: &Rows, dst: &Rows, tables: &[(Table, Table)]) -> anyhow::Result<()> {
    let (secrets, twin) = tables
        .iter()
        .find(|(s, _)| s.name == "server_secrets")
        .context("the catalogue has no server_secrets table")?;
    let identity = src
        .lookup(secrets, &[vec![Value::Text(LIBRARY_ID.to_owned())]])
        .await?;
    dst.upsert(twin, &identity)
        .await
        .context("writing the library's identity to the destination")?;
    Ok(())
}

fn bar(len: u64, what: &str) -> ProgressBar {
    ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr())
        .with_style(
            ProgressStyle::with_template(
                "{msg:>8} {bar:40.cyan/blue} {pos:>9}/{len:9} {per_sec:>12}",
            )
            .expect("the template is valid"),
        )
        .with_message(what.to_owned())
}

async fn copy_rows(
    src: &Rows,
    dst: &Rows,
    tables: &[(Table, Table)],
    batch: usize,
    report: &mut Report,
) -> anyhow::Result<()> {
    let mut total = 0;
    for (table, _) in tables {
        total += src.count(table).await?;
    }
    report.rows = total;
    let progress = bar(total, "records");
    for (table, twin) in tables {
        let mut after: Option<Vec<Value>> = None;
        loop {
            let rows = src.read(table, after.as_deref(), batch).await?;
            let Some(last) = rows.last() else { break };
            after = Some(table.key_of(last));
            // Rows already there and equal are left alone, so a resumed copy writes only
            // what is missing or different.
            let keys: Vec<_> = rows.iter().map(|r| table.key_of(r)).collect();
            let present: HashMap<_, _> = dst
                .lookup(twin, &keys)
                .await?
                .into_iter()
                .map(|row| (key_string(&twin.key_of(&row)), row))
                .collect();
            let missing: Vec<Vec<Value>> = rows
                .iter()
                .filter(|row| {
                    present
                        .get(&key_string(&table.key_of(row)))
                        .is_none_or(|theirs| !table.same_row(twin, row, theirs))
                })
                .cloned()
                .collect();
            dst.upsert(twin, &missing)
                .await
                .with_context(|| format!("writing table {}", table.name))?;
            report.rows_written += missing.len() as u64;
            progress.inc(rows.len() as u64);
            tracing::debug!(table = %table.name, rows = rows.len(), written = missing.len(), "copied a batch");
        }
        dst.finish(twin).await?;
        tracing::debug!(table = %table.name, "table copied");
    }
    progress.finish();
    Ok(())
}

/// A key as a map key (values have no `Eq`: floats).
fn key_string(key: &[Value]) -> String {
    format!("{key:?}")
}

/// Copies every object of the source store that the destination lacks; returns the keys.
async fn copy_blobs(
    src: &BlobStore,
    dst: &BlobStore,
    report: &mut Report,
) -> anyhow::Result<Vec<(BlobKey, u64)>> {
    let mut keys = Vec::new();
    let mut listing = src.list("");
    while let Some(object) = listing.next().await {
        let (key, _) = object?;
        let Some(parsed) = BlobKey::parse(&key) else {
            bail!("the source blob store holds {key}, which is no blob key of assetd's");
        };
        let size = src
            .size(&parsed)
            .await?
            .with_context(|| format!("blob {key} vanished from the source"))?;
        keys.push((parsed, size));
    }
    report.blobs = keys.len() as u64;
    report.blob_bytes = keys.iter().map(|(_, s)| s).sum();
    let progress = bar(report.blobs, "blobs");
    for (key, size) in &keys {
        if dst.size(key).await? != Some(*size) {
            let body = src.get(key, None).await?.into_stream();
            let expect = Expect {
                size: Some(*size),
                ..Expect::default()
            };
            dst.write(key, body, expect, &NoLog)
                .await
                .with_context(|| format!("copying blob {key}"))?;
            report.blobs_written += 1;
        }
        progress.inc(1);
    }
    progress.finish();
    tracing::info!(blobs = keys.len(), "blobs copied");
    Ok(keys)
}

async fn verify_rows(
    src: &Rows,
    dst: &Rows,
    tables: &[(Table, Table)],
    batch: usize,
    report: &mut Report,
) -> anyhow::Result<()> {
    let progress = bar(report.rows, "verify");
    for (table, twin) in tables {
        let mut after: Option<Vec<Value>> = None;
        loop {
            let rows = src.read(table, after.as_deref(), batch).await?;
            let Some(last) = rows.last() else { break };
            after = Some(table.key_of(last));
            let keys: Vec<_> = rows.iter().map(|r| table.key_of(r)).collect();
            let theirs: HashMap<_, _> = dst
                .lookup(twin, &keys)
                .await?
                .into_iter()
                .map(|row| (key_string(&twin.key_of(&row)), row))
                .collect();
            for row in &rows {
                let key = table.key_of(row);
                match theirs.get(&key_string(&key)) {
                    Some(other) if table.same_row(twin, row, other) => report.rows_verified += 1,
                    Some(_) => report.mismatch(format!("{} {key:?} differs", table.name)),
                    None => report.mismatch(format!("{} {key:?} is missing", table.name)),
                }
            }
            progress.inc(rows.len() as u64);
        }
        let (ours, theirs) = (src.count(table).await?, dst.count(twin).await?);
        if theirs != ours {
            report.mismatch(format!(
                "{} has {theirs} rows in the destination and {ours} in the source",
                table.name
            ));
        }
    }
    progress.finish();
    Ok(())
}

async fn verify_blobs(
    src: &BlobStore,
    dst: &BlobStore,
    keys: &[(BlobKey, u64)],
    report: &mut Report,
) -> anyhow::Result<()> {
    let progress = bar(keys.len() as u64, "MD5");
    for (key, size) in keys {
        let ours = md5_of(src, key).await?;
        match md5_of_optional(dst, key).await? {
            Some((md5, got)) if md5 == ours.0 && got == *size => report.blobs_verified += 1,
            Some((md5, got)) => report.mismatch(format!(
                "blob {key}: {got} bytes with MD5 {} in the destination, {size} bytes with \
                 MD5 {} in the source",
                hex(&md5),
                hex(&ours.0)
            )),
            None => report.mismatch(format!("blob {key} is missing")),
        }
        progress.inc(1);
    }
    let extra = dst.list("").try_collect::<Vec<_>>().await?.len();
    if extra != keys.len() {
        report.mismatch(format!(
            "the destination blob store holds {extra} objects, the source {}",
            keys.len()
        ));
    }
    progress.finish();
    Ok(())
}

async fn md5_of(store: &BlobStore, key: &BlobKey) -> anyhow::Result<([u8; 16], u64)> {
    md5_of_optional(store, key)
        .await?
        .with_context(|| format!("blob {key} vanished from the source"))
}

/// MD5 and size of the object at `key`, read whole; `None` when there is none.
async fn md5_of_optional(
    store: &BlobStore,
    key: &BlobKey,
) -> anyhow::Result<Option<([u8; 16], u64)>> {
    let got = match store.get(key, None).await {
        Ok(got) => got,
        Err(crate::blobs::BlobError::NotFound) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut stream = got.into_stream();
    let mut md5 = Md5::new();
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        size += chunk.len() as u64;
        md5.update(&chunk);
    }
    Ok(Some((md5.finalize().into(), size)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
