//! Where bytes live: content-addressed blobs, kept honest between the catalogue and the blob
//! store.
//!
//! * **Writes.** Every object write is recorded (`blob_writes`) before its first byte and
//!   holds a lease this process renews. New content goes to a fresh key; the [`Stored`] it
//!   yields is recorded by the caller's catalogue `Write` together with the files that refer
//!   to it — which is also where identical content is found and stored once.
//! * **References.** A file refers to one blob (`blob_key`); the catalogue counts references
//!   in the transaction that changes one, and a blob whose last reference goes becomes
//!   DELETING with a `delete_blob` job ([`Storage::delete_blob`]). Bytes are removed only
//!   after the catalogue says nobody needs them.
//! * **Reconciliation.** [`Storage::reconcile`] is the one sweep for every backend: it
//!   finishes what crashed writers and deleters left (expired writes, S3 multipart uploads,
//!   local staging files, DELETING blobs, objects the catalogue does not know).
//! * **Scrubbing.** [`Storage::scrub`] re-reads LIVE blobs and records what is damaged;
//!   downloads of damaged blobs are refused, and a full download is verified as it streams.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::auth::Caller;
use crate::blobs::{BlobError, BlobKey, BlobStore, Expect, UploadLog, Written};
use crate::catalog::{
    BlobRecord, BlobState, Catalog, CatalogError, DamagedFile, StorageUsage, StoredBlob,
};
use crate::error::Code;
use crate::model::FileState;

/// Catalogue rows handled per round of a sweep.
const SWEEP_BATCH: u32 = 200;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// Moving bytes failed (or the bytes did not match).
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// The catalogue failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The stored bytes failed their integrity check; they are not served.
    #[error("the stored content of this file failed its integrity check ({0}); it is withheld until an operator restores it")]
    Damaged(String),
    /// The caller is not an admin.
    #[error("this operation needs admin credentials")]
    NotAdmin,
}

impl StorageError {
    /// The wire code of this failure.
    pub fn code(&self) -> Code {
        match self {
            Self::Blob(e) => e.code(),
            Self::Catalog(e) => e.code(),
            Self::Damaged(_) => Code::ContentDamaged,
            Self::NotAdmin => Code::Forbidden,
        }
    }
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// The ids of the writes this process keeps alive.
#[derive(Default)]
struct Leases(Mutex<HashSet<String>>);

impl Leases {
    fn hold(&self, id: &str) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_owned());
    }

    fn release(&self, id: &str) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }

    fn ids(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}

/// Renews every held lease, one statement per round, until the storage is dropped.
async fn renew_leases(catalog: Arc<dyn Catalog>, leases: Weak<Leases>, lease: Duration) {
    let mut tick = tokio::time::interval(lease / 3);
    loop {
        tick.tick().await;
        let Some(leases) = leases.upgrade() else {
            return;
        };
        let ids = leases.ids();
        drop(leases);
        if let Err(e) = catalog.renew_blob_writes(&ids, now() + lease).await {
            tracing::warn!(error = %e, writes = ids.len(), "could not renew blob write leases");
        }
    }
}

/// Content-addressed storage over the catalogue and the blob store.
pub struct Storage {
    catalog: Arc<dyn Catalog>,
    blobs: BlobStore,
    lease: Duration,
    leases: Arc<Leases>,
}

/// How far a write got, for what dropping its guard must clean up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    /// Bytes may be on their way (an S3 multipart upload, a local staging file).
    Writing,
    /// The object is complete but not yet recorded by a catalogue write.
    Written,
    /// Recorded, or cleaned up: nothing left to do.
    Done,
}

/// One recorded write, alive while this guard is. Dropped before the write is recorded, it
/// removes what the write left (the catalogue record decides, so it is safe at any moment);
/// if the process dies instead, the lease runs out and [`Storage::reconcile`] does the same.
struct WriteGuard {
    id: String,
    key: BlobKey,
    upload_id: Arc<Mutex<Option<String>>>,
    progress: Progress,
    catalog: Arc<dyn Catalog>,
    blobs: BlobStore,
    leases: Arc<Leases>,
}

