//! The catalogue: every durable record (credentials, tokens, assets, files) behind one
//! [`Catalog`] trait, chosen at start-up by URL scheme. SQL lives only in the backend
//! modules; services see records and queries.
//!
//! Writes use optimistic concurrency: every asset and file carries a `version`, and
//! [`Catalog::apply`] commits a [`Write`] atomically only if every version still matches.

mod job;
pub mod postgres;
pub mod rows;
pub mod sqlite;
mod stored;
mod update;

use std::sync::Arc;

use async_trait::async_trait;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::Code;
use crate::model::{
    AssetExtraMeta, AssetSharedConfig, AssetState, AssetType, AutoOperationConfig, FailType,
    FileCategory, FileState, ReviewConfig, SupportedService, SystemProperty, TranscodingStatus,
};
pub use job::Job;
pub use update::Change;

/// Failures of the storage layer itself.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A versioned record changed since it was read; the caller should re-read and retry.
    #[error("record changed concurrently")]
    Conflict,
    /// A uniqueness rule of the schema was violated (e.g. a second MAIN file).
    #[error("unique constraint violated: {0}")]
    Unique(String),
    /// The catalogue URL names no supported backend (only its scheme is kept: the rest may
    /// hold a password).
    #[error("unsupported catalogue URL scheme {0:?}; use sqlite:// or postgres://")]
    UnsupportedUrl(String),
    /// A file was to refer to a blob that is not (or no longer) LIVE.
    #[error("blob {0} is not stored (any more)")]
    BlobGone(String),
    /// A blob write's lease ran out before the write was recorded, so the reconciliation
    /// sweep may already have removed its bytes; the write must be done again.
    #[error("the lease of blob write {0} expired before it was recorded")]
    WriteExpired(String),
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database was migrated by a newer assetd than this one.
    #[error(
        "the catalogue's schema is at migration {found}, newer than this assetd knows \
         (up to {known}); run a newer assetd against it"
    )]
    SchemaTooNew {
        /// The newest migration applied to the database.
        found: i64,
        /// The newest migration this build carries.
        known: i64,
    },
    /// A stored document could not be decoded.
    #[error("corrupt record: {0}")]
    Corrupt(#[from] serde_json::Error),
    /// The write would take a project past its quota; nothing was written.
    #[error(transparent)]
    QuotaExceeded(#[from] QuotaExceeded),
}

impl CatalogError {
    /// Storage failures are internal unless a caller maps them on purpose; a quota is the
    /// caller's limit.
    pub fn code(&self) -> Code {
        match self {
            Self::QuotaExceeded(_) => Code::QuotaExceeded,
            _ => Code::Internal,
        }
    }
}

/// The limits an admin set for a project; `None` is no limit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Quota {
    /// The project.
    pub project_id: String,
    /// Bytes of uploaded files (see [`ProjectUsage::bytes`]).
    pub max_bytes: Option<u64>,
    /// Assets that are not DELETED.
    pub max_assets: Option<u64>,
    /// Authenticated API requests per second, on each node.
    pub requests_per_second: Option<u32>,
}

/// What a project holds, as quotas count it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProjectUsage {
    /// Declared sizes of the files it uploaded or is uploading (not FAILED, CANCELLED or
    /// deleted); files the server generated from them do not count.
    pub bytes: u64,
    /// Its assets that are not DELETED (the recycle bin counts).
    pub assets: u64,
}

/// A write refused because a project would exceed a limit of its quota.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "project {project_id} would hold {would} {what} with this request; its quota allows {limit}"
)]
pub struct QuotaExceeded {
    /// The project.
    pub project_id: String,
    /// `bytes` or `assets`.
    pub what: &'static str,
    /// The limit.
    pub limit: u64,
    /// What the project would hold after the write.
    pub would: u64,
}

impl QuotaExceeded {
    /// The first limit of `quota` that `usage` exceeds.
    pub fn check(quota: &Quota, usage: ProjectUsage) -> Result<(), Self> {
        let over = |what, limit: Option<u64>, would: u64| match limit {
            Some(limit) if would > limit => Err(Self {
                project_id: quota.project_id.clone(),
                what,
                limit,
                would,
            }),
            _ => Ok(()),
        };
        over("assets", quota.max_assets, usage.assets)?;
        over("bytes", quota.max_bytes, usage.bytes)
    }
}

