//! The file flow: `create_file` / `create_large_file` issue signed upload URLs, the upload
//! PUT streams verified bytes into the blob store, `confirm_file_upload` settles the file and
//! — for a MAIN file — the asset, and downloads serve committed bytes with ranges.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use time::OffsetDateTime;

use super::assets::{files_downloadable, review_passed};
use super::auth::Caller;
use super::links::{LinkError, Links};
use super::storage::{Storage, StorageError, Stored};
use crate::blobs::{BlobError, BlobKey, Expect, Written};
use crate::catalog::{Asset, Catalog, CatalogError, Change, FileRecord, Job, Lane, Write};
use crate::error::Code;
use crate::media::sniff;
use crate::model::files::{decode_md5, effective_file_type, extension};
use crate::model::{
    AssetState, AssetType, FailType, FileCategory, FileState, FilesCreateBody,
    LargeFilesCreateBody, PptAnalysisStatus, TranscodingStatus, ValidationError,
};
use tokio::sync::Notify;

const MIB: i64 = 1024 * 1024;
/// Size limit of COVER and PAGE images (MSS.10001007).
const MAX_IMAGE_SIDE_FILE: i64 = 5 * MIB;

/// Why a file operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// A parameter broke a rule.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The asset is unknown to the caller.
    #[error("asset {0} not found")]
    AssetNotFound(String),
    /// The file is unknown to the caller.
    #[error("file {0} not found")]
    NotFound(String),
    /// The asset already has a live MAIN file.
    #[error("asset already has a MAIN file")]
    MainExists,
    /// The asset already has a live COVER file.
    #[error("asset already has a COVER file")]
    CoverExists,
    /// A cover or page image is too large.
    #[error("{category} files must not exceed {limit} bytes")]
    TooLarge {
        /// The category.
        category: FileCategory,
        /// The limit.
        limit: i64,
    },
    /// The file or asset is in a state that does not allow the operation.
    #[error("{0}")]
    State(String),
    /// The bytes did not match.
    #[error(transparent)]
    Upload(#[from] BlobError),
    /// Storing or reading the bytes failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A signed URL was refused.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// A `Range` header asks for bytes outside the file (416).
    #[error("requested range not satisfiable; the file has {total} bytes")]
    Unsatisfiable {
        /// Size of the file, for `Content-Range: bytes */total`.
        total: u64,
    },
    /// The asset's files may not be downloaded now.
    #[error("files of an asset in state {0} cannot be downloaded")]
    NotDownloadable(AssetState),
    /// The record kept changing under concurrent writers.
    #[error("file {0} is being changed concurrently; retry")]
    Busy(String),
    /// The catalogue failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

impl FileError {
    /// The wire code of this failure.
    pub fn code(&self) -> Code {
        match self {
            Self::Invalid(_) | Self::State(_) | Self::Busy(_) | Self::Unsatisfiable { .. } => {
                Code::InvalidParameter
            }
            Self::AssetNotFound(_) => Code::AssetNotFound,
            Self::NotFound(_) => Code::FileNotFound,
            Self::MainExists => Code::MainFileExists,
            Self::CoverExists => Code::CoverFileExists,
            Self::TooLarge { .. } => Code::FileTooLarge,
            Self::Upload(e) => e.code(),
            Self::Storage(e) => e.code(),
            Self::Link(e) => e.code(),
            Self::NotDownloadable(_) => Code::Forbidden,
            Self::Catalog(e) => e.code(),
        }
    }
}

fn invalid(field: &str, rule: impl Into<String>) -> FileError {
    FileError::Invalid(ValidationError::new(field, rule))
}

/// Main-file formats and size limit of an asset type (seed "Constraints"; binary units).
pub fn main_file_rule(t: AssetType) -> Option<(&'static [&'static str], i64)> {
    const VIDEO: &[&str] = &[
        "mp4", "m4v", "mkv", "mov", "flv", "3gp", "wmv", "avi", "webm",
    ];
    const IMAGE: &[&str] = &["jpeg", "jpg", "png", "bmp", "gif"];
    const AUDIO: &[&str] = &["wav", "mp3", "m4a"];
    const PPT: &[&str] = &["ppt", "pptx", "pdf"];
    match t {
        AssetType::Video => Some((VIDEO, 5 * 1024 * MIB)),
        AssetType::Image => Some((IMAGE, 50 * MIB)),
        AssetType::Music | AssetType::Audio => Some((AUDIO, 100 * MIB)),
        AssetType::Ppt => Some((PPT, 100 * MIB)),
        _ => None,
    }
}

/// File categories an asset type accepts (API.md §5); TEMPORARY and PACKAGE fit every type.
pub fn allowed_categories(t: AssetType) -> &'static [FileCategory] {
    use FileCategory::*;
    match t {
        AssetType::Ppt => &[Main, Cover, Page, Other, Temporary, Package],
        AssetType::VoiceModel => &[Main, Sample, Other, Temporary, Package],
        AssetType::HumanModel2D => &[Main, Cover, Sample, Other, Temporary, Package],
        AssetType::BusinessCardTemplet => &[Main, Cover, Temporary, Package],
        AssetType::Image => &[Main, Temporary, Package],
        AssetType::Video => &[Main, Cover, Temporary, Package],
        AssetType::Music | AssetType::Audio | AssetType::CommonFile | AssetType::Material => {
            &[Main, Other, Temporary, Package]
        }
    }
}

