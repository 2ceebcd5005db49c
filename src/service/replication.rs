//! Replication between libraries (`show_asset_replication_info`,
//! `create_asset_by_replication_info`).
//!
//! The source library seals a manifest of the asset — its metadata, and every file with its
//! size, MD5 and a signed download URL — with AES-256-GCM under a key the libraries share
//! (`replication_keys`). The envelope (`asset_id`, `key_id`, `expire_time`) is bound to the
//! ciphertext as associated data, so changing any of it fails decryption like changing the
//! ciphertext does. The receiving library decrypts, checks the expiry, fetches every file
//! over HTTP (verified size and MD5, bounded in time), and creates the asset with all its
//! files in one catalogue write: a failure at any point leaves nothing visible.
//!
//! Trust: only a holder of a shared key can make replication info, so the URLs inside are as
//! trusted as the key. They must still point at the `/downloads/` of the library that made
//! the info (its public URL is in the manifest), and no redirect is followed; unlike webhook
//! targets, loopback and private addresses are allowed, because libraries replicating
//! between each other commonly sit on one private network.

use std::sync::Arc;
use std::time::Duration;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use futures::{StreamExt, TryStreamExt};
use rand::RngCore;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::sync::Notify;

use super::assets::{review_passed, AssetError, Assets};
use super::auth::Caller;
use super::links::Links;
use crate::blobs::{BlobError, Expect, Written};
use crate::catalog::{
    Asset, Catalog, CatalogError, Derived, FileRecord, Job, ProjectUsage, QuotaExceeded, Write,
};
use crate::config::ReplicationKeyList;
use crate::error::Code;
use crate::media::sniff;
use crate::model::files::{decode_md5, MAX_LARGE_FILE_SIZE};
use crate::model::ValidationError;
use crate::model::{AssetState, CreateAssetBody, FileCategory, FileState, TranscodingStatus};
use crate::service::storage::{Storage, StorageError, Stored};

/// The only `encryption_info.algorithm` there is.
pub const ALGORITHM: &str = "AES-256-GCM";
/// Files of one asset fetched at once.
const PARALLEL_FETCHES: usize = 3;

/// Why replication was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplicationError {
    /// This library holds no replication key.
    #[error(
        "this library has no replication key; configure replication_keys (ASSETD_REPLICATION_KEYS)"
    )]
    NoKeys,
    /// A field is missing or malformed.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The info names a key this library does not hold.
    #[error("replication key {0:?} is not configured on this library")]
    UnknownKey(String),
    /// The info does not decrypt (or is not replication info).
    #[error("asset_info does not decrypt under key {0:?}: it was changed, or its asset_id, key_id, expire_time or iv were")]
    Tampered(String),
    /// The info is too old.
    #[error(
        "the replication info expired at {0} (Unix seconds); ask the source library for new info"
    )]
    Expired(i64),
    /// The asset cannot be replicated in its state.
    #[error(
        "only ACTIVED, UNACTIVED and WAITING_DELETE assets can be replicated; this one is {0}"
    )]
    NotReplicable(AssetState),
    /// The asset is unknown to the caller.
    #[error("asset {0} not found")]
    AssetNotFound(String),
    /// A file could not be fetched intact.
    #[error("fetching file {file} from the source library failed: {reason}")]
    Fetch {
        /// The file's name.
        file: String,
        /// What went wrong.
        reason: String,
    },
    /// The asset broke a rule of `create_digital_asset` here (e.g. an admin-only type).
    #[error(transparent)]
    Asset(#[from] AssetError),
    /// The catalogue failed (or a quota refused the asset).
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The blob store failed.
    #[error(transparent)]
    Blob(BlobError),
}

impl ReplicationError {
    /// The wire code of this failure.
    pub fn code(&self) -> Code {
        match self {
            Self::NoKeys | Self::Invalid(_) | Self::NotReplicable(_) => Code::InvalidParameter,
            Self::UnknownKey(_) => Code::ReplicationKeyUnknown,
            Self::Tampered(_) => Code::ReplicationInfoInvalid,
            Self::Expired(_) => Code::ReplicationInfoExpired,
            Self::AssetNotFound(_) => Code::AssetNotFound,
            Self::Fetch { .. } => Code::ReplicationFetchFailed,
            Self::Asset(e) => e.code(),
            Self::Catalog(e) => e.code(),
            Self::Blob(e) => e.code(),
        }
    }
}

fn invalid(field: &str, rule: &str) -> ReplicationError {
    ReplicationError::Invalid(ValidationError::new(field, rule))
}