/// An access key / secret key pair bound to one project.
#[derive(Debug, Clone)]
pub struct Credential {
    /// The access key (AK), public.
    pub access_key: String,
    /// The secret key (SK); used as the HMAC key, never logged.
    pub secret_key: SecretString,
    /// The project every request signed with this key must address.
    pub project_id: String,
    /// Whether the key may use admin-only features.
    pub is_admin: bool,
}

/// An issued `X-Auth-Token`, stored by the SHA-256 of its value.
#[derive(Debug, Clone)]
pub struct Token {
    /// Lowercase hex SHA-256 of the token string.
    pub token_hash: String,
    /// The credential that asked for it.
    pub access_key: String,
    /// The project it is bound to.
    pub project_id: String,
    /// Whether it carries admin rights.
    pub is_admin: bool,
    /// When it stops being accepted.
    pub expires_at: OffsetDateTime,
    /// Fingerprint of the SK it was issued under (see `service::auth`); the token stops
    /// working once the credential's SK no longer matches it.
    pub secret_fingerprint: String,
}

/// A credential as operators see it: everything but the SK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialInfo {
    /// The access key.
    pub access_key: String,
    /// The project it is bound to.
    pub project_id: String,
    /// Whether it may use admin-only features.
    pub is_admin: bool,
    /// When it was first created.
    pub created_at: OffsetDateTime,
}

/// Counts for the metrics endpoint, read in one go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogStats {
    /// Job queue depth per job kind.
    pub jobs: Vec<(String, JobCounts)>,
    /// Assets per state (states with no asset are absent).
    pub assets: Vec<(AssetState, u64)>,
    /// Files waiting in the manual review queue.
    pub review_queue: u64,
}

/// Where a pending job stands, for telling a client what processing is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStatus {
    /// `QUEUED` or `RUNNING`.
    pub state: String,
    /// Attempts so far.
    pub attempts: i32,
    /// Attempts allowed.
    pub max_attempts: i32,
    /// Error of the previous attempt, when it was retried.
    pub last_error: Option<String>,
    /// What the running attempt last reported (JSON written by the job).
    pub progress: Option<String>,
}

/// A digital asset as stored: the wire's DigitalAssetInfo plus server bookkeeping.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Asset {
    /// Asset id (UUID).
    pub asset_id: String,
    /// Owning project.
    pub project_id: String,
    /// Asset name.
    pub asset_name: String,
    /// Optional description.
    pub asset_description: Option<String>,
    /// `X-App-UserId` of the creating request.
    pub app_user_id: Option<String>,
    /// Asset type.
    pub asset_type: AssetType,
    /// Current state.
    pub asset_state: AssetState,
    /// The state a restore returns to (set while DELETING).
    pub state_before_delete: Option<AssetState>,
    /// The state an unblock returns to (set while BLOCK).
    pub state_before_block: Option<AssetState>,
    /// Why the asset FAILED, for review rejections.
    pub fail_type: Option<FailType>,
    /// Freeze reason code.
    pub block_reason_code: Option<String>,
    /// Human-readable reason for FAILED or BLOCK.
    pub reason: Option<String>,
    /// Free tags.
    pub tags: Vec<String>,
    /// Type-specific metadata (only the sub-meta matching `asset_type`).
    pub asset_extra_meta: AssetExtraMeta,
    /// System properties (key/value; `action` is not stored).
    pub system_properties: Vec<SystemProperty>,
    /// Console display order.
    pub asset_order: Option<i32>,
    /// Services the asset may be used by.
    pub supported_service: Vec<SupportedService>,
    /// Scheduled BLOCK / DELETE operations.
    pub auto_operation_config: Vec<AutoOperationConfig>,
    /// Sharing settings.
    pub shared_config: Option<AssetSharedConfig>,
    /// Review settings as requested.
    pub review_config: Option<ReviewConfig>,
    /// Whether a cover should be generated from the video.
    pub is_need_generate_cover: bool,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub create_time: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub update_time: OffsetDateTime,
    /// When the asset entered the recycle bin.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub deleted_at: Option<OffsetDateTime>,
    /// Optimistic-concurrency version; bumped by every committed write.
    #[serde(skip)]
    pub version: i64,
}