/// The `Content-Type` a file is served with.
pub fn content_type(file_type: &str) -> &'static str {
    match file_type {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "bmp" => "image/bmp",
        "mp4" | "m4v" => "video/mp4",
        "mov" => "video/quicktime",
        "3gp" => "video/3gpp",
        "mkv" => "video/x-matroska",
        "webm" => "video/webm",
        "flv" => "video/x-flv",
        "avi" => "video/x-msvideo",
        "wmv" => "video/x-ms-wmv",
        "wav" => "audio/wav",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "pdf" => "application/pdf",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        _ => "application/octet-stream",
    }
}

/// A created upload.
#[derive(Debug, Clone)]
pub struct UploadTarget {
    /// The new file's id.
    pub file_id: String,
    /// One URL for a single upload, one per part for a large file.
    pub upload_urls: Vec<String>,
}

/// Query parameters of an upload URL.
#[derive(Debug, Clone)]
pub struct UploadTicket {
    /// Part number (0 for a single upload).
    pub part: u32,
    /// Size bound into the signature (-1 when not fixed).
    pub size: i64,
    /// Expiry, Unix seconds.
    pub expires: i64,
    /// Hex HMAC.
    pub signature: String,
}

/// A download ready to stream.
pub struct Download {
    /// The file.
    pub file: FileRecord,
    /// Total size of the blob.
    pub total: u64,
    /// The range served (whole file when no range was asked for).
    pub range: Range<u64>,
    /// Whether the range is partial (206).
    pub partial: bool,
    /// The bytes.
    pub body: futures::stream::BoxStream<'static, Result<Bytes, BlobError>>,
}

/// What a confirmation that took effect leaves to do once it is committed.
struct Confirmed {
    /// Part count of a multipart upload that is over (assembled or cancelled): its parts go.
    parts: Option<i32>,
    /// A processing job was enqueued.
    queued: bool,
    /// The asset's state after the confirmation.
    asset_state: AssetState,
}

/// The file service.
pub struct Files {
    catalog: Arc<dyn Catalog>,
    storage: Arc<Storage>,
    links: Arc<Links>,
    wake: Arc<Notify>,
    job_attempts: i32,
}

impl Files {
    /// The file service; `wake` is notified when processing jobs are enqueued.
    pub fn new(
        catalog: Arc<dyn Catalog>,
        storage: Arc<Storage>,
        links: Arc<Links>,
        wake: Arc<Notify>,
        job_attempts: i32,
    ) -> Self {
        Self {
            catalog,
            storage,
            links,
            wake,
            job_attempts,
        }
    }

    async fn owned_asset(&self, caller: &Caller, asset_id: &str) -> Result<Asset, FileError> {
        self.catalog
            .asset(asset_id)
            .await?
            .filter(|a| a.project_id == caller.project_id)
            .ok_or_else(|| FileError::AssetNotFound(asset_id.to_owned()))
    }

    async fn owned_file(&self, caller: &Caller, file_id: &str) -> Result<FileRecord, FileError> {
        self.catalog
            .file(file_id)
            .await?
            .filter(|f| f.project_id == caller.project_id && f.state != FileState::Deleted)
            .ok_or_else(|| FileError::NotFound(file_id.to_owned()))
    }

    /// Checks the asset-dependent rules of a new file and returns its effective type.
    fn check_new_file(
        asset: &Asset,
        category: FileCategory,
        file_name: &str,
        file_type: &str,
        size: Option<i64>,
    ) -> Result<(), FileError> {
        if matches!(
            asset.asset_state,
            AssetState::Deleting | AssetState::Deleted | AssetState::Block
        ) {
            return Err(FileError::State(format!(
                "files cannot be added to an asset in state {}",
                asset.asset_state
            )));
        }
        if !allowed_categories(asset.asset_type).contains(&category) {
            let allowed: Vec<&str> = allowed_categories(asset.asset_type)
                .iter()
                .map(|c| c.as_str())
                .collect();
            return Err(invalid(
                "asset_file_category",
                format!("{} assets accept {}", asset.asset_type, allowed.join(", ")),
            ));
        }
        match category {
            FileCategory::Main => {
                if let Some((formats, limit)) = main_file_rule(asset.asset_type) {
                    let ext = extension(file_name).unwrap_or_default();
                    for (field, value) in [("file_name", ext.as_str()), ("file_type", file_type)] {
                        if !formats.contains(&value) {
                            return Err(invalid(
                                field,
                                format!(
                                    "the main file of an asset of type {} must be one of {} (case-insensitive)",
                                    asset.asset_type,
                                    formats.join(", ").to_ascii_uppercase()
                                ),
                            ));
                        }
                    }
                    if size.is_some_and(|s| s > limit) {
                        return Err(invalid(
                            "file_size",
                            format!(
                                "the main file of an asset of type {} must not exceed {limit} bytes",
                                asset.asset_type
                            ),
                        ));
                    }
                }
            }
            FileCategory::Cover | FileCategory::Page => {
                if !["jpg", "jpeg", "png", "bmp", "gif"].contains(&file_type) {
                    return Err(invalid(
                        "file_type",
                        format!("{category} files must be JPG, JPEG, PNG, BMP or GIF images"),
                    ));
                }
                if size.is_some_and(|s| s > MAX_IMAGE_SIDE_FILE) {
                    return Err(FileError::TooLarge {
                        category,
                        limit: MAX_IMAGE_SIDE_FILE,
                    });
                }
            }
            _ => {}
        }
        Ok(())
    }