/// Replication info as the SDK carries it (`ReplicationAssetInfo`); every field is optional
/// on the wire and checked here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplicationInfo {
    /// The source asset.
    pub asset_id: Option<String>,
    /// Base64 of the sealed manifest (ciphertext and GCM tag).
    pub asset_info: Option<String>,
    /// `AES-256-GCM`.
    pub algorithm: Option<String>,
    /// Which shared key sealed it.
    pub key_id: Option<String>,
    /// Base64 of the 12-byte GCM nonce.
    pub iv: Option<String>,
    /// Unix seconds after which the info is refused.
    pub expire_time: Option<i64>,
}

/// The shared keys, decoded.
pub struct ReplicationKeys {
    keys: Vec<(String, Key<Aes256Gcm>)>,
    sealing: Option<usize>,
}

impl ReplicationKeys {
    /// Decodes `list`; `sealing` names the key that encrypts (default: the first).
    pub fn new(list: &ReplicationKeyList, sealing: Option<&str>) -> anyhow::Result<Self> {
        let mut keys = Vec::new();
        for (id, key) in &list.0 {
            anyhow::ensure!(
                !id.is_empty() && !id.contains([',', '=']) && !id.contains(char::is_whitespace),
                "replication key id {id:?} must be non-empty, without ',', '=' or spaces"
            );
            let bytes = B64
                .decode(key.expose_secret().trim())
                .ok()
                .filter(|b| b.len() == 32)
                .ok_or_else(|| {
                    anyhow::anyhow!("replication key {id:?} must be base64 of exactly 32 bytes")
                })?;
            anyhow::ensure!(
                keys.iter().all(|(known, _)| known != id),
                "replication key id {id:?} is given twice"
            );
            keys.push((id.clone(), *Key::<Aes256Gcm>::from_slice(&bytes)));
        }
        let sealing = match sealing {
            Some(id) => Some(keys.iter().position(|(k, _)| k == id).ok_or_else(|| {
                anyhow::anyhow!("replication_key_id {id:?} is not among replication_keys")
            })?),
            None => (!keys.is_empty()).then_some(0),
        };
        Ok(Self { keys, sealing })
    }

    fn get(&self, id: &str) -> Option<&Key<Aes256Gcm>> {
        self.keys.iter().find(|(k, _)| k == id).map(|(_, key)| key)
    }
}

/// A new random key as `ID=BASE64` (`assetd replication-key create`).
pub fn new_key(id: Option<&str>) -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let id = match id {
        Some(id) => id.to_owned(),
        None => {
            let mut tag = [0u8; 4];
            rand::thread_rng().fill_bytes(&mut tag);
            format!("k{}", hex::encode(tag))
        }
    };
    let line = format!("{id}={}", B64.encode(bytes));
    // The same checks a server applies when it loads the key.
    ReplicationKeys::new(&ReplicationKeyList::parse(&line)?, None)?;
    Ok(line)
}

/// What the envelope binds to the ciphertext.
fn associated_data(asset_id: &str, key_id: &str, expire_time: i64) -> Vec<u8> {
    format!("assetd replication v1\n{asset_id}\n{key_id}\n{expire_time}").into_bytes()
}

/// The sealed content of replication info.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Manifest {
    /// Format version.
    v: u32,
    /// Public URL of the library that made it; every file URL is under it.
    source: String,
    /// The source asset.
    asset_id: String,
    /// Same as the envelope's.
    expire_time: i64,
    /// The asset as a `create_digital_asset` body (without sharing and scheduled actions,
    /// which belong to the source project).
    asset: CreateAssetBody,
    /// Every file that passed, MAIN first.
    files: Vec<ManifestFile>,
}

/// One file of a manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ManifestFile {
    file_id: String,
    file_name: String,
    file_type: String,
    category: FileCategory,
    size: i64,
    md5: String,
    #[serde(default)]
    derived: Option<Derived>,
    #[serde(default)]
    transcoding: Option<TranscodingStatus>,
    url: String,
}

/// The replication service.
pub struct Replication {
    catalog: Arc<dyn Catalog>,
    assets: Arc<Assets>,
    storage: Arc<Storage>,
    links: Arc<Links>,
    keys: ReplicationKeys,
    http: reqwest::Client,
    source: String,
    ttl: time::Duration,
    fetch_timeout: Duration,
    wake: Arc<Notify>,
    job_attempts: i32,
}