impl Drop for WriteGuard {
    fn drop(&mut self) {
        self.leases.release(&self.id);
        if self.progress == Progress::Done {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (catalog, blobs, id, key) = (
            self.catalog.clone(),
            self.blobs.clone(),
            self.id.clone(),
            self.key.clone(),
        );
        let upload_id = self
            .upload_id
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let writing = self.progress == Progress::Writing;
        runtime.spawn(async move {
            if writing {
                blobs.abort_upload(&key, upload_id.as_deref()).await.ok();
            }
            clean_write(catalog.as_ref(), &blobs, &id, &key, None).await;
        });
    }
}

/// Forgets write `id` and, if this call was the one to forget it (so nothing recorded the
/// bytes, and nobody else is cleaning up), removes the content object it wrote.
async fn clean_write(
    catalog: &dyn Catalog,
    blobs: &BlobStore,
    id: &str,
    key: &BlobKey,
    expired_before: Option<OffsetDateTime>,
) -> bool {
    match catalog.end_blob_write(id, expired_before).await {
        Ok(true) => {
            // A part key may hold an earlier, complete upload of the same part; only content
            // keys are fresh for every write.
            if matches!(key, BlobKey::Content(_)) {
                if let Err(e) = blobs.delete(key).await {
                    tracing::warn!(blob.key = %key, error = %e, "could not remove an unrecorded blob; the reconciliation sweep will");
                }
            }
            true
        }
        Ok(false) => false,
        Err(e) => {
            tracing::warn!(blob.key = %key, error = %e, "could not end a blob write; its lease will run out");
            false
        }
    }
}

/// Records the multipart upload of one write.
struct WriteLog<'a> {
    catalog: &'a dyn Catalog,
    id: &'a str,
    upload_id: &'a Mutex<Option<String>>,
}

#[async_trait]
impl UploadLog for WriteLog<'_> {
    async fn multipart_started(&self, _: &BlobKey, upload_id: &str) -> Result<(), BlobError> {
        *self.upload_id.lock().unwrap_or_else(|e| e.into_inner()) = Some(upload_id.to_owned());
        match self.catalog.set_blob_upload(self.id, upload_id).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(BlobError::Log(
                "the write's lease ran out before its upload started".into(),
            )),
            Err(e) => Err(BlobError::Log(e.to_string())),
        }
    }
}

/// New content, written and verified, waiting to be recorded: put [`Stored::blob`] in the
/// catalogue `Write` whose files refer to [`Stored::key`]. Dropping it without that write
/// succeeding removes the bytes again.
pub struct Stored {
    /// What the catalogue records.
    pub blob: StoredBlob,
    /// What was written.
    pub written: Written,
    /// Held for its `Drop`: the lease while the bytes wait, the cleanup if they are dropped.
    guard: WriteGuard,
}

impl Stored {
    /// The key files refer to (the catalogue may send them to an identical copy instead).
    pub fn key(&self) -> String {
        self.blob.key.clone()
    }

    /// Tells that a catalogue write recorded the bytes: dropping this no longer checks
    /// whether they need removing.
    pub fn recorded(mut self) {
        self.guard.progress = Progress::Done;
    }

    /// Removes the bytes now, for a caller whose catalogue write failed and that answers only
    /// once they are gone (dropping does the same, but in the background).
    pub async fn discard(mut self) {
        self.guard.progress = Progress::Done;
        let guard = &self.guard;
        clean_write(
            guard.catalog.as_ref(),
            &guard.blobs,
            &guard.id,
            &guard.key,
            None,
        )
        .await;
    }
}

impl std::fmt::Debug for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stored").field("blob", &self.blob).finish()
    }
}

/// Bytes opened for a download.
pub struct Opened {
    /// Size of the whole blob.
    pub total: u64,
    /// The requested bytes; a full read is verified against the blob's digest as it streams,
    /// and ends in an error instead of its last bytes when they do not match.
    pub body: BoxStream<'static, Result<Bytes, BlobError>>,
}

/// What a reconciliation sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Writes whose writer died, cleaned up.
    pub abandoned_writes: usize,
    /// Blobs nobody referred to, released.
    pub released: usize,
    /// DELETING blobs whose bytes were removed.
    pub deleted: usize,
    /// Objects the catalogue did not know, and parts of finished uploads, removed.
    pub orphans: usize,
    /// Local staging files of dead writes, removed.
    pub staging: usize,
}