    async fn insert(&self, asset: Asset, file: FileRecord) -> Result<(), FileError> {
        let mut write = Write {
            new_files: vec![file.clone()],
            ..Write::default()
        };
        // A new MAIN file restarts an asset whose previous upload failed.
        if file.asset_file_category == FileCategory::Main && asset.asset_state == AssetState::Failed
        {
            let mut asset = asset;
            asset.asset_state = AssetState::Creating;
            asset.reason = None;
            asset.fail_type = None;
            asset.update_time = file.create_time;
            write.assets.push(asset);
        }
        match self.catalog.apply(write).await {
            Ok(()) => Ok(()),
            Err(CatalogError::Unique(_)) => Err(match file.asset_file_category {
                FileCategory::Cover => FileError::CoverExists,
                _ => FileError::MainExists,
            }),
            Err(CatalogError::Conflict) => Err(FileError::Busy(file.file_id)),
            Err(e) => Err(e.into()),
        }
    }

    fn new_record(
        caller: &Caller,
        asset: &Asset,
        file_name: &str,
        file_type: String,
        category: FileCategory,
    ) -> FileRecord {
        let now = OffsetDateTime::now_utc();
        FileRecord {
            file_id: uuid::Uuid::new_v4().to_string(),
            asset_id: asset.asset_id.clone(),
            project_id: caller.project_id.clone(),
            file_name: file_name.to_owned(),
            file_md5: None,
            file_size: None,
            file_type,
            asset_file_category: category,
            state: FileState::Creating,
            reason: None,
            block_reason_code: None,
            multipart_count: None,
            blob_key: None,
            video_transcoding_status: None,
            content_mismatch: None,
            derived: None,
            create_time: now,
            update_time: now,
            version: 1,
        }
    }

    /// `create_file`: a file record in CREATING and its upload URL.
    pub async fn create(
        &self,
        caller: &Caller,
        body: FilesCreateBody,
    ) -> Result<UploadTarget, FileError> {
        body.validate()?;
        let file_type = effective_file_type(body.file_type.as_deref(), &body.file_name)?;
        let asset = self.owned_asset(caller, &body.asset_id).await?;
        Self::check_new_file(
            &asset,
            body.asset_file_category,
            &body.file_name,
            &file_type,
            Some(body.file_size),
        )?;
        let mut file = Self::new_record(
            caller,
            &asset,
            &body.file_name,
            file_type,
            body.asset_file_category,
        );
        file.file_md5 = Some(body.file_md5);
        file.file_size = Some(body.file_size);
        let url = self
            .links
            .upload_url(&file.file_id, 0, body.file_size, file.create_time);
        let file_id = file.file_id.clone();
        self.insert(asset, file).await?;
        tracing::info!(file.id = %file_id, size_bytes = body.file_size, "upload created");
        Ok(UploadTarget {
            file_id,
            upload_urls: vec![url],
        })
    }

    /// `create_large_file`: a multipart file record and one upload URL per part.
    pub async fn create_large(
        &self,
        caller: &Caller,
        body: LargeFilesCreateBody,
    ) -> Result<UploadTarget, FileError> {
        body.validate()?;
        let file_type = effective_file_type(body.file_type.as_deref(), &body.file_name)?;
        let asset = self.owned_asset(caller, &body.asset_id).await?;
        Self::check_new_file(
            &asset,
            body.asset_file_category,
            &body.file_name,
            &file_type,
            body.file_size,
        )?;
        // A storage quota reserves declared sizes before the bytes arrive.
        if body.file_size.is_none() {
            let quota = self.catalog.quota(&caller.project_id).await?;
            if quota.is_some_and(|q| q.max_bytes.is_some()) {
                return Err(invalid(
                    "file_size",
                    "is required while the project has a storage quota (max_bytes)",
                ));
            }
        }
        let parts = body.file_multipart_count.unwrap_or(1);
        let mut file = Self::new_record(
            caller,
            &asset,
            &body.file_name,
            file_type,
            body.asset_file_category,
        );
        file.file_size = body.file_size;
        file.multipart_count = Some(parts);
        let urls = (1..=parts as u32)
            .map(|part| {
                self.links
                    .upload_url(&file.file_id, part, -1, file.create_time)
            })
            .collect();
        let file_id = file.file_id.clone();
        self.insert(asset, file).await?;
        Ok(UploadTarget {
            file_id,
            upload_urls: urls,
        })
    }