/// How [`Replication`] is set up.
pub struct Settings {
    /// The shared keys.
    pub keys: ReplicationKeys,
    /// This library's public URL.
    pub source: String,
    /// Validity of replication info.
    pub ttl: Duration,
    /// Time limit of fetching one file.
    pub fetch_timeout: Duration,
    /// Attempts of the processing job.
    pub job_attempts: i32,
}

impl Replication {
    /// The service.
    pub fn new(
        catalog: Arc<dyn Catalog>,
        assets: Arc<Assets>,
        storage: Arc<Storage>,
        links: Arc<Links>,
        wake: Arc<Notify>,
        settings: Settings,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self {
            catalog,
            assets,
            storage,
            links,
            keys: settings.keys,
            http,
            source: settings.source,
            ttl: time::Duration::try_from(settings.ttl).unwrap_or(time::Duration::DAY),
            fetch_timeout: settings.fetch_timeout,
            wake,
            job_attempts: settings.job_attempts,
        })
    }

    /// `show_asset_replication_info`: the caller's asset, sealed for another library.
    pub async fn info(
        &self,
        caller: &Caller,
        asset_id: &str,
    ) -> Result<ReplicationInfo, ReplicationError> {
        let (key_id, key) = self
            .keys
            .sealing
            .map(|i| &self.keys.keys[i])
            .ok_or(ReplicationError::NoKeys)?;
        let asset = self
            .catalog
            .asset(asset_id)
            .await?
            .filter(|a| a.project_id == caller.project_id && a.asset_state != AssetState::Deleted)
            .ok_or_else(|| ReplicationError::AssetNotFound(asset_id.to_owned()))?;
        if !review_passed(&asset)
            || matches!(
                asset.asset_state,
                AssetState::Block | AssetState::Deleting | AssetState::Deleted
            )
        {
            return Err(ReplicationError::NotReplicable(asset.asset_state));
        }
        let expire_time = (OffsetDateTime::now_utc() + self.ttl).unix_timestamp();
        let mut files: Vec<ManifestFile> = self
            .catalog
            .files_of(std::slice::from_ref(&asset.asset_id))
            .await?
            .into_iter()
            .filter(|f| f.state == FileState::Created && f.blob_key.is_some())
            .filter_map(|f| {
                Some(ManifestFile {
                    url: self
                        .links
                        .download_url_until(&f.file_id, false, expire_time),
                    size: f.file_size?,
                    md5: f.file_md5?,
                    file_id: f.file_id,
                    file_name: f.file_name,
                    file_type: f.file_type,
                    category: f.asset_file_category,
                    derived: f.derived,
                    transcoding: f.video_transcoding_status,
                })
            })
            .collect();
        files.sort_by_key(|f| {
            (
                f.category != FileCategory::Main || f.derived.is_some(),
                f.file_id.clone(),
            )
        });
        let manifest = Manifest {
            v: 1,
            source: self.source.clone(),
            asset_id: asset.asset_id.clone(),
            expire_time,
            asset: create_body(asset),
            files,
        };
        let plaintext = serde_json::to_vec(&manifest).map_err(CatalogError::Corrupt)?;
        let mut iv = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut iv);
        let aad = associated_data(&manifest.asset_id, key_id, expire_time);
        let sealed = Aes256Gcm::new(key)
            .encrypt(
                Nonce::from_slice(&iv),
                Payload {
                    msg: &plaintext,
                    aad: &aad,
                },
            )
            .expect("AES-GCM seals any message under 64 GiB");
        tracing::info!(asset.id = %manifest.asset_id, key.id = %key_id, files = manifest.files.len(), "replication info issued");
        Ok(ReplicationInfo {
            asset_id: Some(manifest.asset_id),
            asset_info: Some(B64.encode(sealed)),
            algorithm: Some(ALGORITHM.to_owned()),
            key_id: Some(key_id.clone()),
            iv: Some(B64.encode(iv)),
            expire_time: Some(expire_time),
        })
    }

    /// Opens and checks replication info.
    fn open(&self, info: &ReplicationInfo) -> Result<Manifest, ReplicationError> {
        let asset_id = info
            .asset_id
            .as_deref()
            .ok_or_else(|| invalid("asset_id", "is required"))?;
        let sealed = info
            .asset_info
            .as_deref()
            .ok_or_else(|| invalid("asset_info", "is required"))?;
        let algorithm = info
            .algorithm
            .as_deref()
            .ok_or_else(|| invalid("encryption_info.algorithm", "is required"))?;
        let key_id = info
            .key_id
            .as_deref()
            .ok_or_else(|| invalid("encryption_info.key_id", "is required"))?;
        let iv = info
            .iv
            .as_deref()
            .ok_or_else(|| invalid("encryption_info.iv", "is required"))?;
        let expire_time = info
            .expire_time
            .ok_or_else(|| invalid("expire_time", "is required"))?;
        if !algorithm.eq_ignore_ascii_case(ALGORITHM) {
            return Err(invalid("encryption_info.algorithm", "must be AES-256-GCM"));
        }
        let key = self
            .keys
            .get(key_id)
            .ok_or_else(|| ReplicationError::UnknownKey(key_id.to_owned()))?;
        let tampered = || ReplicationError::Tampered(key_id.to_owned());
        let iv = B64
            .decode(iv)
            .ok()
            .filter(|b| b.len() == 12)
            .ok_or_else(|| invalid("encryption_info.iv", "must be base64 of 12 bytes"))?;
        let sealed = B64.decode(sealed).map_err(|_| tampered())?;
        let aad = associated_data(asset_id, key_id, expire_time);
        let plaintext = Aes256Gcm::new(key)
            .decrypt(
                Nonce::from_slice(&iv),
                Payload {
                    msg: &sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| tampered())?;
        let manifest: Manifest = serde_json::from_slice(&plaintext).map_err(|_| tampered())?;
        if manifest.v != 1 || manifest.asset_id != asset_id || manifest.expire_time != expire_time {
            return Err(tampered());
        }
        if OffsetDateTime::now_utc().unix_timestamp() > expire_time {
            return Err(ReplicationError::Expired(expire_time));
        }
        Ok(manifest)
    }

    /// `create_asset_by_replication_info`: the asset of `info` in the caller's project, with
    /// every file. Returns its id; info already replicated into this project returns the
    /// existing asset's id and creates nothing.
    pub async fn create(
        &self,
        caller: &Caller,
        info: &ReplicationInfo,
    ) -> Result<String, ReplicationError> {
        let manifest = self.open(info)?;
        let main = check_files(&manifest)?;
        let candidates = candidate_ids(&manifest.asset_id, &caller.project_id);
        let asset_id = match self.settle_id(caller, &candidates).await? {
            Placement::Exists(id) => return Ok(id),
            Placement::Free(id) => id,
        };
        let mut body = manifest.asset.clone();
        let renamed = renamed_files(&manifest, main);
        let pairs: Vec<(String, String)> = manifest
            .files
            .iter()
            .map(|f| f.file_id.clone())
            .zip(renamed.iter().cloned())
            .collect();
        rename_pages(&mut body, &pairs);
        let (mut asset, mut jobs) = self.assets.prepare(caller, body, asset_id)?;
        self.check_quota(&caller.project_id, &manifest).await?;

        let fetched = futures::stream::iter(0..renamed.len())
            .map(|i| {
                let file = manifest.files[i].clone();
                let source = manifest.source.clone();
                async move { self.fetch(&source, &file).await }
            })
            .buffered(PARALLEL_FETCHES)
            .collect::<Vec<_>>()
            .await;
        let mut stored = Vec::new();
        let mut failure = None;
        for result in fetched {
            match result {
                Ok(s) => stored.push(s),
                Err(e) => failure = failure.or(Some(e)),
            }
        }
        if let Some(e) = failure {
            forget(stored).await;
            return Err(e);
        }

        let now = OffsetDateTime::now_utc();
        let files = manifest
            .files
            .iter()
            .zip(&renamed)
            .zip(&stored)
            .map(|((file, new_id), s)| replica_file(&asset, file, new_id, s, now))
            .collect::<Vec<_>>();
        let main_id = renamed[main].clone();
        if asset.asset_type == crate::model::AssetType::Video {
            asset
                .asset_extra_meta
                .video_meta
                .get_or_insert_with(Default::default)
                .video_transcoding_status = files[main].video_transcoding_status;
        }
        jobs.push(
            Job::ProcessMainFile {
                asset_id: asset.asset_id.clone(),
                file_id: main_id,
            }
            .to_new(self.job_attempts),
        );
        let write = Write {
            new_assets: vec![asset.clone()],
            new_files: files,
            jobs,
            stored_blobs: stored.iter().map(|s| s.blob.clone()).collect(),
            ..Write::default()
        };
        let count = stored.len();
        match self.catalog.apply(write).await {
            Ok(()) => {}
            Err(CatalogError::Unique(_)) => {
                // Replicated concurrently by an identical request: that copy stands.
                forget(stored).await;
                return match self.settle_id(caller, &candidates).await? {
                    Placement::Exists(id) => Ok(id),
                    Placement::Free(_) => Err(CatalogError::Conflict.into()),
                };
            }
            Err(e) => {
                forget(stored).await;
                return Err(e.into());
            }
        }
        for s in stored {
            s.recorded();
        }
        self.wake.notify_waiters();
        tracing::info!(asset.id = %asset.asset_id, source.asset.id = %manifest.asset_id, files = count, "asset replicated");
        Ok(asset.asset_id)
    }

    /// Where the replica goes: the first candidate id that is free, unless one already holds
    /// a replica in the caller's project.
    async fn settle_id(
        &self,
        caller: &Caller,
        candidates: &[String],
    ) -> Result<Placement, ReplicationError> {
        for id in candidates {
            match self.catalog.asset(id).await? {
                None => return Ok(Placement::Free(id.clone())),
                Some(a)
                    if a.project_id == caller.project_id
                        && a.asset_state != AssetState::Deleted =>
                {
                    return Ok(Placement::Exists(a.asset_id))
                }
                Some(_) => {}
            }
        }
        Ok(Placement::Free(uuid::Uuid::new_v4().to_string()))
    }

    /// Refuses early (before any byte moves) what the quota would refuse at the end.
    async fn check_quota(
        &self,
        project_id: &str,
        manifest: &Manifest,
    ) -> Result<(), ReplicationError> {
        let Some(quota) = self.catalog.quota(project_id).await? else {
            return Ok(());
        };
        let usage = self.catalog.project_usage(project_id).await?;
        let bytes: i64 = manifest
            .files
            .iter()
            .filter(|f| f.derived.is_none())
            .map(|f| f.size)
            .sum();
        let after = ProjectUsage {
            bytes: usage.bytes + bytes.max(0) as u64,
            assets: usage.assets + 1,
        };
        QuotaExceeded::check(&quota, after).map_err(|e| CatalogError::QuotaExceeded(e).into())
    }

    /// Streams one file from the source library into new content, verifying size and MD5.
    async fn fetch(&self, source: &str, file: &ManifestFile) -> Result<Stored, ReplicationError> {
        let failed = |reason: String| ReplicationError::Fetch {
            file: file.file_name.clone(),
            reason,
        };
        let response = self
            .http
            .get(&file.url)
            .timeout(self.fetch_timeout)
            .send()
            .await
            .map_err(|e| failed(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(failed(format!(
                "the source library answered {}",
                response.status()
            )));
        }
        if let Some(length) = response.content_length().filter(|l| *l != file.size as u64) {
            return Err(failed(format!(
                "the source library sent {length} bytes; the info declares {}",
                file.size
            )));
        }
        debug_assert!(file.url.starts_with(source));
        let body = response
            .bytes_stream()
            .map_err(|e| e.without_url().to_string());
        let expect = Expect {
            size: Some(file.size as u64),
            max_size: None,
            md5: [decode_md5(&file.md5), None],
        };
        self.storage.store(body, expect).await.map_err(|e| match e {
            StorageError::Blob(e @ (BlobError::Store(_) | BlobError::Hasher(_))) => {
                ReplicationError::Blob(e)
            }
            StorageError::Catalog(e) => ReplicationError::Catalog(e),
            other => failed(other.to_string()),
        })
    }
}

/// Removes bytes fetched for a replica that was not created.
async fn forget(stored: Vec<Stored>) {
    for s in stored {
        s.discard().await;
    }
}

/// Where a replica's asset id stands.
enum Placement {
    /// A replica is already in the caller's project under this id.
    Exists(String),
    /// This id is free.
    Free(String),
}

/// Ids a replica may take, in order: the source's own (another library), then one derived
/// from it and the target project (another project of the same library). The same info
/// replicated again finds its earlier replica under one of them.
fn candidate_ids(source_asset_id: &str, project_id: &str) -> Vec<String> {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("replica\n{source_asset_id}\n{project_id}").as_bytes());
    let derived = uuid::Builder::from_random_bytes(digest[..16].try_into().expect("16 bytes"))
        .into_uuid()
        .to_string();
    vec![source_asset_id.to_owned(), derived]
}

