//! The blob store: file bytes behind `object_store`, addressed by typed [`BlobKey`]s.
//!
//! Writes go to a temporary key first and are moved to their final key only after the size
//! and MD5 are verified, so a crash at any moment leaves no half-written object at a key a
//! file record points to. Streaming writes hash on a blocking thread while the async side
//! receives and writes, so MD5 — not the pipeline — is the ceiling of an upload.

use std::ops::Range;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use md5::{Digest, Md5};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, GetResult, ObjectStore, WriteMultipart};

use crate::error::Code;

/// Bytes handed to the hasher and the writer at a time.
const BATCH: usize = 1024 * 1024;
/// Part size of the underlying multipart write.
const PART: usize = 8 * 1024 * 1024;
/// Parts in flight at once.
const PARTS_IN_FLIGHT: usize = 4;

/// Where a blob lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobKey {
    /// The committed bytes of a file.
    File(String),
    /// One stored part of a multipart upload.
    Part {
        /// File id.
        file_id: String,
        /// Part number, from 1.
        part: u32,
    },
    /// A write in progress; removed by the sweeper when abandoned.
    Temp(String),
}

impl BlobKey {
    /// A fresh temporary key.
    pub fn temp() -> Self {
        Self::Temp(uuid::Uuid::new_v4().simple().to_string())
    }

    /// The object path.
    pub fn path(&self) -> Path {
        match self {
            Self::File(id) => Path::from(format!("files/{id}")),
            Self::Part { file_id, part } => Path::from(format!("parts/{file_id}/{part:05}")),
            Self::Temp(id) => Path::from(format!("tmp/{id}")),
        }
    }

    /// The string stored in file records.
    pub fn as_string(&self) -> String {
        self.path().to_string()
    }
}

/// What a write must match.
#[derive(Debug, Clone, Copy, Default)]
pub struct Expect {
    /// Exact size in bytes, when known.
    pub size: Option<u64>,
    /// Upper bound in bytes when the exact size is not known (a part of a large file).
    pub max_size: Option<u64>,
    /// MD5 digests the content must have (declared and `Content-MD5`), when known.
    pub md5: [Option<[u8; 16]>; 2],
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Written {
    /// Bytes written.
    pub size: u64,
    /// MD5 of the content.
    pub md5: [u8; 16],
    /// The first bytes, for sniffing.
    pub head: Vec<u8>,
}

/// Why a blob operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// More bytes arrived than declared.
    #[error("received more than the declared {0} bytes")]
    TooLarge(u64),
    /// Fewer bytes arrived than declared.
    #[error("received {got} bytes but {expected} were declared")]
    TooSmall {
        /// Bytes received.
        got: u64,
        /// Bytes declared.
        expected: u64,
    },
    /// The content's MD5 is not the declared one.
    #[error(
        "the content's MD5 is {received} but {declared} was declared (base64 of the 16-byte \
         digest)"
    )]
    Md5Mismatch {
        /// The MD5 the client declared, base64.
        declared: String,
        /// The MD5 of what arrived, base64.
        received: String,
    },
    /// The client's body stream failed.
    #[error("the upload was interrupted: {0}")]
    Body(String),
    /// No object at that key.
    #[error("blob not found")]
    NotFound,
    /// The requested range is outside the object.
    #[error("requested range not satisfiable")]
    Range,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] object_store::Error),
    /// The hashing thread failed.
    #[error("hashing failed: {0}")]
    Hasher(String),
}

impl BlobError {
    /// The MD5 `declared` (by `file_md5` or `Content-MD5`) differs from the `received` one.
    pub fn md5_mismatch(declared: &[u8; 16], received: &[u8; 16]) -> Self {
        use base64::Engine;
        let b64 = |d: &[u8; 16]| base64::engine::general_purpose::STANDARD.encode(d);
        Self::Md5Mismatch {
            declared: b64(declared),
            received: b64(received),
        }
    }

    /// Client-caused failures are upload mismatches; the rest is internal.
    pub fn code(&self) -> Code {
        match self {
            Self::TooLarge(_)
            | Self::TooSmall { .. }
            | Self::Md5Mismatch { .. }
            | Self::Body(_) => Code::UploadMismatch,
            Self::NotFound => Code::FileNotFound,
            Self::Range => Code::InvalidParameter,
            Self::Store(_) | Self::Hasher(_) => Code::Internal,
        }
    }
}

/// Typed access to an object store.
#[derive(Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    /// Root directory when the store is the local filesystem (for sweeping staging files).
    local_root: Option<PathBuf>,
}