    /// Checks an upload URL and returns the file it addresses, which must still be CREATING.
    async fn ticket_file(
        &self,
        file_id: &str,
        ticket: &UploadTicket,
    ) -> Result<FileRecord, FileError> {
        self.links.verify_upload(
            file_id,
            ticket.part,
            ticket.size,
            ticket.expires,
            &ticket.signature,
            OffsetDateTime::now_utc(),
        )?;
        let file = self
            .catalog
            .file(file_id)
            .await?
            .ok_or_else(|| FileError::NotFound(file_id.to_owned()))?;
        if file.state != FileState::Creating {
            return Err(FileError::State(format!(
                "file is {}; uploads are accepted only while it is CREATING",
                file.state
            )));
        }
        Ok(file)
    }

    /// The upload PUT: streams `body` into the blob store, verifying the declared size and
    /// MD5 (and `Content-MD5` when sent). A failed PUT stores nothing and may be retried.
    pub async fn upload<S, E>(
        &self,
        file_id: &str,
        ticket: UploadTicket,
        content_md5: Option<&str>,
        content_length: Option<u64>,
        body: S,
    ) -> Result<Written, FileError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display + Send,
    {
        let file = self.ticket_file(file_id, &ticket).await?;
        let header_md5 = content_md5
            .map(|v| {
                decode_md5(v.trim()).ok_or_else(|| {
                    invalid("Content-MD5", "must be base64 of the 16-byte MD5 digest")
                })
            })
            .transpose()?;
        let single = file.multipart_count.is_none();
        if single != (ticket.part == 0) {
            return Err(invalid("part", "does not belong to this file"));
        }
        let declared_md5 = if single {
            file.file_md5.as_deref().and_then(decode_md5)
        } else {
            None
        };
        let size = single.then_some(file.file_size).flatten().map(|s| s as u64);
        if let (Some(declared), Some(sent)) = (declared_md5, header_md5) {
            if declared != sent {
                let refused = BlobError::md5_mismatch(&declared, &sent);
                return Err(self.refused(&file, refused.into()).await);
            }
        }
        if let (Some(size), Some(length)) = (size, content_length) {
            if size != length {
                return Err(BlobError::TooSmall {
                    got: length,
                    expected: size,
                }
                .into());
            }
        }
        // A part cannot be larger than the whole file it belongs to.
        let max_size = file
            .file_size
            .unwrap_or(crate::model::files::MAX_LARGE_FILE_SIZE) as u64;
        let expect = Expect {
            size,
            max_size: (!single).then_some(max_size),
            md5: [declared_md5, header_md5],
        };
        let stored = if single {
            self.storage.store(body, expect).await.map(Ok)
        } else {
            self.storage
                .store_part(file_id, ticket.part, body, expect)
                .await
                .map(Err)
        };
        let stored = match stored {
            Ok(Ok(stored)) => stored,
            Ok(Err(part)) => {
                tracing::info!(file.id = %file_id, part = ticket.part, size_bytes = part.size, "part stored");
                return Ok(part);
            }
            Err(e) => {
                tracing::info!(file.id = %file_id, error = %e, "upload refused");
                return Err(if single {
                    self.refused(&file, e.into()).await
                } else {
                    e.into()
                });
            }
        };
        let written = stored.written.clone();
        let mismatch = sniff::check(&file.file_type, &written.head).err();
        self.record_upload(file_id, stored, mismatch).await?;
        tracing::info!(file.id = %file_id, size_bytes = written.size, "upload stored");
        Ok(written)
    }

    /// Records why an upload was refused on the file (and on its asset, for a MAIN file of
    /// an asset still CREATING), so `show_asset` says what went wrong; the file stays
    /// CREATING and the upload can be retried. Returns `error` for the client.
    async fn refused(&self, file: &FileRecord, error: FileError) -> FileError {
        if error.code() != Code::UploadMismatch {
            return error;
        }
        let reason = format!("the last upload was refused: {error}");
        let noted = self
            .catalog
            .update(
                || async {
                    let Some(mut file) = self.catalog.file(&file.file_id).await? else {
                        return Ok(Change::Keep(()));
                    };
                    if file.state != FileState::Creating {
                        return Ok(Change::Keep(()));
                    }
                    let now = OffsetDateTime::now_utc();
                    let mut write = Write::default();
                    if file.asset_file_category == FileCategory::Main {
                        if let Some(mut asset) = self.catalog.asset(&file.asset_id).await? {
                            if asset.asset_state == AssetState::Creating {
                                asset.reason = Some(reason.clone());
                                asset.update_time = now;
                                write.assets.push(asset);
                            }
                        }
                    }
                    file.reason = Some(reason.clone());
                    file.update_time = now;
                    write.files.push(file);
                    Ok(Change::Commit(write, ()))
                },
                || FileError::Busy(file.file_id.clone()),
            )
            .await;
        if let Err(e) = noted {
            tracing::warn!(file.id = %file.file_id, error = %e, "could not record why an upload was refused");
        }
        error
    }