/// The source asset as a `create_digital_asset` body.
fn create_body(asset: Asset) -> CreateAssetBody {
    CreateAssetBody {
        asset_name: asset.asset_name,
        asset_description: asset.asset_description,
        asset_type: asset.asset_type,
        review_config: asset.review_config,
        tags: Some(asset.tags),
        asset_extra_meta: Some(asset.asset_extra_meta),
        system_properties: (!asset.system_properties.is_empty()).then_some(asset.system_properties),
        shared_config: None,
        is_need_generate_cover: Some(asset.is_need_generate_cover),
        asset_order: asset.asset_order,
        supported_service: Some(asset.supported_service),
        auto_operation_config: None,
    }
}

/// Checks the files of a manifest and returns the index of its MAIN file.
fn check_files(manifest: &Manifest) -> Result<usize, ReplicationError> {
    let mut mains = manifest
        .files
        .iter()
        .enumerate()
        .filter(|(_, f)| f.category == FileCategory::Main && f.derived.is_none());
    let (main, main_file) = mains
        .next()
        .ok_or_else(|| invalid("asset_info", "the asset has no MAIN file to replicate"))?;
    if mains.next().is_some() {
        return Err(invalid(
            "asset_info",
            "the asset has more than one MAIN file",
        ));
    }
    for file in &manifest.files {
        if !file
            .url
            .starts_with(&format!("{}/downloads/", manifest.source))
            || !(file.url.starts_with("http://") || file.url.starts_with("https://"))
        {
            return Err(invalid(
                "asset_info",
                "a file URL is not a download URL of the library that made the info",
            ));
        }
        if !(1..=MAX_LARGE_FILE_SIZE).contains(&file.size) || decode_md5(&file.md5).is_none() {
            return Err(invalid("asset_info", "a file has an invalid size or MD5"));
        }
        let from_main = file
            .file_id
            .strip_prefix(&main_file.file_id)
            .is_some_and(|rest| rest.starts_with('-'));
        if file.derived.is_some() && !from_main {
            return Err(invalid(
                "asset_info",
                "a generated file does not belong to the MAIN file",
            ));
        }
    }
    Ok(main)
}