impl BlobStore {
    /// A store on the local filesystem under `root`.
    pub fn local(root: &FsPath) -> Result<Self, BlobError> {
        std::fs::create_dir_all(root).map_err(|e| BlobError::Body(e.to_string()))?;
        Ok(Self {
            store: Arc::new(LocalFileSystem::new_with_prefix(root)?),
            local_root: Some(root.to_path_buf()),
        })
    }

    /// A store in memory (tests).
    pub fn memory() -> Self {
        Self {
            store: Arc::new(InMemory::new()),
            local_root: None,
        }
    }

    /// Streams `body` into a temporary object, verifying size and MD5 on the way, and
    /// moves it to `key` only when everything matches. On any failure nothing is left.
    pub async fn put_verified<S, E>(
        &self,
        key: &BlobKey,
        body: S,
        expect: Expect,
    ) -> Result<Written, BlobError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let temp = BlobKey::temp();
        let written = match self.write_temp(&temp, body, expect).await {
            Ok(w) => w,
            Err(e) => {
                self.delete(&temp).await.ok();
                return Err(e);
            }
        };
        if let Err(e) = self.store.rename(&temp.path(), &key.path()).await {
            self.delete(&temp).await.ok();
            return Err(e.into());
        }
        Ok(written)
    }

    async fn write_temp<S, E>(
        &self,
        temp: &BlobKey,
        body: S,
        expect: Expect,
    ) -> Result<Written, BlobError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let upload = self.store.put_multipart(&temp.path()).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(8);
        let hasher = tokio::task::spawn_blocking(move || {
            let mut md5 = Md5::new();
            while let Some(batch) = rx.blocking_recv() {
                md5.update(&batch);
            }
            <[u8; 16]>::from(md5.finalize())
        });
        let mut total: u64 = 0;
        let mut head = Vec::new();
        let mut batch = BytesMut::with_capacity(BATCH);
        let mut body = std::pin::pin!(body);
        let result: Result<(), BlobError> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| BlobError::Body(e.to_string()))?;
                total += chunk.len() as u64;
                if let Some(size) = expect.size.or(expect.max_size).filter(|s| total > *s) {
                    return Err(BlobError::TooLarge(size));
                }
                if head.len() < crate::media::sniff::SNIFF_BYTES {
                    let take = (crate::media::sniff::SNIFF_BYTES - head.len()).min(chunk.len());
                    head.extend_from_slice(&chunk[..take]);
                }
                batch.extend_from_slice(&chunk);
                if batch.len() >= BATCH {
                    flush(&mut batch, &tx, &mut writer).await?;
                }
            }
            flush(&mut batch, &tx, &mut writer).await
        }
        .await;
        drop(tx);
        let md5 = hasher.await.map_err(|e| BlobError::Hasher(e.to_string()))?;
        let checked = result.and_then(|()| {
            if let Some(expected) = expect.size.filter(|s| total != *s) {
                return Err(BlobError::TooSmall {
                    got: total,
                    expected,
                });
            }
            if let Some(declared) = expect.md5.iter().flatten().find(|m| **m != md5) {
                return Err(BlobError::md5_mismatch(declared, &md5));
            }
            Ok(())
        });
        match checked {
            Ok(()) => {
                writer.finish().await?;
                Ok(Written {
                    size: total,
                    md5,
                    head,
                })
            }
            Err(e) => {
                writer.abort().await.ok();
                Err(e)
            }
        }
    }

    /// Concatenates `parts` in order into `key`, returning the total size and MD5.
    pub async fn concat(&self, parts: &[BlobKey], key: &BlobKey) -> Result<Written, BlobError> {
        let (mut tx, rx) = futures::channel::mpsc::channel::<Result<Bytes, object_store::Error>>(4);
        let store = self.store.clone();
        let paths: Vec<Path> = parts.iter().map(BlobKey::path).collect();
        let feeder = tokio::spawn(async move {
            use futures::SinkExt;
            for path in paths {
                let mut stream = match store.get(&path).await {
                    Ok(r) => r.into_stream(),
                    Err(e) => {
                        tx.send(Err(e)).await.ok();
                        return;
                    }
                };
                while let Some(chunk) = stream.next().await {
                    if tx.send(chunk).await.is_err() {
                        return;
                    }
                }
            }
        });
        let written = self.put_verified(key, rx, Expect::default()).await;
        feeder.abort();
        written
    }

    /// Stores the local file at `path` under `key` (verified write).
    pub async fn put_file(&self, key: &BlobKey, path: &FsPath) -> Result<Written, BlobError> {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| BlobError::Body(e.to_string()))?;
        let stream = tokio_util::io::ReaderStream::with_capacity(file, BATCH);
        self.put_verified(key, stream, Expect::default()).await
    }

    /// The local path of `key` when the store is the local filesystem.
    pub fn local_path(&self, key: &BlobKey) -> Option<PathBuf> {
        let root = self.local_root.as_ref()?;
        Some(
            key.path()
                .parts()
                .fold(root.clone(), |p, part| p.join(part.as_ref())),
        )
    }

    /// Copies `key` into the local file `dest` (for stores that are not local).
    pub async fn download_to(&self, key: &BlobKey, dest: &FsPath) -> Result<(), BlobError> {
        use tokio::io::AsyncWriteExt;
        let mut stream = self.get(key, None).await?.into_stream();
        let mut out = tokio::fs::File::create(dest)
            .await
            .map_err(|e| BlobError::Body(e.to_string()))?;
        while let Some(chunk) = stream.next().await {
            out.write_all(&chunk?)
                .await
                .map_err(|e| BlobError::Body(e.to_string()))?;
        }
        out.flush()
            .await
            .map_err(|e| BlobError::Body(e.to_string()))?;
        Ok(())
    }

    /// Reads `key`, whole or a byte range.
    pub async fn get(
        &self,
        key: &BlobKey,
        range: Option<Range<u64>>,
    ) -> Result<GetResult, BlobError> {
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        match self.store.get_opts(&key.path(), options).await {
            Ok(r) => Ok(r),
            Err(object_store::Error::NotFound { .. }) => Err(BlobError::NotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// Size of the object at `key`, or `None` when there is none.
    pub async fn size(&self, key: &BlobKey) -> Result<Option<u64>, BlobError> {
        match self.store.head(&key.path()).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes `key`; removing what is not there succeeds.
    pub async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        match self.store.delete(&key.path()).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes a small temporary object, reads it back and removes it: proves the store is
    /// reachable, writable and readable (the readiness check).
    pub async fn check(&self) -> Result<(), BlobError> {
        let key = BlobKey::temp();
        let probe = Bytes::from_static(b"assetd readiness probe");
        self.store.put(&key.path(), probe.clone().into()).await?;
        let read = async { self.store.get(&key.path()).await?.bytes().await };
        let back = read.await;
        self.delete(&key).await?;
        if back? == probe {
            Ok(())
        } else {
            Err(BlobError::Body(
                "the probe object read back differently".into(),
            ))
        }
    }

    /// Removes every stored part of a multipart upload.
    pub async fn delete_parts(&self, file_id: &str, count: u32) -> Result<(), BlobError> {
        for part in 1..=count {
            self.delete(&BlobKey::Part {
                file_id: file_id.to_owned(),
                part,
            })
            .await?;
        }
        Ok(())
    }

    /// Removes temporary objects (and local staging files) older than `age`; returns how
    /// many were removed.
    pub async fn sweep_temp(&self, age: Duration) -> Result<usize, BlobError> {
        let cutoff = SystemTime::now() - age;
        let mut removed = 0;
        let mut listing = self.store.list(Some(&Path::from("tmp")));
        let mut stale = Vec::new();
        while let Some(meta) = listing.next().await {
            let meta = meta?;
            if SystemTime::from(meta.last_modified) < cutoff {
                stale.push(meta.location);
            }
        }
        for path in stale {
            self.store.delete(&path).await.ok();
            removed += 1;
        }
        // The local store hides in-progress staging files ("name#n") from listings.
        if let Some(root) = &self.local_root {
            let dir = root.join("tmp");
            removed += tokio::task::spawn_blocking(move || remove_old_files(&dir, cutoff))
                .await
                .unwrap_or(0);
        }
        Ok(removed)
    }
}

async fn flush(
    batch: &mut BytesMut,
    tx: &tokio::sync::mpsc::Sender<Bytes>,
    writer: &mut WriteMultipart,
) -> Result<(), BlobError> {
    if batch.is_empty() {
        return Ok(());
    }
    let bytes = batch.split().freeze();
    tx.send(bytes.clone())
        .await
        .map_err(|_| BlobError::Hasher("hasher stopped".into()))?;
    writer.wait_for_capacity(PARTS_IN_FLIGHT).await?;
    writer.put(bytes);
    Ok(())
}

fn remove_old_files(dir: &FsPath, cutoff: SystemTime) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| {
            e.metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t < cutoff)
        })
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(data: &[u8]) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
        let parts: Vec<Result<Bytes, std::io::Error>> = data
            .chunks(7000)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        futures::stream::iter(parts)
    }

    fn md5_of(data: &[u8]) -> [u8; 16] {
        Md5::digest(data).into()
    }

    async fn stores() -> (tempfile::TempDir, Vec<BlobStore>) {
        let dir = tempfile::tempdir().unwrap();
        let local = BlobStore::local(dir.path()).unwrap();
        (dir, vec![local, BlobStore::memory()])
    }

    #[tokio::test]
    async fn a_verified_write_is_readable_at_its_key_and_leaves_no_temp() {
        let (_dir, stores) = stores().await;
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        for store in stores {
            let key = BlobKey::File("f1".into());
            let expect = Expect {
                size: Some(data.len() as u64),
                md5: [Some(md5_of(&data)), None],
                ..Expect::default()
            };
            let written = store
                .put_verified(&key, chunks(&data), expect)
                .await
                .unwrap();
            assert_eq!(written.size, data.len() as u64);
            assert_eq!(written.head.len(), crate::media::sniff::SNIFF_BYTES);
            let back = store.get(&key, None).await.unwrap().bytes().await.unwrap();
            assert_eq!(back.as_ref(), data.as_slice());
            let part = store
                .get(&key, Some(10..20))
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            assert_eq!(part.as_ref(), &data[10..20]);
            let temps: Vec<_> = store.store.list(Some(&Path::from("tmp"))).collect().await;
            assert!(temps.is_empty());
        }
    }

    #[tokio::test]
    async fn a_wrong_md5_or_size_stores_nothing() {
        let (dir, stores) = stores().await;
        let data = vec![7u8; 100_000];
        for store in stores {
            let key = BlobKey::File("bad".into());
            let wrong_md5 = Expect {
                size: Some(data.len() as u64),
                md5: [Some([0; 16]), None],
                ..Expect::default()
            };
            let err = store
                .put_verified(&key, chunks(&data), wrong_md5)
                .await
                .unwrap_err();
            assert!(matches!(err, BlobError::Md5Mismatch { .. }), "{err}");
            let too_small = Expect {
                size: Some(data.len() as u64 + 1),
                ..Expect::default()
            };
            let err = store
                .put_verified(&key, chunks(&data), too_small)
                .await
                .unwrap_err();
            assert!(matches!(err, BlobError::TooSmall { .. }), "{err}");
            let too_large = Expect {
                size: Some(10),
                ..Expect::default()
            };
            let err = store
                .put_verified(&key, chunks(&data), too_large)
                .await
                .unwrap_err();
            assert!(matches!(err, BlobError::TooLarge(10)), "{err}");
            let over_bound = Expect {
                max_size: Some(99_999),
                ..Expect::default()
            };
            let err = store
                .put_verified(&key, chunks(&data), over_bound)
                .await
                .unwrap_err();
            assert!(matches!(err, BlobError::TooLarge(99_999)), "{err}");
            assert_eq!(store.size(&key).await.unwrap(), None);
        }
        let leftovers = std::fs::read_dir(dir.path().join("tmp"))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(leftovers, 0, "no staging files left behind");
    }

    #[tokio::test]
    async fn parts_concatenate_in_order() {
        let store = BlobStore::memory();
        for (i, text) in ["ab", "cd", "e"].iter().enumerate() {
            let key = BlobKey::Part {
                file_id: "f".into(),
                part: i as u32 + 1,
            };
            store
                .put_verified(&key, chunks(text.as_bytes()), Expect::default())
                .await
                .unwrap();
        }
        let parts: Vec<_> = (1..=3)
            .map(|part| BlobKey::Part {
                file_id: "f".into(),
                part,
            })
            .collect();
        let written = store
            .concat(&parts, &BlobKey::File("f".into()))
            .await
            .unwrap();
        assert_eq!(written.size, 5);
        assert_eq!(written.md5, md5_of(b"abcde"));
    }

    #[tokio::test]
    async fn sweeping_removes_only_old_temporary_objects() {
        let (dir, _) = stores().await;
        let store = BlobStore::local(dir.path()).unwrap();
        std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
        std::fs::write(dir.path().join("tmp/abandoned#1"), b"x").unwrap();
        store
            .put_verified(
                &BlobKey::File("keep".into()),
                chunks(b"k"),
                Expect::default(),
            )
            .await
            .unwrap();
        assert_eq!(
            store.sweep_temp(Duration::from_secs(3600)).await.unwrap(),
            0
        );
        assert!(store.sweep_temp(Duration::ZERO).await.unwrap() >= 1);
        assert!(!dir.path().join("tmp/abandoned#1").exists());
        assert_eq!(
            store.size(&BlobKey::File("keep".into())).await.unwrap(),
            Some(1)
        );
    }
}