    /// Points a CREATING file at its newly stored bytes (or at an identical copy already
    /// stored: the catalogue decides in the same write). Bytes that cannot be recorded go
    /// with `stored`.
    async fn record_upload(
        &self,
        file_id: &str,
        stored: Stored,
        mismatch: Option<String>,
    ) -> Result<(), FileError> {
        let (recording, mismatch) = (&stored, &mismatch);
        self.catalog
            .update(
                || async move {
                    let mut file = self
                        .catalog
                        .file(file_id)
                        .await?
                        .ok_or_else(|| FileError::NotFound(file_id.to_owned()))?;
                    if file.state != FileState::Creating {
                        return Err(FileError::State(format!(
                            "file became {} during the upload",
                            file.state
                        )));
                    }
                    let now = OffsetDateTime::now_utc();
                    let mut write = Write::default();
                    // A refusal noted by an earlier attempt no longer holds.
                    if let Some(old) = file.reason.take() {
                        if let Some(mut asset) = self.catalog.asset(&file.asset_id).await? {
                            if asset.reason.as_ref() == Some(&old) {
                                asset.reason = None;
                                asset.update_time = now;
                                write.assets.push(asset);
                            }
                        }
                    }
                    file.blob_key = Some(recording.key());
                    file.content_mismatch = mismatch.clone();
                    file.update_time = now;
                    write.files.push(file);
                    write.stored_blobs.push(recording.blob.clone());
                    Ok(Change::Commit(write, ()))
                },
                || FileError::Busy(file_id.to_owned()),
            )
            .await?;
        stored.recorded();
        Ok(())
    }

    /// Size of an already stored part (or of the stored bytes of a single upload), for
    /// resuming an upload.
    pub async fn part_size(
        &self,
        file_id: &str,
        ticket: UploadTicket,
    ) -> Result<Option<u64>, FileError> {
        let file = self.ticket_file(file_id, &ticket).await?;
        if file.multipart_count.is_none() {
            return match &file.blob_key {
                Some(key) => Ok(self.storage.blob_size(key).await?),
                None => Ok(None),
            };
        }
        let key = BlobKey::Part {
            file_id: file_id.to_owned(),
            part: ticket.part,
        };
        Ok(self.storage.blobs().size(&key).await?)
    }

    /// Joins the parts of a multipart upload into new content.
    async fn assemble(&self, file: &FileRecord) -> Result<Stored, FileError> {
        let count = file.multipart_count.unwrap_or(1) as u32;
        let mut parts = Vec::new();
        for part in 1..=count {
            let key = BlobKey::Part {
                file_id: file.file_id.clone(),
                part,
            };
            if self.storage.blobs().size(&key).await?.is_none() {
                return Err(FileError::State(format!(
                    "part {part} of {count} has not been uploaded"
                )));
            }
            parts.push(key);
        }
        let expect = Expect {
            size: file.file_size.map(|s| s as u64),
            ..Expect::default()
        };
        Ok(self.storage.store_concat(parts, expect).await?)
    }

    /// `confirm_file_upload`: the client reports CREATED, FAILED or CANCELLED. Repeating a
    /// confirmation that already took effect succeeds.
    pub async fn confirm(
        &self,
        caller: &Caller,
        file_id: &str,
        state: FileState,
    ) -> Result<(), FileError> {
        if !matches!(
            state,
            FileState::Created | FileState::Failed | FileState::Cancelled
        ) {
            return Err(invalid("state", "must be CREATED, FAILED or CANCELLED"));
        }
        // A large file's parts are joined once, however often the write below starts over;
        // if it does not commit, dropping the assembled bytes removes them again.
        let assembled = match self.owned_file(caller, file_id).await? {
            file if state == FileState::Created
                && file.state == FileState::Creating
                && file.multipart_count.is_some() =>
            {
                Some(self.assemble(&file).await?)
            }
            _ => None,
        };
        let attempt = || self.confirm_attempt(caller, file_id, state, assembled.as_ref());
        let busy = || FileError::Busy(file_id.to_owned());
        let confirmed = match self.catalog.update(attempt, busy).await {
            Ok(confirmed) => confirmed,
            Err(e) => {
                // A refused confirmation leaves no assembled bytes behind.
                if let Some(stored) = assembled {
                    stored.discard().await;
                }
                return Err(e);
            }
        };
        let Some(done) = confirmed else {
            return Ok(());
        };
        if let Some(stored) = assembled {
            stored.recorded();
        }
        if done.queued {
            self.wake.notify_waiters();
        }
        // The parts now live on in the assembled blob (or nowhere).
        self.remove_parts(file_id, done.parts).await;
        tracing::info!(file.id = %file_id, state = %state, asset.state = %done.asset_state, "upload confirmed");
        Ok(())
    }