impl Asset {
    /// The share expiry that governs visibility for other projects, if shared at all.
    pub fn share_expire(&self) -> Option<OffsetDateTime> {
        let expire = self.shared_config.as_ref()?.expire_time.as_deref()?;
        OffsetDateTime::parse(expire, &time::format_description::well_known::Rfc3339).ok()
    }
}

/// A file of an asset.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileRecord {
    /// File id (UUID).
    pub file_id: String,
    /// Owning asset.
    pub asset_id: String,
    /// Owning project.
    pub project_id: String,
    /// File name as given at creation.
    pub file_name: String,
    /// RFC 1864 MD5 (base64) declared at creation, when known.
    pub file_md5: Option<String>,
    /// Declared size in bytes.
    pub file_size: Option<i64>,
    /// File type (extension by default), lower-cased.
    pub file_type: String,
    /// Role of the file in its asset.
    pub asset_file_category: FileCategory,
    /// Upload / review state.
    pub state: FileState,
    /// Why the file FAILED.
    pub reason: Option<String>,
    /// Freeze reason code.
    pub block_reason_code: Option<String>,
    /// Number of parts for a large-file upload; `None` for a single PUT.
    pub multipart_count: Option<i32>,
    /// Blob-store key of the committed bytes, once verified.
    pub blob_key: Option<String>,
    /// Transcoding status of a video rendition.
    pub video_transcoding_status: Option<TranscodingStatus>,
    /// Why the uploaded content does not match its declared type, when it does not.
    #[serde(default)]
    pub content_mismatch: Option<String>,
    /// Set on files the server generated from the MAIN file.
    #[serde(default)]
    pub derived: Option<Derived>,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub create_time: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub update_time: OffsetDateTime,
    /// Optimistic-concurrency version.
    #[serde(skip)]
    pub version: i64,
}

impl FileRecord {
    /// Whether this file is an output of processing the MAIN file `main_file_id`. Outputs
    /// are named `{main_file_id}-{suffix}`, so they go with their MAIN file when it is deleted.
    pub fn made_from(&self, main_file_id: &str) -> bool {
        self.derived.is_some()
            && self
                .file_id
                .strip_prefix(main_file_id)
                .is_some_and(|rest| rest.starts_with('-'))
    }
}

/// What a server-generated file is.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Derived {
    /// A cover frame of a video.
    Cover,
    /// A small preview image.
    Thumbnail,
    /// A web-playable (H.264/AAC MP4) rendition of a video.
    Rendition,
    /// A rendered slide page.
    Page,
}

/// One atomic unit of change: new records and versioned updates, all or nothing.
#[derive(Debug, Default)]
pub struct Write {
    /// Assets to insert.
    pub new_assets: Vec<Asset>,
    /// Assets to update; each must still have the `version` it carries.
    pub assets: Vec<Asset>,
    /// Files to insert.
    pub new_files: Vec<FileRecord>,
    /// Files to update; each must still have the `version` it carries.
    pub files: Vec<FileRecord>,
    /// Jobs to enqueue with the change; one whose `dedup_key` is already pending is skipped.
    pub jobs: Vec<NewJob>,
    /// Blobs whose bytes were written and verified and which files of this write refer to.
    /// Each becomes LIVE, unless a LIVE blob with the same SHA-256 exists: then the files of
    /// this write refer to that one instead and the new copy is deleted (stored once). A
    /// damaged LIVE twin is replaced by the new copy instead, for every file referring to it.
    pub stored_blobs: Vec<StoredBlob>,
}

/// A blob a [`Write`] records: bytes just written under `key` and verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    /// The write that stored it (see [`Catalog::start_blob_write`]); recording the blob ends it.
    pub write_id: String,
    /// Object key (see `blobs::BlobKey`).
    pub key: String,
    /// Lowercase hex SHA-256 of the content: what makes two blobs the same.
    pub sha256: String,
    /// Base64 MD5 of the content (how the API spells MD5s).
    pub md5: String,
    /// Size in bytes.
    pub size: i64,
}