/// New ids for the files of a manifest, in its order: fresh ones, except that what processing
/// made from the MAIN file keeps its suffix on the new MAIN id, so it still goes with it.
fn renamed_files(manifest: &Manifest, main: usize) -> Vec<String> {
    let main_id = uuid::Uuid::new_v4().to_string();
    let source_main = &manifest.files[main].file_id;
    manifest
        .files
        .iter()
        .enumerate()
        .map(
            |(i, f)| match f.file_id.strip_prefix(source_main.as_str()) {
                _ if i == main => main_id.clone(),
                Some(suffix) if f.derived.is_some() => format!("{main_id}{suffix}"),
                _ => uuid::Uuid::new_v4().to_string(),
            },
        )
        .collect()
}

/// Points slide pages of the asset's metadata at the replicated page files.
fn rename_pages(body: &mut CreateAssetBody, renamed: &[(String, String)]) {
    let pages = body
        .asset_extra_meta
        .as_mut()
        .and_then(|m| m.ppt_meta.as_mut())
        .and_then(|m| m.pages.as_mut());
    for page in pages.into_iter().flatten() {
        if let Some(id) = page.file_id.as_mut() {
            if let Some((_, new)) = renamed.iter().find(|(old, _)| old == id) {
                *id = new.clone();
            }
        }
    }
}

