//! The blob store: file bytes behind `object_store` — a local directory, any S3-compatible
//! store (AWS, Garage, MinIO, …) or memory — addressed by typed [`BlobKey`]s.
//!
//! A write streams the body once: the bytes go to the store while blocking threads compute
//! MD5 and SHA-256 of the same batches, and the object becomes visible at its key only when
//! size and digests match what was expected (a local staging file is renamed; an S3
//! multipart upload is completed). A multipart upload is reported to an [`UploadLog`] before
//! any of its bytes are sent, so one interrupted by a crash can be found and aborted: S3 does
//! not list such uploads. Which key holds which content, and who refers to it, is the
//! catalogue's business (see `service::storage`); this module only moves bytes.

use std::ops::Range;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt, TryStreamExt};
use md5::{Digest, Md5};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::{
    ClientOptions, GetOptions, GetRange, GetResult, ObjectStore, PutPayload, RetryConfig,
    WriteMultipart,
};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::error::Code;

/// Bytes handed to the hashers and the writer at a time.
const BATCH: usize = 1024 * 1024;
/// Batches waiting for the hashers at most.
const HASH_QUEUE: usize = 4;
/// Part size of a local write (the staging file is written part by part).
const LOCAL_PART: usize = 2 * 1024 * 1024;
/// Part size of an S3 multipart upload (at least 5 MiB, except for the last part).
const S3_PART: usize = 8 * 1024 * 1024;
/// Parts in flight at once.
const PARTS_IN_FLIGHT: usize = 3;
/// Longest time one part upload may take before the write fails.
const PART_TIMEOUT: Duration = Duration::from_secs(300);

/// Where a blob lives, relative to the store's root (or its prefix).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BlobKey {
    /// Content, stored once however many files hold it: `content/<2 hex>/<32 hex>`. The name
    /// is fresh for every write and never reused; the catalogue maps SHA-256 to it.
    Content(String),
    /// One stored part of a client's multipart (large-file) upload, until it is assembled.
    Part {
        /// File id.
        file_id: String,
        /// Part number, from 1.
        part: u32,
    },
    /// Bytes stored before content addressing, at `files/<file_id>`.
    Legacy(String),
}

impl BlobKey {
    /// A fresh content key.
    pub fn new_content() -> Self {
        Self::Content(uuid::Uuid::new_v4().simple().to_string())
    }

    /// The object path below the store's root.
    pub fn path(&self) -> Path {
        Path::from(self.as_string())
    }

    /// The string stored in catalogue records.
    pub fn as_string(&self) -> String {
        match self {
            Self::Content(id) => format!("content/{}/{id}", &id[..2.min(id.len())]),
            Self::Part { file_id, part } => format!("parts/{file_id}/{part:05}"),
            Self::Legacy(id) => format!("files/{id}"),
        }
    }

    /// Parses a key written by [`Self::as_string`].
    pub fn parse(key: &str) -> Option<Self> {
        let parts: Vec<&str> = key.split('/').collect();
        match parts.as_slice() {
            ["content", fan, id] if id.len() > 2 && id.starts_with(fan) && fan.len() == 2 => {
                Some(Self::Content((*id).to_owned()))
            }
            ["parts", file_id, part] if !file_id.is_empty() => Some(Self::Part {
                file_id: (*file_id).to_owned(),
                part: part.parse().ok()?,
            }),
            ["files", id] if !id.is_empty() => Some(Self::Legacy((*id).to_owned())),
            _ => None,
        }
    }
}

impl std::fmt::Display for BlobKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.as_string())
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
    /// SHA-256 of the content: its address.
    pub sha256: [u8; 32],
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
    /// A blob URL or its settings are unusable.
    #[error("blob store: {0}")]
    Config(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] object_store::Error),
    /// A local file operation failed.
    #[error("local blob file: {0}")]
    Io(#[from] std::io::Error),
    /// The upload log (the catalogue) could not record a multipart upload.
    #[error("recording the upload: {0}")]
    Log(String),
    /// A hashing thread failed.
    #[error("hashing failed: {0}")]
    Hasher(String),
}

impl BlobError {
    /// The MD5 `declared` (by `file_md5` or `Content-MD5`) differs from the `received` one.
    pub fn md5_mismatch(declared: &[u8; 16], received: &[u8; 16]) -> Self {
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
            Self::Config(_) | Self::Store(_) | Self::Io(_) | Self::Log(_) | Self::Hasher(_) => {
                Code::Internal
            }
        }
    }
}

fn b64(digest: &[u8]) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, digest)
}