/// Whether a blob's bytes are in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobState {
    /// Files may refer to it.
    Live,
    /// No file refers to it; a `delete_blob` job removes its bytes, then its record.
    Deleting,
}

impl BlobState {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "LIVE",
            Self::Deleting => "DELETING",
        }
    }
}

/// Which queue a job waits in. Workers take `Heavy` jobs only while they keep capacity for
/// `Light` ones (see `jobs::spawn_workers`), so slow jobs cannot starve quick ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lane {
    /// Quick work: images, audio, timers, webhook deliveries.
    #[default]
    Light,
    /// Slow work: video transcodes, deck conversions.
    Heavy,
}

impl Lane {
    /// The stored spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Lane::Light => "light",
            Lane::Heavy => "heavy",
        }
    }

    /// The lane a MAIN file of `asset_type` is processed in: transcodes and deck conversions
    /// take minutes, the rest seconds.
    pub fn for_main_file(asset_type: AssetType) -> Self {
        match asset_type {
            AssetType::Video | AssetType::Ppt => Lane::Heavy,
            _ => Lane::Light,
        }
    }

    /// Parses the stored spelling; anything unknown is light.
    pub fn parse(s: &str) -> Self {
        if s == "heavy" {
            Lane::Heavy
        } else {
            Lane::Light
        }
    }
}

impl std::str::FromStr for BlobState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "LIVE" => Ok(Self::Live),
            "DELETING" => Ok(Self::Deleting),
            other => Err(format!("unknown blob state {other}")),
        }
    }
}

/// A stored blob. How many files refer to it is never stored: it is counted from the files
/// (`files.blob_key`), in the same transaction as every change of a reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRecord {
    /// Object key.
    pub key: String,
    /// Lowercase hex SHA-256; `None` for bytes stored before content addressing.
    pub sha256: Option<String>,
    /// Base64 MD5, when known.
    pub md5: Option<String>,
    /// Size in bytes.
    pub size: i64,
    /// LIVE or DELETING.
    pub state: BlobState,
    /// What the last scrub found wrong (`corrupt: …`, `missing`); `None` when the bytes
    /// were right or have not been checked.
    pub damage: Option<String>,
    /// When the bytes were last verified.
    pub checked_at: Option<OffsetDateTime>,
}

/// An object write in progress, recorded so that what a crashed writer left behind (the
/// object, an S3 multipart upload, local staging files) can be found and removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobWrite {
    /// The write.
    pub id: String,
    /// Object key being written.
    pub key: String,
    /// The S3 multipart upload writing it, once one was started.
    pub upload_id: Option<String>,
    /// The writer renews this while it lives; past it, the write is abandoned.
    pub lease_until: OffsetDateTime,
}

/// Stored against logical bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StorageUsage {
    /// LIVE blobs.
    pub blobs: u64,
    /// Their bytes: what the store holds.
    pub stored_bytes: u64,
    /// Files referring to a blob.
    pub files: u64,
    /// Their bytes counted per file: what the library would hold without sharing.
    pub logical_bytes: u64,
}

/// A file whose bytes the scrubber found damaged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamagedFile {
    /// The file.
    pub file_id: String,
    /// Its asset.
    pub asset_id: String,
    /// Its project.
    pub project_id: String,
    /// The blob it refers to.
    pub blob_key: String,
    /// What is wrong.
    pub damage: String,
    /// When it was found.
    pub checked_at: Option<OffsetDateTime>,
}

/// The job kind the catalogue enqueues, in the same transaction, for every blob that becomes
/// DELETING. Its payload is `{"kind": "delete_blob", "key": …}`.
pub const BLOB_DELETE_JOB_KIND: &str = "delete_blob";

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// The job kind's persisted tag.
    pub kind: String,
    /// JSON payload.
    pub payload: String,
    /// At most one pending job per key.
    pub dedup_key: Option<String>,
    /// Earliest start.
    pub run_after: OffsetDateTime,
    /// Attempts before the job fails for good.
    pub max_attempts: i32,
    /// The queue it waits in.
    pub lane: Lane,
}