/// The record of a replicated file. The MAIN file waits (UPLOADED) for its processing job,
/// which skips processing when what it would make came along; every other file is CREATED.
fn replica_file(
    asset: &Asset,
    file: &ManifestFile,
    new_id: &str,
    stored: &Stored,
    now: OffsetDateTime,
) -> FileRecord {
    let written: &Written = &stored.written;
    let main = file.category == FileCategory::Main && file.derived.is_none();
    let mismatch = sniff::check(&file.file_type, &written.head).err();
    let state = match (&mismatch, main) {
        (_, true) => FileState::Uploaded,
        (Some(_), false) => FileState::Failed,
        (None, false) => FileState::Created,
    };
    FileRecord {
        file_id: new_id.to_owned(),
        asset_id: asset.asset_id.clone(),
        project_id: asset.project_id.clone(),
        file_name: file.file_name.clone(),
        file_md5: Some(file.md5.clone()),
        file_size: Some(file.size),
        file_type: file.file_type.clone(),
        asset_file_category: file.category,
        state,
        reason: mismatch.clone().filter(|_| !main),
        block_reason_code: None,
        multipart_count: None,
        blob_key: Some(stored.key()),
        video_transcoding_status: file.transcoding,
        content_mismatch: mismatch,
        derived: file.derived,
        create_time: now,
        update_time: now,
        version: 1,
    }
}