/// Told about every multipart upload before any of its bytes are sent, so that one
/// interrupted by a crash can be aborted later ([`BlobStore::abort_upload`]).
#[async_trait]
pub trait UploadLog: Send + Sync {
    /// Records that `upload_id` is writing `key`.
    async fn multipart_started(&self, key: &BlobKey, upload_id: &str) -> Result<(), BlobError>;
}

/// An [`UploadLog`] for writes nobody needs to clean up after (tests).
pub struct NoLog;

#[async_trait]
impl UploadLog for NoLog {
    async fn multipart_started(&self, _: &BlobKey, _: &str) -> Result<(), BlobError> {
        Ok(())
    }
}

/// S3 settings from the standard `AWS_*` variables.
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// `AWS_ENDPOINT_URL`: a custom endpoint (Garage, MinIO, …), addressed path-style.
    pub endpoint: Option<String>,
    /// `AWS_REGION` (or `AWS_DEFAULT_REGION`), `us-east-1` when neither is set.
    pub region: String,
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: SecretString,
    /// `AWS_SESSION_TOKEN`, for temporary credentials.
    pub session_token: Option<SecretString>,
    /// `AWS_ALLOW_HTTP=true` permits a plain-HTTP endpoint (a store on loopback).
    pub allow_http: bool,
}

impl S3Settings {
    /// Reads the settings through `var` (`std::env::var` in production). Keys must be given
    /// explicitly: without them the S3 client would ask the cloud instance-metadata address
    /// for credentials, which assetd never contacts.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, BlobError> {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let (Some(access_key_id), Some(secret)) =
            (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY"))
        else {
            return Err(BlobError::Config(
                "an s3:// blob store needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; \
                 assetd never asks the cloud instance-metadata service for credentials"
                    .into(),
            ));
        };
        let allow_http = match var("AWS_ALLOW_HTTP")
            .as_deref()
            .map(str::to_ascii_lowercase)
        {
            None => false,
            Some(v) if v == "true" || v == "1" => true,
            Some(v) if v == "false" || v == "0" => false,
            Some(v) => {
                return Err(BlobError::Config(format!(
                    "AWS_ALLOW_HTTP must be true or false, not {v:?}"
                )))
            }
        };
        let endpoint = var("AWS_ENDPOINT_URL").map(|e| e.trim_end_matches('/').to_owned());
        if let Some(endpoint) = &endpoint {
            if endpoint.starts_with("http://") && !allow_http {
                return Err(BlobError::Config(format!(
                    "AWS_ENDPOINT_URL {endpoint} is plain HTTP; set AWS_ALLOW_HTTP=true to allow it"
                )));
            }
        }
        Ok(Self {
            endpoint,
            region: var("AWS_REGION")
                .or_else(|| var("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| "us-east-1".to_owned()),
            access_key_id,
            secret_access_key: SecretString::from(secret),
            session_token: var("AWS_SESSION_TOKEN").map(SecretString::from),
            allow_http,
        })
    }
}

/// Typed access to an object store.
#[derive(Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    /// The same store's multipart API, when it has one the write path can track (S3, memory).
    multipart: Option<Arc<dyn MultipartStore>>,
    /// Root directory when the store is the local filesystem.
    local_root: Option<PathBuf>,
    /// Prefix of every key inside the bucket (S3 only).
    prefix: Option<Path>,
    /// The URL the store was opened from, for messages.
    url: String,
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStore").field("url", &self.url).finish()
    }
}

impl BlobStore {
    /// Opens the store named by `url`: `s3://BUCKET[/PREFIX]` (settings from the `AWS_*`
    /// variables), `file:///DIR` or a plain directory path, or `memory:` (tests). An S3
    /// store is probed once, so wrong credentials or an unreachable endpoint fail here.
    pub async fn open(url: &str) -> Result<Self, BlobError> {
        if let Some(rest) = url.strip_prefix("s3://") {
            let settings = S3Settings::from_vars(|name| std::env::var(name).ok())?;
            return Self::s3(rest, &settings).await;
        }
        if url == "memory:" {
            return Ok(Self::memory());
        }
        let dir = url.strip_prefix("file://").unwrap_or(url);
        if dir.is_empty() || dir.contains("://") {
            return Err(BlobError::Config(format!(
                "unsupported blob URL {url:?}: use s3://BUCKET[/PREFIX] or a directory"
            )));
        }
        Self::local(FsPath::new(dir))
    }

    /// A store on the local filesystem under `root`.
    pub fn local(root: &FsPath) -> Result<Self, BlobError> {
        std::fs::create_dir_all(root)?;
        Ok(Self {
            store: Arc::new(LocalFileSystem::new_with_prefix(root)?),
            multipart: None,
            local_root: Some(root.to_path_buf()),
            prefix: None,
            url: root.display().to_string(),
        })
    }