impl NewJob {
    /// The same job, waiting in `lane`.
    pub fn in_lane(self, lane: Lane) -> Self {
        Self { lane, ..self }
    }
}

/// A claimed job.
#[derive(Debug, Clone)]
pub struct JobRecord {
    /// Job id.
    pub id: i64,
    /// The job kind's persisted tag.
    pub kind: String,
    /// JSON payload.
    pub payload: String,
    /// Attempts so far, this one included.
    pub attempts: i32,
    /// Attempts allowed.
    pub max_attempts: i32,
    /// Error of the previous attempt.
    pub last_error: Option<String>,
    /// The queue it waited in.
    pub lane: Lane,
}

/// How a job attempt ended.
#[derive(Debug, Clone)]
pub enum JobOutcome {
    /// Finished: the job is removed.
    Done,
    /// Try again at the given time.
    Retry {
        /// When.
        at: OffsetDateTime,
        /// What went wrong.
        error: String,
    },
    /// Failed for good: kept as FAILED.
    Failed {
        /// What went wrong.
        error: String,
    },
}

/// A project's webhook.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// The project.
    pub project_id: String,
    /// Where events are POSTed.
    pub url: String,
    /// HMAC key of the `X-Assetd-Signature` header; never logged.
    pub secret: SecretString,
}

/// One read of a shared asset by another project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRecord {
    /// The asset read.
    pub asset_id: String,
    /// Its owner.
    pub owner_project_id: String,
    /// Who read it.
    pub reader_project_id: String,
    /// How: `show`, `list`, `summary` or `download`.
    pub action: String,
    /// When.
    pub at: OffsetDateTime,
}

/// The job kind the catalogue enqueues, in the same transaction, for every asset state change
/// of a project with a webhook. Its payload is the event.
pub const EVENT_JOB_KIND: &str = "deliver_event";

/// Queue depth by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobCounts {
    /// Waiting (including retries not yet due).
    pub queued: u64,
    /// Claimed by a worker.
    pub running: u64,
    /// Failed for good.
    pub failed: u64,
}

/// Column a listing is ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// Creation time (default).
    #[default]
    CreateTime,
    /// Last update.
    UpdateTime,
    /// Console display order; ties newest first.
    AssetOrder,
    /// Asset name, byte order (an extension: `sort_key=asset_name`); ties oldest first.
    AssetName,
}

/// Whose assets a listing covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AssetSource {
    /// The caller's own project (default).
    #[default]
    Customization,
    /// System assets: PUBLIC assets, visible to every project.
    System,
    /// Both.
    All,
}

/// Sharing role filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareRole {
    /// Own assets that are shared with someone.
    Sharer,
    /// Other projects' assets shared with the caller and not expired.
    Sharee,
}

/// How a text filter matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextMatch {
    /// The text asked for.
    pub text: String,
    /// Exact equality instead of substring match.
    pub exact: bool,
}

/// A validated asset listing request.
#[derive(Debug, Clone, Default)]
pub struct AssetQuery {
    /// The caller's project.
    pub project_id: String,
    /// Reference time for share expiry.
    pub now: Option<OffsetDateTime>,
    /// Page size.
    pub limit: u32,
    /// Items skipped.
    pub offset: u64,
    /// Name filter.
    pub name: Option<TextMatch>,
    /// Tag filters.
    pub tags: Vec<TextMatch>,
    /// All tags must match (INTERSECTION) instead of any (UNION_SET).
    pub tags_all: bool,
    /// Lower bound on create_time, inclusive.
    pub created_from: Option<OffsetDateTime>,
    /// Upper bound on create_time, inclusive.
    pub created_to: Option<OffsetDateTime>,
    /// Allowed types (empty = any).
    pub types: Vec<AssetType>,
    /// Allowed states (empty = any).
    pub states: Vec<AssetState>,
    /// Allowed ids (empty = any).
    pub asset_ids: Vec<String>,
    /// Sort column.
    pub sort: SortKey,
    /// Descending order.
    pub descending: bool,
    /// Whose assets.
    pub source: AssetSource,
    /// Sharing role.
    pub role: Option<ShareRole>,
    /// Required system properties (key, value), values compared case-insensitively.
    pub system_properties: Vec<(String, String)>,
    /// Required supported service.
    pub supported_service: Option<SupportedService>,
    /// Required app user id.
    pub app_user_id: Option<String>,
    /// Voice sex values (any of).
    pub voice_sexes: Vec<String>,
    /// Voice language values (any of).
    pub voice_languages: Vec<String>,
    /// Voice real-time capability.
    pub is_realtime_voice: Option<bool>,
    /// Voice provider: `HUAWEI_METASTUDIO` means no external provider.
    pub voice_provider: Option<String>,
    /// Avatar actions editable.
    pub action_editable: Option<bool>,
    /// Avatar has an action library.
    pub is_with_action_library: Option<bool>,
    /// Avatar can walk (tagged `WALKING`).
    pub is_movable: Option<bool>,
    /// Avatar model version.
    pub human_model_2d_version: Option<String>,
    /// Device name the avatar was compiled for.
    pub include_device_name: Option<String>,
    /// Device name the avatar was not compiled for.
    pub exclude_device_name: Option<String>,
}