impl Reconciled {
    /// Whether the sweep changed anything.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// What a scrub pass found.
#[derive(Debug, Clone, Default)]
pub struct Scrubbed {
    /// Blobs verified.
    pub blobs: u64,
    /// Bytes read.
    pub bytes: u64,
    /// (key, what is wrong) of each damaged blob found.
    pub damaged: Vec<(String, String)>,
    /// How long it took.
    pub elapsed: Duration,
}

/// The scrub report of `GET /v1/{p}/admin/scrub`.
#[derive(Debug, Clone)]
pub struct ScrubReport {
    /// Files whose bytes are damaged, in total.
    pub count: u64,
    /// The first of them.
    pub files: Vec<DamagedFile>,
}

impl Storage {
    /// Storage over `catalog` and `blobs`; writes hold leases of `lease` (renewed at a third).
    pub fn new(catalog: Arc<dyn Catalog>, blobs: BlobStore, lease: Duration) -> Self {
        let lease = lease.max(Duration::from_secs(3));
        let leases = Arc::new(Leases::default());
        let (renewing, held) = (catalog.clone(), Arc::downgrade(&leases));
        crate::tasks::supervise("blob write lease renewer".into(), move || {
            renew_leases(renewing.clone(), held.clone(), lease)
        });
        Self {
            catalog,
            blobs,
            lease,
            leases,
        }
    }

    /// The blob store.
    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    async fn begin(&self, key: BlobKey) -> Result<WriteGuard, StorageError> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        self.catalog
            .start_blob_write(&id, &key.as_string(), now() + self.lease)
            .await?;
        self.leases.hold(&id);
        Ok(WriteGuard {
            id,
            key,
            upload_id: Arc::default(),
            progress: Progress::Writing,
            catalog: self.catalog.clone(),
            blobs: self.blobs.clone(),
            leases: self.leases.clone(),
        })
    }

    /// Streams `body` to `key` under a recorded write; the guard says what is left to do.
    async fn write<S, E>(
        &self,
        key: BlobKey,
        body: S,
        expect: Expect,
    ) -> Result<(Written, WriteGuard), StorageError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display + Send,
    {
        let mut guard = self.begin(key).await?;
        let log = WriteLog {
            catalog: self.catalog.as_ref(),
            id: &guard.id,
            upload_id: &guard.upload_id,
        };
        let written = self.blobs.write(&guard.key, body, expect, &log).await;
        // A failed write removed its own partial upload; the guard only forgets the write.
        guard.progress = Progress::Written;
        Ok((written?, guard))
    }

    fn stored(written: Written, mut guard: WriteGuard) -> Stored {
        guard.progress = Progress::Written;
        Stored {
            blob: StoredBlob {
                write_id: guard.id.clone(),
                key: guard.key.as_string(),
                sha256: hex::encode(written.sha256),
                md5: base64::Engine::encode(
                    &base64::engine::general_purpose::STANDARD,
                    written.md5,
                ),
                size: written.size as i64,
            },
            written,
            guard,
        }
    }

    /// Writes `body` as new content, verified against `expect`.
    pub async fn store<S, E>(&self, body: S, expect: Expect) -> Result<Stored, StorageError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display + Send,
    {
        let (written, guard) = self.write(BlobKey::new_content(), body, expect).await?;
        Ok(Self::stored(written, guard))
    }

    /// Writes the local file at `path` as new content.
    pub async fn store_file(&self, path: &std::path::Path) -> Result<Stored, StorageError> {
        let file = tokio::fs::File::open(path).await.map_err(BlobError::from)?;
        let stream = tokio_util::io::ReaderStream::with_capacity(file, 1024 * 1024);
        self.store(stream, Expect::default()).await
    }

    /// Writes the concatenation of `parts` as new content, verified against `expect`.
    pub async fn store_concat(
        &self,
        parts: Vec<BlobKey>,
        expect: Expect,
    ) -> Result<Stored, StorageError> {
        let stream = self.blobs.concat_stream(&parts);
        self.store(stream, expect).await
    }

    /// Writes one part of a client's multipart upload (replacing an earlier upload of it
    /// only when the new bytes verify).
    pub async fn store_part<S, E>(
        &self,
        file_id: &str,
        part: u32,
        body: S,
        expect: Expect,
    ) -> Result<Written, StorageError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display + Send,
    {
        let key = BlobKey::Part {
            file_id: file_id.to_owned(),
            part,
        };
        let (written, mut guard) = self.write(key, body, expect).await?;
        if self.catalog.end_blob_write(&guard.id, None).await? {
            guard.progress = Progress::Done;
        }
        Ok(written)
    }