    /// A store in memory (tests).
    pub fn memory() -> Self {
        let store = Arc::new(InMemory::new());
        Self {
            store: store.clone(),
            multipart: Some(store),
            local_root: None,
            prefix: None,
            url: "memory:".into(),
        }
    }

    /// An S3 bucket; `bucket_and_prefix` is `BUCKET[/PREFIX]`.
    pub async fn s3(bucket_and_prefix: &str, settings: &S3Settings) -> Result<Self, BlobError> {
        let (bucket, prefix) = match bucket_and_prefix.split_once('/') {
            Some((bucket, prefix)) => (bucket, prefix.trim_matches('/')),
            None => (bucket_and_prefix, ""),
        };
        if bucket.is_empty() {
            return Err(BlobError::Config("s3:// URL without a bucket".into()));
        }
        // No overall request timeout: it would also cut long downloads, which stream for as
        // long as the client reads. Parts get their own timeout (PART_TIMEOUT).
        let client = ClientOptions::new()
            .with_allow_http(settings.allow_http)
            .with_timeout_disabled()
            .with_connect_timeout(Duration::from_secs(10));
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(&settings.region)
            .with_access_key_id(&settings.access_key_id)
            .with_secret_access_key(settings.secret_access_key.expose_secret())
            .with_client_options(client)
            .with_retry(RetryConfig {
                max_retries: 5,
                retry_timeout: Duration::from_secs(60),
                ..RetryConfig::default()
            });
        if let Some(token) = &settings.session_token {
            builder = builder.with_token(token.expose_secret());
        }
        builder = match &settings.endpoint {
            Some(endpoint) => builder
                .with_endpoint(endpoint)
                .with_virtual_hosted_style_request(false),
            None => builder.with_virtual_hosted_style_request(true),
        };
        let s3 = Arc::new(builder.build()?);
        let blobs = Self {
            store: s3.clone(),
            multipart: Some(s3),
            local_root: None,
            prefix: (!prefix.is_empty()).then(|| Path::from(prefix)),
            url: format!("s3://{bucket_and_prefix}"),
        };
        blobs.probe().await?;
        Ok(blobs)
    }