/// One page of a listing.
#[derive(Debug, Clone)]
pub struct AssetPage {
    /// Total number of matches, ignoring limit and offset.
    pub count: u64,
    /// The requested page.
    pub assets: Vec<Asset>,
}

/// Durable storage for everything assetd knows.
#[async_trait]
pub trait Catalog: Send + Sync + 'static {
    /// Stores or replaces a credential.
    async fn put_credential(&self, credential: &Credential) -> Result<(), CatalogError>;
    /// Looks up a credential by access key.
    async fn credential(&self, access_key: &str) -> Result<Option<Credential>, CatalogError>;
    /// Stores an issued token.
    async fn put_token(&self, token: &Token) -> Result<(), CatalogError>;
    /// Looks up a token by the hash of its value.
    async fn token(&self, token_hash: &str) -> Result<Option<Token>, CatalogError>;
    /// Revokes a token; `false` when there was none with that hash.
    async fn delete_token(&self, token_hash: &str) -> Result<bool, CatalogError>;
    /// Returns the named server secret, creating it from `fresh` on first use.
    async fn server_secret(&self, name: &str, fresh: &[u8]) -> Result<Vec<u8>, CatalogError>;

    /// One asset by id, whatever its project.
    async fn asset(&self, asset_id: &str) -> Result<Option<Asset>, CatalogError>;
    /// Several assets by id, in no particular order; unknown ids are skipped.
    async fn assets(&self, asset_ids: &[String]) -> Result<Vec<Asset>, CatalogError>;
    /// A filtered, sorted page of assets and the total match count.
    async fn list_assets(&self, query: &AssetQuery) -> Result<AssetPage, CatalogError>;

    /// One file by id.
    async fn file(&self, file_id: &str) -> Result<Option<FileRecord>, CatalogError>;
    /// All files of the given assets.
    async fn files_of(&self, asset_ids: &[String]) -> Result<Vec<FileRecord>, CatalogError>;
    /// Up to `limit` files still CREATING whose last change is before `before`.
    async fn stale_uploads(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<FileRecord>, CatalogError>;

    /// Claims the next due job (or one whose lease expired) in one of `lanes` for `worker`
    /// until `lease_until`; oldest `run_after` first across those lanes.
    async fn claim_job(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        lanes: &[Lane],
    ) -> Result<Option<JobRecord>, CatalogError>;
    /// Extends a claimed job's lease; `false` when the worker no longer holds it.
    async fn heartbeat_job(
        &self,
        id: i64,
        worker: &str,
        lease_until: OffsetDateTime,
    ) -> Result<bool, CatalogError>;
    /// Records how an attempt ended (ignored when the worker no longer holds the job).
    async fn finish_job(
        &self,
        id: i64,
        worker: &str,
        outcome: JobOutcome,
    ) -> Result<(), CatalogError>;
    /// Queue depth by state.
    async fn job_counts(&self) -> Result<JobCounts, CatalogError>;
    /// Claims the run of the periodic task `name` for the period starting at `period_start`:
    /// `true` for exactly one caller per task and period, whichever node asks first, and
    /// `false` for a period that is not later than the last one claimed.
    async fn claim_period(
        &self,
        name: &str,
        period_start: OffsetDateTime,
    ) -> Result<bool, CatalogError>;

    /// Files in the given state across all projects, oldest first (the manual review queue).
    async fn files_in_state(
        &self,
        state: FileState,
        limit: u32,
        offset: u64,
    ) -> Result<(u64, Vec<FileRecord>), CatalogError>;

    /// Whether a project's assets skip review.
    async fn review_whitelisted(&self, project_id: &str) -> Result<bool, CatalogError>;
    /// Adds (`true`) or removes a project from the review whitelist.
    async fn set_review_whitelisted(&self, project_id: &str, on: bool) -> Result<(), CatalogError>;
    /// Whitelisted projects.
    async fn review_whitelist(&self) -> Result<Vec<String>, CatalogError>;

    /// Stores or replaces a project's webhook.
    async fn put_webhook(&self, webhook: &Webhook) -> Result<(), CatalogError>;
    /// A project's webhook.
    async fn webhook(&self, project_id: &str) -> Result<Option<Webhook>, CatalogError>;
    /// Removes a project's webhook; `false` when there was none.
    async fn delete_webhook(&self, project_id: &str) -> Result<bool, CatalogError>;

    /// Records reads of shared assets.
    async fn record_access(&self, records: &[AccessRecord]) -> Result<(), CatalogError>;
    /// Reads of one asset, newest first, and their total.
    async fn access_log(
        &self,
        asset_id: &str,
        limit: u32,
        offset: u64,
    ) -> Result<(u64, Vec<AccessRecord>), CatalogError>;

    /// Records write `id` of `key`, about to start, by a writer alive until `lease_until`.
    async fn start_blob_write(
        &self,
        id: &str,
        key: &str,
        lease_until: OffsetDateTime,
    ) -> Result<(), CatalogError>;
    /// Records the S3 multipart upload of write `id`; `false` when the write is not recorded
    /// (any more: its lease ran out and the sweep took it).
    async fn set_blob_upload(&self, id: &str, upload_id: &str) -> Result<bool, CatalogError>;
    /// Extends the leases of the writes `ids` that are still recorded.
    async fn renew_blob_writes(
        &self,
        ids: &[String],
        lease_until: OffsetDateTime,
    ) -> Result<(), CatalogError>;
    /// Forgets write `id` (only if its lease ran out before `expired_before`, when given);
    /// `true` when this call removed it.
    async fn end_blob_write(
        &self,
        id: &str,
        expired_before: Option<OffsetDateTime>,
    ) -> Result<bool, CatalogError>;
    /// Up to `limit` writes whose lease ran out before `now`.
    async fn expired_blob_writes(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<BlobWrite>, CatalogError>;

    /// One blob by key.
    async fn blob(&self, key: &str) -> Result<Option<BlobRecord>, CatalogError>;
    /// Removes the record of a DELETING blob whose bytes are gone; `false` when there is no
    /// DELETING blob at `key`.
    async fn forget_blob(&self, key: &str) -> Result<bool, CatalogError>;
    /// Up to `limit` DELETING blobs.
    async fn deleting_blobs(&self, limit: u32) -> Result<Vec<String>, CatalogError>;
    /// Marks up to `limit` LIVE blobs that no file refers to DELETING, with their delete jobs,
    /// and returns their keys.
    async fn release_unreferenced_blobs(&self, limit: u32) -> Result<Vec<String>, CatalogError>;
    /// Which of `keys` the catalogue knows, as a blob or as a write in progress.
    async fn known_blob_keys(&self, keys: &[String]) -> Result<Vec<String>, CatalogError>;
    /// Up to `limit` LIVE blobs last verified before `before` (never verified ones first).
    async fn blobs_to_scrub(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<BlobRecord>, CatalogError>;
    /// Records a verification of `key`: what is wrong with it, or `None` when nothing is.
    async fn record_scrub(
        &self,
        key: &str,
        damage: Option<&str>,
        at: OffsetDateTime,
    ) -> Result<(), CatalogError>;
    /// Up to `limit` files whose blob is damaged, and their total.
    async fn damaged_files(&self, limit: u32) -> Result<(u64, Vec<DamagedFile>), CatalogError>;
    /// Stored and logical bytes of the whole library.
    async fn storage_usage(&self) -> Result<StorageUsage, CatalogError>;
    /// Every credential, by access key; never the SKs.
    async fn list_credentials(&self) -> Result<Vec<CredentialInfo>, CatalogError>;
    /// Removes a credential and the tokens issued to it; `false` when there was none.
    async fn delete_credential(&self, access_key: &str) -> Result<bool, CatalogError>;
    /// Job counts by kind, assets by state and the review queue length (for `/metrics`).
    async fn stats(&self) -> Result<CatalogStats, CatalogError>;
    /// Records what the RUNNING job with `dedup_key` is doing (a small JSON document);
    /// ignored when no such job is running. Cleared when the job finishes or is retried.
    async fn set_job_progress(&self, dedup_key: &str, progress: &str) -> Result<(), CatalogError>;
    /// The pending (QUEUED or RUNNING) job with `dedup_key`, if any.
    async fn job_status(&self, dedup_key: &str) -> Result<Option<JobStatus>, CatalogError>;

    /// A project's quota, if an admin set one.
    async fn quota(&self, project_id: &str) -> Result<Option<Quota>, CatalogError>;
    /// Sets a project's quota; one without any limit is removed.
    async fn put_quota(&self, quota: &Quota) -> Result<(), CatalogError>;
    /// What a project holds, as its quota counts it.
    async fn project_usage(&self, project_id: &str) -> Result<ProjectUsage, CatalogError>;

    /// Commits a [`Write`] atomically. Every asset whose `asset_state` changes also gets an
    /// [`EVENT_JOB_KIND`] job when its project has a webhook (the transactional outbox). Fails with [`CatalogError::Conflict`] when any updated
    /// record's version changed, and [`CatalogError::Unique`] when a uniqueness rule breaks;
    /// in both cases nothing is written. A write that adds assets or uploaded files (not
    /// `derived` ones) to a project with a quota fails with [`CatalogError::QuotaExceeded`]
    /// when the project would then exceed it; the check and the write are one transaction,
    /// so concurrent writes cannot overshoot together.
    ///
    /// Blob references change here too: a file refers to the blob its `blob_key` names, and
    /// only a LIVE one ([`CatalogError::BlobGone`] otherwise). A blob whose last reference
    /// this write drops becomes DELETING, with a [`BLOB_DELETE_JOB_KIND`] job, in the same
    /// transaction. See [`Write::stored_blobs`] for new bytes.
    async fn apply(&self, write: Write) -> Result<(), CatalogError>;
}

/// The event a state change produces (the payload webhooks receive).
pub fn state_event(
    asset: &Asset,
    from: Option<AssetState>,
    at: OffsetDateTime,
) -> serde_json::Value {
    let time = at
        .replace_nanosecond(0)
        .unwrap_or(at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    serde_json::json!({
        "event_id": uuid::Uuid::new_v4().to_string(),
        "event_type": "asset.state_changed",
        "project_id": asset.project_id,
        "asset_id": asset.asset_id,
        "asset_name": asset.asset_name,
        "asset_type": asset.asset_type,
        "from_state": from,
        "to_state": asset.asset_state,
        "reason": asset.reason,
        "time": time,
    })
}

/// Opens the catalogue named by `url` (`sqlite://…`, `postgres://…`) and brings its schema
/// up to date.
pub async fn open(url: &str) -> Result<Arc<dyn Catalog>, CatalogError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteCatalog::open(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PgCatalog::open(url).await?))
    } else {
        let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
        Err(CatalogError::UnsupportedUrl(scheme.to_owned()))
    }
}

/// Refuses a database whose newest applied migration (`applied`) is one this build does not
/// have: a newer assetd migrated it, and this one would misread what it wrote.
fn check_schema(
    migrator: &sqlx::migrate::Migrator,
    applied: Option<i64>,
) -> Result<(), CatalogError> {
    let known = migrator.iter().map(|m| m.version).max().unwrap_or(0);
    match applied {
        Some(found) if found > known => Err(CatalogError::SchemaTooNew { found, known }),
        _ => Ok(()),
    }
}