    /// One attempt of [`Self::confirm`] on fresh records; `Keep(None)` when the confirmation
    /// already took effect.
    async fn confirm_attempt(
        &self,
        caller: &Caller,
        file_id: &str,
        state: FileState,
        assembled: Option<&Stored>,
    ) -> Result<Change<Option<Confirmed>>, FileError> {
        let mut file = self.owned_file(caller, file_id).await?;
        let mut asset = self.owned_asset(caller, &file.asset_id).await?;
        let settled = match (file.state, state) {
            (FileState::Creating, _) => false,
            (FileState::Created | FileState::Uploaded | FileState::Review, FileState::Created)
            | (FileState::Failed, FileState::Failed)
            | (FileState::Cancelled, FileState::Cancelled) => true,
            // CREATED already took effect and the content check failed the file.
            (FileState::Failed, FileState::Created)
                if file.content_mismatch.is_some() && file.reason == file.content_mismatch =>
            {
                true
            }
            (current, _) => {
                return Err(FileError::State(format!(
                    "file is already {current}; it cannot become {state}"
                )))
            }
        };
        if settled {
            return Ok(Change::Keep(None));
        }
        let now = OffsetDateTime::now_utc();
        let mut write = Write::default();
        match state {
            FileState::Created => {
                if file.multipart_count.is_some() {
                    let Some(stored) = assembled else {
                        return Err(FileError::State(
                            "the file's parts were assembled by another confirmation; retry".into(),
                        ));
                    };
                    file.file_size = Some(stored.blob.size);
                    file.file_md5 = Some(stored.blob.md5.clone());
                    file.blob_key = Some(stored.key());
                    file.content_mismatch =
                        sniff::check(&file.file_type, &stored.written.head).err();
                    write.stored_blobs.push(stored.blob.clone());
                    // A large file may omit its size at creation; the main-file limit
                    // of the asset type still holds for what arrived.
                    let limit = main_file_rule(asset.asset_type)
                        .filter(|_| file.asset_file_category == FileCategory::Main)
                        .map(|(_, limit)| limit);
                    if let Some(limit) = limit.filter(|l| file.file_size > Some(*l)) {
                        return Err(invalid(
                            "file_size",
                            format!(
                                "the main file of an asset of type {} must not exceed {limit} bytes",
                                asset.asset_type
                            ),
                        ));
                    }
                } else if file.blob_key.is_none() {
                    return Err(FileError::State(
                        "the file has not been uploaded (or its upload failed verification); PUT it to upload_url first".into(),
                    ));
                }
                if file.asset_file_category == FileCategory::Main {
                    if queue_main_file(&mut asset, &mut file, now) {
                        write.jobs.push(
                            Job::ProcessMainFile {
                                asset_id: asset.asset_id.clone(),
                                file_id: file.file_id.clone(),
                            }
                            .to_new(self.job_attempts)
                            .in_lane(Lane::for_main_file(asset.asset_type)),
                        );
                    }
                    write.assets.push(asset.clone());
                } else if let Some(reason) = &file.content_mismatch {
                    file.state = FileState::Failed;
                    file.reason = Some(reason.clone());
                } else {
                    file.state = FileState::Created;
                }
            }
            FileState::Failed => {
                file.state = FileState::Failed;
                file.reason = Some("the client reported that the upload failed".into());
                if file.asset_file_category == FileCategory::Main
                    && asset.asset_state == AssetState::Creating
                {
                    asset.asset_state = AssetState::Failed;
                    asset.reason = file.reason.clone();
                    asset.update_time = now;
                    write.assets.push(asset.clone());
                }
            }
            _ => {
                // Dropping the reference is all it takes: the catalogue deletes bytes nobody
                // else refers to.
                file.state = FileState::Cancelled;
                file.blob_key = None;
            }
        }
        file.update_time = now;
        let confirmed = Confirmed {
            parts: file
                .multipart_count
                .filter(|_| matches!(state, FileState::Created | FileState::Cancelled)),
            queued: !write.jobs.is_empty(),
            asset_state: asset.asset_state,
        };
        write.files.push(file);
        Ok(Change::Commit(write, Some(confirmed)))
    }

    /// Removes the stored parts of a multipart upload that is over; what fails here the
    /// reconciliation sweep removes later.
    async fn remove_parts(&self, file_id: &str, parts: Option<i32>) {
        if let Some(n) = parts {
            if let Err(e) = self.storage.blobs().delete_parts(file_id, n as u32).await {
                tracing::warn!(file.id = %file_id, error = %e, "could not remove the parts of an upload; the reconciliation sweep will");
            }
        }
    }