    /// Asks the store for an object that does not exist: "not found" means the endpoint,
    /// the credentials and the bucket are all right.
    async fn probe(&self) -> Result<(), BlobError> {
        let probe = self.full_path(&Path::from(".assetd-probe"));
        match self.store.head(&probe).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(BlobError::Config(format!(
                "cannot reach the blob store {}: {e}",
                self.url
            ))),
        }
    }

    /// The URL the store was opened from.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn full_path(&self, relative: &Path) -> Path {
        match &self.prefix {
            Some(prefix) => prefix.parts().chain(relative.parts()).collect(),
            None => relative.clone(),
        }
    }

    fn object_path(&self, key: &BlobKey) -> Path {
        self.full_path(&key.path())
    }

    /// Streams `body` to `key`, verifying size and MD5 on the way; the object appears at
    /// `key` only when everything matches. On failure nothing is left at `key` (what an
    /// earlier write put there stays) and the partial upload is removed.
    pub async fn write<S, E>(
        &self,
        key: &BlobKey,
        body: S,
        expect: Expect,
        log: &dyn UploadLog,
    ) -> Result<Written, BlobError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let (hashers, to_hashers) = Hashers::spawn();
        let mut sink = match &self.multipart {
            Some(multipart) => Sink::Tracked(Tracked::new(
                self.store.clone(),
                multipart.clone(),
                self.object_path(key),
            )),
            None => {
                let upload = self.store.put_multipart(&self.object_path(key)).await?;
                Sink::Local(WriteMultipart::new_with_chunk_size(upload, LOCAL_PART))
            }
        };
        let mut total: u64 = 0;
        let mut head = Vec::new();
        let mut batch = BytesMut::new();
        let mut body = std::pin::pin!(body);
        let streamed: Result<(), BlobError> = async {
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
                if batch.is_empty() && chunk.len() >= BATCH {
                    sink.put(chunk.clone(), &to_hashers, key, log).await?;
                    continue;
                }
                if batch.capacity() == 0 {
                    batch.reserve(BATCH);
                }
                batch.extend_from_slice(&chunk);
                if batch.len() >= BATCH {
                    sink.put(batch.split().freeze(), &to_hashers, key, log)
                        .await?;
                }
            }
            if !batch.is_empty() {
                sink.put(batch.split().freeze(), &to_hashers, key, log)
                    .await?;
            }
            Ok(())
        }
        .await;
        drop(to_hashers);
        let digests = hashers.finish().await;
        let checked = streamed.and_then(|()| {
            let (md5, sha256) = digests?;
            if let Some(expected) = expect.size.filter(|s| total != *s) {
                return Err(BlobError::TooSmall {
                    got: total,
                    expected,
                });
            }
            if let Some(declared) = expect.md5.iter().flatten().find(|m| **m != md5) {
                return Err(BlobError::md5_mismatch(declared, &md5));
            }
            Ok(Written {
                size: total,
                md5,
                sha256,
                head,
            })
        });
        match checked {
            Ok(written) => {
                sink.finish().await?;
                self.sync_local(key).await?;
                Ok(written)
            }
            Err(e) => {
                sink.abort().await;
                Err(e)
            }
        }
    }

    /// Makes a local write durable: the file's bytes and its directory entry are on disk
    /// before the catalogue records that the blob exists.
    async fn sync_local(&self, key: &BlobKey) -> Result<(), BlobError> {
        let Some(path) = self.local_path(key) else {
            return Ok(());
        };
        tokio::task::spawn_blocking(move || {
            std::fs::File::open(&path)?.sync_all()?;
            if let Some(dir) = path.parent() {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok::<_, std::io::Error>(())
        })
        .await
        .map_err(|e| BlobError::Hasher(e.to_string()))??;
        Ok(())
    }

    /// The concatenation of `parts`, in order, as one stream.
    pub fn concat_stream(
        &self,
        parts: &[BlobKey],
    ) -> BoxStream<'static, Result<Bytes, object_store::Error>> {
        let store = self.store.clone();
        let paths: Vec<Path> = parts.iter().map(|p| self.object_path(p)).collect();
        futures::stream::iter(paths)
            .then(move |path| {
                let store = store.clone();
                async move { store.get(&path).await.map(GetResult::into_stream) }
            })
            .try_flatten()
            .boxed()
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
        let mut out = tokio::fs::File::create(dest).await?;
        while let Some(chunk) = stream.next().await {
            out.write_all(&chunk?).await?;
        }
        out.flush().await?;
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
        match self.store.get_opts(&self.object_path(key), options).await {
            Ok(r) => Ok(r),
            Err(object_store::Error::NotFound { .. }) => Err(BlobError::NotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// Size of the object at `key`, or `None` when there is none.
    pub async fn size(&self, key: &BlobKey) -> Result<Option<u64>, BlobError> {
        match self.store.head(&self.object_path(key)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes `key`; removing what is not there succeeds.
    pub async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        match self.store.delete(&self.object_path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes the object at `relative` (a key as [`Self::list`] returns it), whatever it is.
    pub async fn delete_object(&self, relative: &str) -> Result<(), BlobError> {
        match self
            .store
            .delete(&self.full_path(&Path::from(relative)))
            .await
        {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes a small temporary object, reads it back and removes it: proves the store is
    /// reachable, writable and readable (the readiness check).
    pub async fn check(&self) -> Result<(), BlobError> {
        // Under `tmp/`, which the reconciliation sweep empties of anything older than a lease.
        let name = format!("tmp/probe-{}", uuid::Uuid::new_v4().simple());
        let path = self.full_path(&Path::from(name));
        let probe = Bytes::from_static(b"assetd readiness probe");
        self.store.put(&path, probe.clone().into()).await?;
        let read = async { self.store.get(&path).await?.bytes().await };
        let back = read.await;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
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

    /// Cleans up after a write that never finished: aborts its multipart upload (when one was
    /// recorded) and removes local staging files. The object at `key` itself is left alone.
    pub async fn abort_upload(
        &self,
        key: &BlobKey,
        upload_id: Option<&str>,
    ) -> Result<(), BlobError> {
        if let (Some(multipart), Some(id)) = (&self.multipart, upload_id) {
            match multipart
                .abort_multipart(&self.object_path(key), &id.to_owned())
                .await
            {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                // Garage answers "NoSuchUpload" (404) for an upload that is already gone;
                // other stores may answer other codes for it, which retrying cannot fix.
                Err(e) => tracing::debug!(blob.key = %key, error = %e, "aborting an upload"),
            }
        }
        if let Some(path) = self.local_path(key) {
            tokio::task::spawn_blocking(move || remove_staging_files(&path))
                .await
                .map_err(|e| BlobError::Hasher(e.to_string()))?;
        }
        Ok(())
    }

    /// Every object whose key starts with `prefix` (`content`, `parts`, …): its key relative
    /// to the store and when it was last written. Writes in progress are not listed.
    pub fn list(
        &self,
        prefix: &str,
    ) -> BoxStream<'static, Result<(String, SystemTime), BlobError>> {
        let full = self.full_path(&Path::from(prefix));
        let strip = self.prefix.as_ref().map_or(0, |p| p.parts().count());
        self.store
            .list(Some(&full))
            .map(move |meta| {
                let meta = meta?;
                let key = meta
                    .location
                    .parts()
                    .skip(strip)
                    .map(|p| p.as_ref().to_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                Ok((key, SystemTime::from(meta.last_modified)))
            })
            .boxed()
    }

    /// Local staging files (`<key>#<n>`: writes in progress, or left by a crashed process)
    /// with the key each is for and when it last changed. Other stores have none: their
    /// unfinished writes are multipart uploads ([`Self::abort_upload`]).
    pub async fn staging_files(&self) -> Result<Vec<Staging>, BlobError> {
        let Some(root) = self.local_root.clone() else {
            return Ok(Vec::new());
        };
        tokio::task::spawn_blocking(move || {
            let mut found = Vec::new();
            let mut dirs = vec![root.clone()];
            while let Some(dir) = dirs.pop() {
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    continue;
                };
                for entry in entries.flatten() {
                    let path = entry.path();
                    match entry.file_type() {
                        Ok(t) if t.is_dir() => dirs.push(path),
                        Ok(_) => {
                            let Ok(relative) = path.strip_prefix(&root) else {
                                continue;
                            };
                            let relative = relative.to_string_lossy().replace('\\', "/");
                            let Some((key, _)) = relative.rsplit_once('#') else {
                                continue;
                            };
                            let changed = entry
                                .metadata()
                                .and_then(|m| m.modified())
                                .unwrap_or(SystemTime::UNIX_EPOCH);
                            found.push(Staging {
                                key: key.to_owned(),
                                path,
                                changed,
                            });
                        }
                        Err(_) => {}
                    }
                }
            }
            found
        })
        .await
        .map_err(|e| BlobError::Hasher(e.to_string()))
    }

    /// Removes a staging file found by [`Self::staging_files`].
    pub async fn remove_staging(&self, staging: &Staging) -> Result<(), BlobError> {
        match tokio::fs::remove_file(&staging.path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// A local staging file.
#[derive(Debug, Clone)]
pub struct Staging {
    /// The key it would become.
    pub key: String,
    /// Where it is.
    pub path: PathBuf,
    /// When it last changed.
    pub changed: SystemTime,
}

/// Removes the staging files of `dest` (`<dest>#<n>`, how the local store writes).
fn remove_staging_files(dest: &FsPath) {
    let (Some(dir), Some(name)) = (dest.parent(), dest.file_name()) else {
        return;
    };
    let staging = format!("{}#", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&staging) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// MD5 and SHA-256 of the same batches, each on a blocking thread of its own, so hashing
/// runs beside the network and disk work instead of after it.
struct Hashers {
    md5: tokio::task::JoinHandle<[u8; 16]>,
    sha256: tokio::task::JoinHandle<[u8; 32]>,
}

/// Where batches for the hashers go.
struct ToHashers {
    md5: tokio::sync::mpsc::Sender<Bytes>,
    sha256: tokio::sync::mpsc::Sender<Bytes>,
}

impl ToHashers {
    async fn send(&self, batch: &Bytes) -> Result<(), BlobError> {
        let stopped = |_| BlobError::Hasher("a hashing thread stopped".into());
        self.md5.send(batch.clone()).await.map_err(stopped)?;
        self.sha256.send(batch.clone()).await.map_err(stopped)
    }
}

impl Hashers {
    fn spawn() -> (Self, ToHashers) {
        let (md5_tx, mut md5_rx) = tokio::sync::mpsc::channel::<Bytes>(HASH_QUEUE);
        let (sha_tx, mut sha_rx) = tokio::sync::mpsc::channel::<Bytes>(HASH_QUEUE);
        let md5 = tokio::task::spawn_blocking(move || {
            let mut md5 = Md5::new();
            while let Some(batch) = md5_rx.blocking_recv() {
                md5.update(&batch);
            }
            <[u8; 16]>::from(md5.finalize())
        });
        let sha256 = tokio::task::spawn_blocking(move || {
            let mut sha = Sha256::new();
            while let Some(batch) = sha_rx.blocking_recv() {
                sha.update(&batch);
            }
            <[u8; 32]>::from(sha.finalize())
        });
        (
            Self { md5, sha256 },
            ToHashers {
                md5: md5_tx,
                sha256: sha_tx,
            },
        )
    }

    async fn finish(self) -> Result<([u8; 16], [u8; 32]), BlobError> {
        let failed = |e: tokio::task::JoinError| BlobError::Hasher(e.to_string());
        Ok((
            self.md5.await.map_err(failed)?,
            self.sha256.await.map_err(failed)?,
        ))
    }
}

/// Where the bytes of a write go.
enum Sink {
    /// The local filesystem: a staging file renamed into place by `finish`.
    Local(WriteMultipart),
    /// A store with a multipart API whose upload ids the write reports.
    Tracked(Tracked),
}

impl Sink {
    /// Hands `batch` to the hashers and the store, waiting while the store is busy.
    async fn put(
        &mut self,
        batch: Bytes,
        hashers: &ToHashers,
        key: &BlobKey,
        log: &dyn UploadLog,
    ) -> Result<(), BlobError> {
        hashers.send(&batch).await?;
        match self {
            Self::Local(writer) => {
                writer.wait_for_capacity(PARTS_IN_FLIGHT).await?;
                writer.put(batch);
                Ok(())
            }
            Self::Tracked(tracked) => tracked.put(batch, key, log).await,
        }
    }

    async fn finish(self) -> Result<(), BlobError> {
        match self {
            Self::Local(writer) => {
                writer.finish().await?;
            }
            Self::Tracked(tracked) => tracked.finish().await?,
        }
        Ok(())
    }

    async fn abort(self) {
        match self {
            Self::Local(writer) => {
                writer.abort().await.ok();
            }
            Self::Tracked(tracked) => tracked.abort().await,
        }
    }
}

/// A write through a [`MultipartStore`]: bodies smaller than one part become one plain PUT;
/// larger ones a multipart upload whose id is logged before its first part is sent.
struct Tracked {
    store: Arc<dyn ObjectStore>,
    multipart: Arc<dyn MultipartStore>,
    path: Path,
    /// The part being filled.
    pending: Vec<Bytes>,
    pending_len: usize,
    /// The multipart upload, once one was started.
    upload_id: Option<String>,
    /// Parts sent or being sent, by index.
    parts: tokio::task::JoinSet<Result<(usize, PartId), BlobError>>,
    done: Vec<(usize, PartId)>,
    next_part: usize,
}

impl Tracked {
    fn new(store: Arc<dyn ObjectStore>, multipart: Arc<dyn MultipartStore>, path: Path) -> Self {
        Self {
            store,
            multipart,
            path,
            pending: Vec::new(),
            pending_len: 0,
            upload_id: None,
            parts: tokio::task::JoinSet::new(),
            done: Vec::new(),
            next_part: 0,
        }
    }

    async fn put(
        &mut self,
        batch: Bytes,
        key: &BlobKey,
        log: &dyn UploadLog,
    ) -> Result<(), BlobError> {
        self.pending_len += batch.len();
        self.pending.push(batch);
        if self.pending_len < S3_PART {
            return Ok(());
        }
        if self.upload_id.is_none() {
            let id = self.multipart.create_multipart(&self.path).await?;
            // Recorded before any byte is sent: an upload the log does not know holds nothing.
            if let Err(e) = log.multipart_started(key, &id).await {
                self.multipart.abort_multipart(&self.path, &id).await.ok();
                return Err(e);
            }
            self.upload_id = Some(id);
        }
        while self.parts.len() >= PARTS_IN_FLIGHT {
            self.join_one().await?;
        }
        self.send_pending();
        Ok(())
    }

    fn send_pending(&mut self) {
        let payload: PutPayload = std::mem::take(&mut self.pending).into_iter().collect();
        self.pending_len = 0;
        let (multipart, path) = (self.multipart.clone(), self.path.clone());
        let id = self.upload_id.clone().unwrap_or_default();
        let index = self.next_part;
        self.next_part += 1;
        self.parts.spawn(async move {
            let sent =
                tokio::time::timeout(PART_TIMEOUT, multipart.put_part(&path, &id, index, payload))
                    .await
                    .map_err(|_| {
                        BlobError::Body(format!("part {index} took longer than {PART_TIMEOUT:?}"))
                    })?;
            Ok((index, sent?))
        });
    }

    async fn join_one(&mut self) -> Result<(), BlobError> {
        if let Some(joined) = self.parts.join_next().await {
            let part =
                joined.map_err(|e| BlobError::Hasher(format!("part upload task: {e}")))??;
            self.done.push(part);
        }
        Ok(())
    }

    async fn finish(mut self) -> Result<(), BlobError> {
        let Some(id) = self.upload_id.clone() else {
            let payload: PutPayload = std::mem::take(&mut self.pending).into_iter().collect();
            self.store.put(&self.path, payload).await?;
            return Ok(());
        };
        if !self.pending.is_empty() {
            self.send_pending();
        }
        let result = async {
            while !self.parts.is_empty() {
                self.join_one().await?;
            }
            self.done.sort_by_key(|(index, _)| *index);
            let parts = self.done.drain(..).map(|(_, part)| part).collect();
            self.multipart
                .complete_multipart(&self.path, &id, parts)
                .await?;
            Ok::<_, BlobError>(())
        }
        .await;
        if result.is_err() {
            self.multipart.abort_multipart(&self.path, &id).await.ok();
        }
        result
    }

    async fn abort(mut self) {
        self.parts.shutdown().await;
        if let Some(id) = &self.upload_id {
            self.multipart.abort_multipart(&self.path, id).await.ok();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

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

    fn stores() -> (tempfile::TempDir, Vec<BlobStore>) {
        let dir = tempfile::tempdir().unwrap();
        let local = BlobStore::local(dir.path()).unwrap();
        (dir, vec![local, BlobStore::memory()])
    }

    /// Remembers what it was told.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<(String, String)>>);

    #[async_trait]
    impl UploadLog for Recorder {
        async fn multipart_started(&self, key: &BlobKey, id: &str) -> Result<(), BlobError> {
            self.0
                .lock()
                .unwrap()
                .push((key.as_string(), id.to_owned()));
            Ok(())
        }
    }

    #[test]
    fn keys_round_trip_through_their_strings() {
        for key in [
            BlobKey::new_content(),
            BlobKey::Part {
                file_id: "f".into(),
                part: 12,
            },
            BlobKey::Legacy("abc".into()),
        ] {
            assert_eq!(BlobKey::parse(&key.as_string()), Some(key.clone()));
        }
        assert_eq!(BlobKey::parse("content/zz/abcdef"), None);
        assert_eq!(BlobKey::parse("tmp/x"), None);
    }

    #[tokio::test]
    async fn a_verified_write_is_readable_at_its_key_and_reports_both_digests() {
        let (_dir, stores) = stores();
        // Larger than one S3 part, so the memory store goes through a tracked multipart upload.
        let data: Vec<u8> = (0..(S3_PART as u32 * 2 + 12_345))
            .map(|i| (i % 251) as u8)
            .collect();
        for store in stores {
            let key = BlobKey::new_content();
            let expect = Expect {
                size: Some(data.len() as u64),
                md5: [Some(md5_of(&data)), None],
                ..Expect::default()
            };
            let log = Recorder::default();
            let written = store
                .write(&key, chunks(&data), expect, &log)
                .await
                .unwrap();
            assert_eq!(written.size, data.len() as u64);
            assert_eq!(written.sha256, <[u8; 32]>::from(Sha256::digest(&data)));
            assert_eq!(written.head.len(), crate::media::sniff::SNIFF_BYTES);
            let back = store.get(&key, None).await.unwrap().bytes().await.unwrap();
            assert!(back.as_ref() == data.as_slice());
            let part = store.get(&key, Some(10..20)).await.unwrap().bytes().await;
            assert_eq!(part.unwrap().as_ref(), &data[10..20]);
            let logged = log.0.lock().unwrap().clone();
            if store.multipart.is_some() {
                assert_eq!(logged.len(), 1, "one multipart upload, logged");
                assert_eq!(logged[0].0, key.as_string());
            } else {
                assert!(logged.is_empty(), "local writes need no upload id");
            }
        }
    }

    #[tokio::test]
    async fn a_wrong_md5_or_size_stores_nothing() {
        let (_dir, stores) = stores();
        let data = vec![7u8; 100_000];
        for store in stores {
            let key = BlobKey::new_content();
            let wrong_md5 = Expect {
                size: Some(data.len() as u64),
                md5: [Some([0; 16]), None],
                ..Expect::default()
            };
            let err = store
                .write(&key, chunks(&data), wrong_md5, &NoLog)
                .await
                .unwrap_err();
            assert!(
                matches!(&err, BlobError::Md5Mismatch { declared, received }
                    if *declared == b64(&[0; 16]) && *received == b64(&md5_of(&data))),
                "{err}"
            );
            let too_small = Expect {
                size: Some(data.len() as u64 + 1),
                ..Expect::default()
            };
            let err = store
                .write(&key, chunks(&data), too_small, &NoLog)
                .await
                .unwrap_err();
            assert!(matches!(err, BlobError::TooSmall { .. }), "{err}");
            let too_large = Expect {
                size: Some(10),
                ..Expect::default()
            };
            let err = store
                .write(&key, chunks(&data), too_large, &NoLog)
                .await
                .unwrap_err();
            assert!(matches!(err, BlobError::TooLarge(10)), "{err}");
            let over_bound = Expect {
                max_size: Some(99_999),
                ..Expect::default()
            };
            let err = store
                .write(&key, chunks(&data), over_bound, &NoLog)
                .await
                .unwrap_err();
            assert!(matches!(err, BlobError::TooLarge(99_999)), "{err}");
            assert_eq!(store.size(&key).await.unwrap(), None);
            let listed: Vec<_> = store.list("content").collect().await;
            assert!(listed.is_empty(), "{listed:?}");
            let staging = store.staging_files().await.unwrap();
            assert!(
                staging.is_empty(),
                "no staging files left behind: {staging:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_failed_rewrite_keeps_what_was_there() {
        let (_dir, stores) = stores();
        for store in stores {
            let key = BlobKey::Part {
                file_id: "f".into(),
                part: 1,
            };
            store
                .write(&key, chunks(b"first"), Expect::default(), &NoLog)
                .await
                .unwrap();
            let wrong = Expect {
                md5: [Some([1; 16]), None],
                ..Expect::default()
            };
            store
                .write(&key, chunks(b"second"), wrong, &NoLog)
                .await
                .unwrap_err();
            let back = store.get(&key, None).await.unwrap().bytes().await.unwrap();
            assert_eq!(back.as_ref(), b"first");
        }
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
                .write(&key, chunks(text.as_bytes()), Expect::default(), &NoLog)
                .await
                .unwrap();
        }
        let parts: Vec<_> = (1..=3)
            .map(|part| BlobKey::Part {
                file_id: "f".into(),
                part,
            })
            .collect();
        let key = BlobKey::new_content();
        let written = store
            .write(&key, store.concat_stream(&parts), Expect::default(), &NoLog)
            .await
            .unwrap();
        assert_eq!(written.size, 5);
        assert_eq!(written.md5, md5_of(b"abcde"));
        let listed: Vec<String> = store.list("parts").map(|r| r.unwrap().0).collect().await;
        assert_eq!(listed.len(), 3);
        assert!(listed.contains(&"parts/f/00002".to_owned()));
    }

    #[tokio::test]
    async fn an_aborted_multipart_upload_leaves_nothing_behind() {
        let store = BlobStore::memory();
        let key = BlobKey::new_content();
        let multipart = store.multipart.clone().unwrap();
        let id = multipart
            .create_multipart(&store.object_path(&key))
            .await
            .unwrap();
        multipart
            .put_part(&store.object_path(&key), &id, 0, vec![1u8; 10].into())
            .await
            .unwrap();
        store.abort_upload(&key, Some(&id)).await.unwrap();
        assert!(multipart
            .complete_multipart(&store.object_path(&key), &id, Vec::new())
            .await
            .is_err());
        assert_eq!(store.size(&key).await.unwrap(), None);
    }

    #[tokio::test]
    async fn local_staging_files_are_found_with_their_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::local(dir.path()).unwrap();
        std::fs::create_dir_all(dir.path().join("content/ab")).unwrap();
        std::fs::write(dir.path().join("content/ab/abcd#1"), b"x").unwrap();
        let key = BlobKey::new_content();
        store
            .write(&key, chunks(b"k"), Expect::default(), &NoLog)
            .await
            .unwrap();
        let staging = store.staging_files().await.unwrap();
        assert_eq!(staging.len(), 1, "{staging:?}");
        assert_eq!(staging[0].key, "content/ab/abcd");
        store.remove_staging(&staging[0]).await.unwrap();
        assert!(!dir.path().join("content/ab/abcd#1").exists());
        assert_eq!(store.size(&key).await.unwrap(), Some(1));
        store
            .abort_upload(&BlobKey::Content("abcd".into()), None)
            .await
            .unwrap();
    }

    #[test]
    fn s3_settings_need_explicit_keys_and_say_so() {
        let none = |_: &str| None;
        let err = S3Settings::from_vars(none).unwrap_err().to_string();
        assert!(err.contains("AWS_ACCESS_KEY_ID"), "{err}");
        assert!(err.contains("instance-metadata"), "{err}");

        let vars = |extra: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                [
                    ("AWS_ACCESS_KEY_ID", "GK1"),
                    ("AWS_SECRET_ACCESS_KEY", "secret"),
                ]
                .iter()
                .chain(extra)
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
            }
        };
        let plain = S3Settings::from_vars(vars(&[])).unwrap();
        assert_eq!(plain.region, "us-east-1");
        assert!(plain.endpoint.is_none() && !plain.allow_http);

        let err = S3Settings::from_vars(vars(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:3900")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("AWS_ALLOW_HTTP"), "{err}");

        let garage = S3Settings::from_vars(vars(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:3900/"),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_REGION", "garage"),
        ]))
        .unwrap();
        assert_eq!(garage.endpoint.as_deref(), Some("http://127.0.0.1:3900"));
        assert_eq!(garage.region, "garage");
        assert!(garage.allow_http);
    }

    #[tokio::test]
    async fn unsupported_blob_urls_are_refused_clearly() {
        let err = BlobStore::open("ftp://x").await.unwrap_err().to_string();
        assert!(err.contains("unsupported blob URL"), "{err}");
    }
}