    /// The blob behind `key` for a download: its size and the requested bytes. A damaged
    /// blob is refused; a missing one is recorded as damaged.
    pub async fn open(&self, key: &str, range: Option<Range<u64>>) -> Result<Opened, StorageError> {
        let record = self
            .catalog
            .blob(key)
            .await?
            .filter(|b| b.state == BlobState::Live)
            .ok_or(BlobError::NotFound)?;
        if let Some(damage) = &record.damage {
            return Err(StorageError::Damaged(damage.clone()));
        }
        let blob_key = BlobKey::parse(key).ok_or(BlobError::NotFound)?;
        let total = u64::try_from(record.size).unwrap_or(0);
        let whole = range.is_none();
        let result = match self.blobs.get(&blob_key, range).await {
            Err(BlobError::NotFound) => {
                self.catalog
                    .record_scrub(key, Some("missing"), now())
                    .await?;
                tracing::error!(blob.key = %key, "a referenced blob is missing; recorded as damaged");
                return Err(StorageError::Damaged("missing".into()));
            }
            other => other?,
        };
        let stream = result.into_stream().map(|r| r.map_err(BlobError::from));
        let body = match (whole, &record.sha256) {
            (true, Some(sha)) => {
                let expected = hex::decode(sha).unwrap_or_default();
                verified(
                    stream.boxed(),
                    expected,
                    total,
                    self.catalog.clone(),
                    key.to_owned(),
                )
            }
            _ => stream.boxed(),
        };
        Ok(Opened { total, body })
    }

    /// Size of a recorded blob.
    pub async fn blob_size(&self, key: &str) -> Result<Option<u64>, StorageError> {
        Ok(self
            .catalog
            .blob(key)
            .await?
            .map(|b| u64::try_from(b.size).unwrap_or(0)))
    }

    /// The `delete_blob` job: removes the bytes of a DELETING blob, then its record. A blob
    /// that is LIVE again cannot be (keys are never reused), so anything else is a no-op.
    pub async fn delete_blob(&self, key: &str) -> Result<bool, StorageError> {
        let Some(record) = self.catalog.blob(key).await? else {
            return Ok(false);
        };
        if record.state != BlobState::Deleting {
            return Ok(false);
        }
        if let Some(blob_key) = BlobKey::parse(key) {
            self.blobs.delete(&blob_key).await?;
        }
        Ok(self.catalog.forget_blob(key).await?)
    }

    /// The reconciliation sweep, the same for every backend: afterwards every object in the
    /// store is a LIVE blob some file refers to, a part of an upload still in progress, or
    /// being written by a live writer.
    pub async fn reconcile(&self) -> Result<Reconciled, StorageError> {
        let mut done = Reconciled::default();
        let started = now();

        // Writes whose writer died: abort the upload first (a live writer whose lease ran
        // out fails instead of completing), then claim the record, then remove the object.
        loop {
            let expired = self
                .catalog
                .expired_blob_writes(started, SWEEP_BATCH)
                .await?;
            if expired.is_empty() {
                break;
            }
            let mut progressed = false;
            for write in &expired {
                let Some(key) = BlobKey::parse(&write.key) else {
                    self.catalog
                        .end_blob_write(&write.id, Some(started))
                        .await?;
                    continue;
                };
                self.blobs
                    .abort_upload(&key, write.upload_id.as_deref())
                    .await?;
                if clean_write(
                    self.catalog.as_ref(),
                    &self.blobs,
                    &write.id,
                    &key,
                    Some(started),
                )
                .await
                {
                    done.abandoned_writes += 1;
                    progressed = true;
                }
            }
            if !progressed {
                break;
            }
        }

        // Blobs nobody refers to (never expected; the catalogue releases them as references
        // go), then every DELETING blob whose job has not removed it yet.
        loop {
            let released = self.catalog.release_unreferenced_blobs(SWEEP_BATCH).await?;
            done.released += released.len();
            if released.len() < SWEEP_BATCH as usize {
                break;
            }
        }
        loop {
            let deleting = self.catalog.deleting_blobs(SWEEP_BATCH).await?;
            let mut progressed = false;
            for key in &deleting {
                if self.delete_blob(key).await? {
                    done.deleted += 1;
                    progressed = true;
                }
            }
            if deleting.len() < SWEEP_BATCH as usize || !progressed {
                break;
            }
        }

        // Objects the catalogue does not know. Every write is recorded before its first byte
        // and forgotten only after its bytes are recorded or removed, so an unknown object is
        // a leftover; the grace only guards against clocks and stores that list lazily.
        let cutoff = SystemTime::now() - self.lease;
        for prefix in ["content", "files"] {
            let mut listing = self.blobs.list(prefix);
            let mut batch = Vec::new();
            loop {
                let next = listing.next().await.transpose()?;
                if let Some((key, changed)) = &next {
                    if *changed < cutoff {
                        batch.push(key.clone());
                    }
                    if batch.len() < SWEEP_BATCH as usize {
                        continue;
                    }
                }
                done.orphans += self.remove_unknown(&batch).await?;
                batch.clear();
                if next.is_none() {
                    break;
                }
            }
        }
        done.orphans += self.remove_finished_parts(cutoff).await?;
        let mut stale = self.blobs.list("tmp");
        while let Some((key, changed)) = stale.next().await.transpose()? {
            // The blob store before content addressing wrote here first.
            if changed < cutoff {
                self.blobs.delete_object(&key).await?;
                done.orphans += 1;
            }
        }

        // Local staging files no recorded write owns.
        let staging = self.blobs.staging_files().await?;
        let keys: Vec<String> = staging.iter().map(|s| s.key.clone()).collect();
        let writing: HashSet<String> = self
            .catalog
            .known_blob_keys(&keys)
            .await?
            .into_iter()
            .collect();
        for file in staging {
            if file.changed < cutoff && !writing.contains(&file.key) {
                self.blobs.remove_staging(&file).await?;
                done.staging += 1;
            }
        }
        Ok(done)
    }