    /// `delete_file`: the file is DELETED and its bytes removed. Deleting the MAIN file sends
    /// a live asset back to CREATING, waiting for a new main file.
    pub async fn delete(&self, caller: &Caller, file_id: &str) -> Result<(), FileError> {
        let parts = self
            .catalog
            .update(
                || async move {
                    let mut file = self.owned_file(caller, file_id).await?;
                    let mut asset = self.owned_asset(caller, &file.asset_id).await?;
                    let now = OffsetDateTime::now_utc();
                    let mut write = Write::default();
                    if file.asset_file_category == FileCategory::Main {
                        let mut changed = forget_outputs(&mut asset);
                        if matches!(
                            asset.asset_state,
                            AssetState::Actived | AssetState::Unactived | AssetState::Failed
                        ) {
                            asset.asset_state = AssetState::Creating;
                            asset.reason = None;
                            asset.fail_type = None;
                            changed = true;
                        }
                        if changed {
                            asset.update_time = now;
                            write.assets.push(asset);
                        }
                    }
                    // Dropping the reference is all it takes: the catalogue deletes bytes
                    // nobody else refers to.
                    file.state = FileState::Deleted;
                    file.blob_key = None;
                    file.update_time = now;
                    let parts = file.multipart_count;
                    // What processing made from a MAIN file (cover, thumbnail, rendition, pages) goes
                    // with it, so a new MAIN file starts clean.
                    let mut made = Vec::new();
                    if file.asset_file_category == FileCategory::Main {
                        for mut output in self.catalog.files_of(&[file.asset_id.clone()]).await? {
                            if output.made_from(file_id) && output.state != FileState::Deleted {
                                output.state = FileState::Deleted;
                                output.blob_key = None;
                                output.update_time = now;
                                made.push(output);
                            }
                        }
                    }
                    write.files.push(file);
                    write.files.extend(made);
                    Ok(Change::Commit(write, parts))
                },
                || FileError::Busy(file_id.to_owned()),
            )
            .await?;
        self.remove_parts(file_id, parts).await;
        Ok(())
    }

    /// Checks a download URL and opens the requested bytes. `range` is the raw `Range`
    /// header; unsupported forms are ignored and the whole file is served.
    pub async fn download(
        &self,
        file_id: &str,
        expires: i64,
        owner: bool,
        signature: &str,
        range: Option<&str>,
    ) -> Result<Download, FileError> {
        self.links.verify_download(
            file_id,
            expires,
            owner,
            signature,
            OffsetDateTime::now_utc(),
        )?;
        let not_found = || FileError::NotFound(file_id.to_owned());
        let file = self.catalog.file(file_id).await?.ok_or_else(not_found)?;
        let asset = self
            .catalog
            .asset(&file.asset_id)
            .await?
            .ok_or_else(not_found)?;
        // The asset's state decides first, so the answer does not depend on whether the
        // purge of a deleted asset's files has run yet.
        if !files_downloadable(&asset) {
            return Err(FileError::NotDownloadable(asset.asset_state));
        }
        let blob_key = match (&file.state, &file.blob_key) {
            (FileState::Created, Some(key)) => key.clone(),
            (FileState::Uploaded | FileState::Review, Some(key)) if owner => key.clone(),
            _ => return Err(not_found()),
        };
        // A URL for anyone serves only content that passed review; see `review_passed`.
        if !owner && !review_passed(&asset) {
            return Err(not_found());
        }
        let total = self
            .storage
            .blob_size(&blob_key)
            .await?
            .ok_or_else(not_found)?;
        let wanted = match range.map(|r| parse_range(r, total)) {
            Some(Err(Unsatisfiable)) => return Err(FileError::Unsatisfiable { total }),
            Some(Ok(r)) => r,
            None => None,
        };
        let partial = wanted.is_some();
        let opened = self.storage.open(&blob_key, wanted.clone()).await?;
        Ok(Download {
            file,
            total: opened.total,
            range: wanted.unwrap_or(0..opened.total),
            partial,
            body: opened.body,
        })
    }

