//! Admin handlers for where bytes live: stored against logical bytes, and what the
//! scrubber found damaged.

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use super::assets::rfc3339;
use crate::app::App;
use crate::catalog::DamagedFile;
use crate::http::error::ApiError;
use crate::http::extract::QueryPairs;
use crate::service::auth::Caller;

/// Reply of `show_storage`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StorageReply {
    /// Distinct contents stored.
    pub stored_blobs: u64,
    /// Bytes the blob store holds.
    pub stored_bytes: u64,
    /// Files referring to stored content.
    pub logical_files: u64,
    /// Bytes of those files, counted per file.
    pub logical_bytes: u64,
    /// `logical_bytes - stored_bytes`: what storing identical content once saves.
    pub saved_bytes: u64,
}

/// One damaged file.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DamagedEntry {
    file_id: String,
    asset_id: String,
    project_id: String,
    damage: String,
    found_time: Option<String>,
}

impl From<DamagedFile> for DamagedEntry {
    fn from(f: DamagedFile) -> Self {
        Self {
            file_id: f.file_id,
            asset_id: f.asset_id,
            project_id: f.project_id,
            damage: f.damage,
            found_time: f.checked_at.map(rfc3339),
        }
    }
}

/// Reply of `show_scrub`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScrubReply {
    /// Files whose bytes are damaged, in total.
    pub count: u64,
    /// The first `limit` of them (default 100, at most 1000), oldest finding first.
    pub damaged_files: Vec<DamagedEntry>,
}

/// GET `/v1/{project_id}/admin/storage`.
#[utoipa::path(get, path = "/v1/{project_id}/admin/storage", tag = "admin",
    operation_id = "show_storage",
    responses((status = 200, body = StorageReply)))]
pub async fn show_storage(
    caller: Caller,
    State(app): State<App>,
) -> Result<Json<StorageReply>, ApiError> {
    let usage = app.storage.usage(&caller).await?;
    Ok(Json(StorageReply {
        stored_blobs: usage.blobs,
        stored_bytes: usage.stored_bytes,
        logical_files: usage.files,
        logical_bytes: usage.logical_bytes,
        saved_bytes: usage.logical_bytes.saturating_sub(usage.stored_bytes),
    }))
}

/// GET `/v1/{project_id}/admin/scrub`.
#[utoipa::path(get, path = "/v1/{project_id}/admin/scrub", tag = "admin",
    operation_id = "show_scrub",
    params(("limit" = Option<u32>, Query, description = "files listed, default 100, at most 1000")),
    responses((status = 200, body = ScrubReply)))]
pub async fn show_scrub(
    caller: Caller,
    State(app): State<App>,
    QueryPairs(params): QueryPairs,
) -> Result<Json<ScrubReply>, ApiError> {
    let limit = params
        .iter()
        .find(|(k, _)| k == "limit")
        .and_then(|(_, v)| v.parse::<u32>().ok())
        .unwrap_or(100)
        .clamp(1, 1000);
    let report = app.storage.scrub_report(&caller, limit).await?;
    Ok(Json(ScrubReply {
        count: report.count,
        damaged_files: report.files.into_iter().map(Into::into).collect(),
    }))
}