    async fn remove_unknown(&self, keys: &[String]) -> Result<usize, StorageError> {
        if keys.is_empty() {
            return Ok(0);
        }
        let known: HashSet<String> = self
            .catalog
            .known_blob_keys(keys)
            .await?
            .into_iter()
            .collect();
        let mut removed = 0;
        for key in keys.iter().filter(|k| !known.contains(*k)) {
            if let Some(blob_key) = BlobKey::parse(key) {
                tracing::warn!(blob.key = %key, "removing an object the catalogue does not know");
                self.blobs.delete(&blob_key).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Removes stored parts of uploads that are no longer in progress.
    async fn remove_finished_parts(&self, cutoff: SystemTime) -> Result<usize, StorageError> {
        let mut by_file: HashMap<String, Vec<BlobKey>> = HashMap::new();
        let mut listing = self.blobs.list("parts");
        while let Some((key, changed)) = listing.next().await.transpose()? {
            if let Some(BlobKey::Part { file_id, part }) = BlobKey::parse(&key) {
                if changed < cutoff {
                    by_file
                        .entry(file_id.clone())
                        .or_default()
                        .push(BlobKey::Part { file_id, part });
                }
            }
        }
        let mut removed = 0;
        for (file_id, parts) in by_file {
            let uploading = self
                .catalog
                .file(&file_id)
                .await?
                .is_some_and(|f| f.state == FileState::Creating);
            if uploading {
                continue;
            }
            for part in parts {
                self.blobs.delete(&part).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Verifies the LIVE blobs last checked before `before` (all of them when `before` is
    /// now), reading at most `rate` bytes per second (unlimited when 0) and stopping after
    /// `budget`. Records the verdict of each; never deletes anything.
    pub async fn scrub(
        &self,
        before: OffsetDateTime,
        rate: u64,
        budget: Option<Duration>,
    ) -> Result<Scrubbed, StorageError> {
        let started = Instant::now();
        let mut report = Scrubbed::default();
        'pass: loop {
            let due = self.catalog.blobs_to_scrub(before, 64).await?;
            if due.is_empty() {
                break;
            }
            for blob in due {
                if budget.is_some_and(|b| started.elapsed() >= b) {
                    break 'pass;
                }
                let damage = self.verify(&blob, rate, &mut report.bytes, started).await?;
                self.catalog
                    .record_scrub(&blob.key, damage.as_deref(), now())
                    .await?;
                report.blobs += 1;
                if let Some(damage) = damage {
                    tracing::error!(blob.key = %blob.key, damage = %damage, "scrub found a damaged blob");
                    report.damaged.push((blob.key.clone(), damage));
                } else if blob.damage.is_some() {
                    tracing::info!(blob.key = %blob.key, "a blob found damaged earlier verifies again");
                }
            }
        }
        report.elapsed = started.elapsed();
        Ok(report)
    }

    /// Reads one blob and compares it with its record: `Ok(None)` when it matches,
    /// `Ok(Some(what is wrong))` when it does not, `Err` when it could not be read (a
    /// store that is down is not damage). Adds what it read to `bytes`, pacing itself so
    /// that `bytes` stays under `rate` per second since `started`.
    async fn verify(
        &self,
        blob: &BlobRecord,
        rate: u64,
        bytes: &mut u64,
        started: Instant,
    ) -> Result<Option<String>, StorageError> {
        let Some(key) = BlobKey::parse(&blob.key) else {
            return Ok(Some(format!("corrupt: unreadable key {}", blob.key)));
        };
        let mut stream = match self.blobs.get(&key, None).await {
            Ok(r) => r.into_stream(),
            Err(BlobError::NotFound) => return Ok(Some("missing".into())),
            Err(e) => return Err(e.into()),
        };
        let mut sha = Sha256::new();
        let mut md5 = md5::Md5::new();
        let mut size: u64 = 0;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(BlobError::from)?;
            size += chunk.len() as u64;
            *bytes += chunk.len() as u64;
            if blob.sha256.is_some() {
                sha.update(&chunk);
            } else {
                md5.update(&chunk);
            }
            if rate > 0 {
                let due = Duration::from_secs_f64(*bytes as f64 / rate as f64);
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    tokio::time::sleep(wait).await;
                }
            }
        }
        let expected_size = u64::try_from(blob.size).unwrap_or(0);
        if size != expected_size {
            return Ok(Some(format!(
                "corrupt: {size} bytes stored, {expected_size} recorded"
            )));
        }
        let matches = match (&blob.sha256, &blob.md5) {
            (Some(expected), _) => hex::encode(sha.finalize()) == *expected,
            (None, Some(expected)) => {
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, md5.finalize())
                    == *expected
            }
            (None, None) => true,
        };
        Ok((!matches).then(|| "corrupt: content does not match its digest".to_owned()))
    }

    /// Stored and logical bytes (admin only).
    pub async fn usage(&self, caller: &Caller) -> Result<StorageUsage, StorageError> {
        if !caller.is_admin {
            return Err(StorageError::NotAdmin);
        }
        Ok(self.catalog.storage_usage().await?)
    }

    /// Files whose bytes the scrubber found damaged (admin only).
    pub async fn scrub_report(
        &self,
        caller: &Caller,
        limit: u32,
    ) -> Result<ScrubReport, StorageError> {
        if !caller.is_admin {
            return Err(StorageError::NotAdmin);
        }
        let (count, files) = self.catalog.damaged_files(limit).await?;
        Ok(ScrubReport { count, files })
    }
}

/// Streams `inner` while hashing it, holding each chunk back until the next one arrives; at
/// the end the last chunk goes out only if the SHA-256 and size match, otherwise the stream
/// ends in an error (the client sees a broken download, never complete wrong bytes) and the
/// blob is recorded as damaged.
fn verified(
    inner: BoxStream<'static, Result<Bytes, BlobError>>,
    expected: Vec<u8>,
    total: u64,
    catalog: Arc<dyn Catalog>,
    key: String,
) -> BoxStream<'static, Result<Bytes, BlobError>> {
    struct State {
        inner: BoxStream<'static, Result<Bytes, BlobError>>,
        sha: Sha256,
        size: u64,
        held: Option<Bytes>,
        finished: bool,
    }
    let state = State {
        inner,
        sha: Sha256::new(),
        size: 0,
        held: None,
        finished: false,
    };
    futures::stream::unfold(state, move |mut state| {
        let (expected, catalog, key) = (expected.clone(), catalog.clone(), key.clone());
        async move {
            if state.finished {
                return None;
            }
            loop {
                match state.inner.next().await {
                    Some(Ok(chunk)) => {
                        state.sha.update(&chunk);
                        state.size += chunk.len() as u64;
                        if let Some(previous) = state.held.replace(chunk) {
                            return Some((Ok(previous), state));
                        }
                    }
                    Some(Err(e)) => {
                        state.finished = true;
                        return Some((Err(e), state));
                    }
                    None => {
                        state.finished = true;
                        let digest = std::mem::take(&mut state.sha).finalize();
                        if digest.as_slice() == expected.as_slice() && state.size == total {
                            return state.held.take().map(|last| (Ok(last), state));
                        }
                        let damage = "corrupt: content does not match its digest";
                        tracing::error!(blob.key = %key, "a download found a damaged blob; recorded, and the download broken off");
                        catalog.record_scrub(&key, Some(damage), now()).await.ok();
                        let error = BlobError::Body(format!("stored content {damage}"));
                        return Some((Err(error), state));
                    }
                }
            }
        }
    })
    .boxed()
}