    /// Cancels uploads left CREATING longer than `age`; returns how many. (What their
    /// writes left in the blob store is the reconciliation sweep's.)
    pub async fn sweep(&self, age: Duration) -> Result<usize, FileError> {
        let before = OffsetDateTime::now_utc() - age;
        let mut cancelled = 0;
        for mut file in self.catalog.stale_uploads(before, 500).await? {
            file.state = FileState::Cancelled;
            file.reason = Some("the upload was abandoned".into());
            file.blob_key = None;
            file.update_time = OffsetDateTime::now_utc();
            let (id, parts) = (file.file_id.clone(), file.multipart_count);
            match self
                .catalog
                .apply(Write {
                    files: vec![file],
                    ..Write::default()
                })
                .await
            {
                Ok(()) => {
                    self.remove_parts(&id, parts).await;
                    cancelled += 1;
                }
                Err(CatalogError::Conflict) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if cancelled > 0 {
            tracing::info!(uploads = cancelled, "swept abandoned uploads");
        }
        Ok(cancelled)
    }
}

/// Drops what processing recorded about a MAIN file that is being deleted (the pages of a
/// deck, its page count and analysis status, a video's transcoding status): the files they
/// point at go with it. Returns whether anything changed.
fn forget_outputs(asset: &mut Asset) -> bool {
    let before = asset.asset_extra_meta.clone();
    if let Some(ppt) = asset.asset_extra_meta.ppt_meta.as_mut() {
        ppt.pages = None;
        ppt.page_count = None;
        ppt.ppt_analysis_status = None;
        ppt.error_info = None;
    }
    if let Some(video) = asset.asset_extra_meta.video_meta.as_mut() {
        video.video_transcoding_status = None;
        video.error_info = None;
    }
    asset.asset_extra_meta != before
}

/// The one place where a confirmed MAIN file decides what happens next. Content that does
/// not match its declared type fails file and asset at once; anything else waits (UPLOADED)
/// for the processing job (`jobs::process`), which ends in ACTIVED or FAILED. Statuses that
/// processing moves start at WAITING. Returns whether a job is needed.
fn queue_main_file(asset: &mut Asset, file: &mut FileRecord, now: OffsetDateTime) -> bool {
    asset.update_time = now;
    if let Some(reason) = &file.content_mismatch {
        file.state = FileState::Failed;
        file.reason = Some(reason.clone());
        if matches!(asset.asset_state, AssetState::Creating | AssetState::Failed) {
            asset.asset_state = AssetState::Failed;
            // The server's own check of the upload refused it.
            asset.fail_type = Some(FailType::AutomaticReviewReject);
            asset.reason = Some(format!("main file {}: {reason}", file.file_name));
        }
        return false;
    }
    file.state = FileState::Uploaded;
    match asset.asset_type {
        AssetType::Video => {
            file.video_transcoding_status = Some(TranscodingStatus::Waiting);
            asset
                .asset_extra_meta
                .video_meta
                .get_or_insert_with(Default::default)
                .video_transcoding_status = Some(TranscodingStatus::Waiting);
        }
        AssetType::Ppt => {
            if let Some(meta) = asset.asset_extra_meta.ppt_meta.as_mut() {
                if meta.auto_analysis == Some(true) {
                    meta.ppt_analysis_status = Some(PptAnalysisStatus::Waiting);
                }
            }
        }
        _ => {}
    }
    true
}

/// A `Range` header that asks for bytes the blob does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsatisfiable;

/// Parses a single-range `Range` header against a blob of `total` bytes. `Ok(None)` means
/// "serve everything" (absent, multi-range or not a byte range).
pub fn parse_range(header: &str, total: u64) -> Result<Option<Range<u64>>, Unsatisfiable> {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((start, end)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (start, end) = (start.trim(), end.trim());
    let range = if start.is_empty() {
        let n: u64 = end.parse().map_err(|_| Unsatisfiable)?;
        if n == 0 {
            return Err(Unsatisfiable);
        }
        total.saturating_sub(n)..total
    } else {
        let s: u64 = start.parse().map_err(|_| Unsatisfiable)?;
        let e = if end.is_empty() {
            total
        } else {
            end.parse::<u64>()
                .map_err(|_| Unsatisfiable)?
                .saturating_add(1)
                .min(total)
        };
        if s >= total || e <= s {
            return Err(Unsatisfiable);
        }
        s..e
    };
    Ok(Some(range))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(parse_range("bytes=0-9", 100), Ok(Some(0..10)));
        assert_eq!(parse_range("bytes=90-", 100), Ok(Some(90..100)));
        assert_eq!(parse_range("bytes=-10", 100), Ok(Some(90..100)));
        assert_eq!(parse_range("bytes=-1000", 100), Ok(Some(0..100)));
        assert_eq!(parse_range("bytes=50-1000", 100), Ok(Some(50..100)));
        assert_eq!(parse_range("bytes=100-", 100), Err(Unsatisfiable));
        assert_eq!(parse_range("bytes=5-2", 100), Err(Unsatisfiable));
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Ok(None));
        assert_eq!(parse_range("items=0-1", 100), Ok(None));
    }

    #[test]
    fn main_file_rules_follow_the_seed_in_binary_units() {
        assert_eq!(main_file_rule(AssetType::Video).unwrap().1, 5_368_709_120);
        assert_eq!(main_file_rule(AssetType::Image).unwrap().1, 52_428_800);
        assert_eq!(main_file_rule(AssetType::Audio).unwrap().1, 104_857_600);
        assert_eq!(main_file_rule(AssetType::Ppt).unwrap().1, 104_857_600);
        assert!(main_file_rule(AssetType::CommonFile).is_none());
        assert!(main_file_rule(AssetType::Image)
            .unwrap()
            .0
            .contains(&"jpeg"));
    }

    #[test]
    fn images_take_only_a_main_file_and_videos_a_cover_too() {
        assert_eq!(allowed_categories(AssetType::Image)[0], FileCategory::Main);
        assert!(!allowed_categories(AssetType::Image).contains(&FileCategory::Cover));
        assert!(allowed_categories(AssetType::Video).contains(&FileCategory::Cover));
        assert!(allowed_categories(AssetType::Ppt).contains(&FileCategory::Page));
    }
}
