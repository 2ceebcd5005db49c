//! Handlers of `/v1/{project_id}/digital-assets…` and their wire replies (API.md §2.1–2.8).

use axum::extract::{Path, State};
use axum::Json;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{empty, EmptyReply};
use crate::app::App;
use crate::catalog::Asset;
use crate::http::error::{wire, ApiError};
use crate::http::extract::{JsonBody, QueryPairs};
use crate::model::{
    AssetExtraMeta, AssetSharedConfig, AssetState, AssetType, AutoOperationConfig,
    BatchAssetActionBody, CreateAssetBody, ErrorInfo, FailType, FileCategory, FileState,
    ListAssetSummarysBody, SupportedService, SystemProperty, TranscodingStatus, UpdateAssetBody,
};
use crate::service::assets::{
    parse_delete_mode, ActionOutcome, AssetSummary, AssetView, FileView, Processing,
};
use crate::service::auth::Caller;

/// RFC 3339 UTC with whole seconds, the form of every time in responses.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// Reply of `create_digital_asset`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreateAssetReply {
    /// The new asset's id.
    pub asset_id: String,
}

/// `file_extra_meta` of a file.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FileExtraMeta {
    /// Transcoding status of a video.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video_transcoding_status: Option<TranscodingStatus>,
}

/// AssetFileInfo (API.md §3.11).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AssetFileInfo {
    file_id: String,
    file_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_md5: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_size: Option<i64>,
    file_type: String,
    asset_file_category: FileCategory,
    #[serde(skip_serializing_if = "Option::is_none")]
    download_url: Option<String>,
    state: FileState,
    #[serde(skip_serializing_if = "Option::is_none")]
    block_reason_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_extra_meta: Option<FileExtraMeta>,
}

impl From<FileView> for AssetFileInfo {
    fn from(view: FileView) -> Self {
        let f = view.file;
        Self {
            file_id: f.file_id,
            file_name: f.file_name,
            file_md5: f.file_md5,
            file_size: f.file_size,
            file_type: f.file_type,
            asset_file_category: f.asset_file_category,
            download_url: view.download_url,
            state: f.state,
            block_reason_code: f.block_reason_code,
            reason: f.reason,
            file_extra_meta: f.video_transcoding_status.map(|s| FileExtraMeta {
                video_transcoding_status: Some(s),
            }),
        }
    }
}

/// DigitalAssetInfo (API.md §3.2): the list item and the body of show/update replies.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DigitalAssetInfo {
    project_id: String,
    asset_id: String,
    asset_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    asset_description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    app_user_id: Option<String>,
    create_time: String,
    update_time: String,
    asset_type: AssetType,
    asset_state: AssetState,
    #[serde(skip_serializing_if = "Option::is_none")]
    fail_type: Option<FailType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    block_reason_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    tags: Vec<String>,
    asset_extra_meta: AssetExtraMeta,
    system_properties: Vec<SystemProperty>,
    files: Vec<AssetFileInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    asset_order: Option<i32>,
    supported_service: Vec<SupportedService>,
    auto_operation_config: Vec<AutoOperationConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shared_config: Option<AssetSharedConfig>,
    /// Extension: while the MAIN file is processed, which step runs (`show_asset` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    processing: Option<ProcessingInfo>,
}

/// Extension of `show_asset`: where processing of the MAIN file stands while it is pending.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProcessingInfo {
    /// `queued`, `probing`, `thumbnail`, `cover`, `transcoding`, `converting`,
    /// `rendering_pages` or `reviewing`.
    step: crate::jobs::progress::Step,
    /// Percent done, while transcoding (from ffmpeg's progress reports).
    #[serde(skip_serializing_if = "Option::is_none")]
    percent: Option<u8>,
    /// The attempt running (or next), from 1.
    attempt: i32,
    /// Attempts allowed before the asset fails.
    max_attempts: i32,
}

impl From<Processing> for ProcessingInfo {
    fn from(p: Processing) -> Self {
        Self {
            step: p.step,
            percent: p.percent,
            attempt: p.attempt,
            max_attempts: p.max_attempts,
        }
    }
}

impl DigitalAssetInfo {
    fn new(asset: Asset, files: Vec<AssetFileInfo>) -> Self {
        Self {
            project_id: asset.project_id,
            asset_id: asset.asset_id,
            asset_name: asset.asset_name,
            asset_description: asset.asset_description,
            app_user_id: asset.app_user_id,
            create_time: rfc3339(asset.create_time),
            update_time: rfc3339(asset.update_time),
            asset_type: asset.asset_type,
            asset_state: asset.asset_state,
            fail_type: asset.fail_type,
            block_reason_code: asset.block_reason_code,
            reason: asset.reason,
            tags: asset.tags,
            asset_extra_meta: asset.asset_extra_meta,
            system_properties: asset.system_properties,
            files,
            asset_order: asset.asset_order,
            supported_service: asset.supported_service,
            auto_operation_config: asset.auto_operation_config,
            shared_config: asset.shared_config,
            processing: None,
        }
    }
}

impl From<AssetView> for DigitalAssetInfo {
    fn from(view: AssetView) -> Self {
        let files = view.files.into_iter().map(Into::into).collect();
        let mut info = Self::new(view.asset, files);
        info.processing = view.processing.map(Into::into);
        info
    }
}

/// Reply of `list_assets`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListAssetsReply {
    /// Total matches.
    pub count: u64,
    /// The requested page.
    pub assets: Vec<DigitalAssetInfo>,
}

/// DigitalAssetSummary.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DigitalAssetSummary {
    asset_id: String,
    asset_name: String,
    asset_state: AssetState,
    asset_type: AssetType,
    #[serde(skip_serializing_if = "Option::is_none")]
    block_reason_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cover_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thumbnail_url: Option<String>,
}

impl From<AssetSummary> for DigitalAssetSummary {
    fn from(s: AssetSummary) -> Self {
        Self {
            asset_id: s.asset.asset_id,
            asset_name: s.asset.asset_name,
            asset_state: s.asset.asset_state,
            asset_type: s.asset.asset_type,
            block_reason_code: s.asset.block_reason_code,
            cover_url: s.cover_url,
            thumbnail_url: s.thumbnail_url,
        }
    }
}

/// Reply of `list_asset_summary`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListAssetSummaryReply {
    /// Summaries in request order.
    pub asset_list: Vec<DigitalAssetSummary>,
}

/// AssetActionResult.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AssetActionResult {
    ret_status: &'static str,
    asset_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_info: Option<ErrorInfo>,
}

impl From<ActionOutcome> for AssetActionResult {
    fn from(o: ActionOutcome) -> Self {
        Self {
            ret_status: if o.error.is_none() {
                "SUCCESS"
            } else {
                "FAILED"
            },
            asset_ids: o.asset_ids,
            error_info: o.error.map(|(code, msg)| ErrorInfo {
                error_code: Some(wire(code).1.to_owned()),
                error_msg: Some(msg),
            }),
        }
    }
}

/// Reply of `batch_execute_asset_action`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchAssetActionReply {
    /// One entry per outcome.
    pub results: Vec<AssetActionResult>,
}

/// POST `/v1/{project_id}/digital-assets`.
#[utoipa::path(post, path = "/v1/{project_id}/digital-assets", tag = "assets",
    operation_id = "create_digital_asset", request_body = CreateAssetBody,
    responses((status = 200, body = CreateAssetReply)))]
pub async fn create_asset(
    caller: Caller,
    State(app): State<App>,
    JsonBody(body): JsonBody<CreateAssetBody>,
) -> Result<Json<CreateAssetReply>, ApiError> {
    let asset = app.assets.create(&caller, body).await?;
    Ok(Json(CreateAssetReply {
        asset_id: asset.asset_id,
    }))
}

/// GET `/v1/{project_id}/digital-assets`.
#[utoipa::path(get, path = "/v1/{project_id}/digital-assets", tag = "assets",
    operation_id = "list_assets", params(crate::http::openapi::ListAssetsParams),
    responses((status = 200, body = ListAssetsReply)))]
pub async fn list_assets(
    caller: Caller,
    State(app): State<App>,
    QueryPairs(params): QueryPairs,
) -> Result<Json<ListAssetsReply>, ApiError> {
    let (count, views) = app.assets.list(&caller, &params).await?;
    Ok(Json(ListAssetsReply {
        count,
        assets: views.into_iter().map(Into::into).collect(),
    }))
}

/// GET `/v1/{project_id}/digital-assets/{asset_id}`.
#[utoipa::path(get, path = "/v1/{project_id}/digital-assets/{asset_id}", tag = "assets",
    operation_id = "show_asset",
    responses((status = 200, description = "The asset; while its MAIN file is processed, `processing` says which step runs", body = DigitalAssetInfo)))]
pub async fn show_asset(
    caller: Caller,
    State(app): State<App>,
    Path((_, asset_id)): Path<(String, String)>,
) -> Result<Json<DigitalAssetInfo>, ApiError> {
    Ok(Json(app.assets.show(&caller, &asset_id).await?.into()))
}

/// PUT `/v1/{project_id}/digital-assets/{asset_id}`.
#[utoipa::path(put, path = "/v1/{project_id}/digital-assets/{asset_id}", tag = "assets",
    operation_id = "update_digital_asset", request_body = UpdateAssetBody,
    responses((status = 200, body = DigitalAssetInfo)))]
pub async fn update_asset(
    caller: Caller,
    State(app): State<App>,
    Path((_, asset_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<UpdateAssetBody>,
) -> Result<Json<DigitalAssetInfo>, ApiError> {
    Ok(Json(
        app.assets.update(&caller, &asset_id, body).await?.into(),
    ))
}

/// DELETE `/v1/{project_id}/digital-assets/{asset_id}` (`?mode=force` for permanent).
#[utoipa::path(delete, path = "/v1/{project_id}/digital-assets/{asset_id}", tag = "assets",
    operation_id = "delete_asset",
    params(("mode" = Option<String>, Query, description = "`force` deletes permanently; otherwise the asset goes to the recycle bin")),
    responses((status = 200, body = EmptyReply)))]
pub async fn delete_asset(
    caller: Caller,
    State(app): State<App>,
    Path((_, asset_id)): Path<(String, String)>,
    QueryPairs(params): QueryPairs,
) -> Result<Json<EmptyReply>, ApiError> {
    let force = parse_delete_mode(&params)?;
    app.assets.delete(&caller, &asset_id, force).await?;
    Ok(empty())
}

/// POST `/v1/{project_id}/digital-assets/{asset_id}/restore`.
#[utoipa::path(post, path = "/v1/{project_id}/digital-assets/{asset_id}/restore", tag = "assets",
    operation_id = "restore_asset", responses((status = 200, body = EmptyReply)))]
pub async fn restore_asset(
    caller: Caller,
    State(app): State<App>,
    Path((_, asset_id)): Path<(String, String)>,
) -> Result<Json<EmptyReply>, ApiError> {
    app.assets.restore(&caller, &asset_id).await?;
    Ok(empty())
}

/// POST `/v1/{project_id}/digital-assets/summarys`.
#[utoipa::path(post, path = "/v1/{project_id}/digital-assets/summarys", tag = "assets",
    operation_id = "list_asset_summary", request_body = ListAssetSummarysBody,
    responses((status = 200, body = ListAssetSummaryReply)))]
pub async fn list_asset_summarys(
    caller: Caller,
    State(app): State<App>,
    JsonBody(body): JsonBody<ListAssetSummarysBody>,
) -> Result<Json<ListAssetSummaryReply>, ApiError> {
    let summaries = app.assets.summaries(&caller, &body.asset_ids).await?;
    Ok(Json(ListAssetSummaryReply {
        asset_list: summaries.into_iter().map(Into::into).collect(),
    }))
}

/// POST `/v1/{project_id}/digital-assets/batch-action`.
#[utoipa::path(post, path = "/v1/{project_id}/digital-assets/batch-action", tag = "assets",
    operation_id = "batch_execute_asset_action", request_body = BatchAssetActionBody,
    responses((status = 200, body = BatchAssetActionReply)))]
pub async fn batch_asset_action(
    caller: Caller,
    State(app): State<App>,
    JsonBody(body): JsonBody<BatchAssetActionBody>,
) -> Result<Json<BatchAssetActionReply>, ApiError> {
    let outcomes = app.assets.batch(&caller, body).await?;
    Ok(Json(BatchAssetActionReply {
        results: outcomes.into_iter().map(Into::into).collect(),
    }))
}

/// One read of a shared asset by another project.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccessLogEntry {
    reader_project_id: String,
    action: String,
    time: String,
}

/// Reply of `list_access_logs`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListAccessLogsReply {
    /// Reads in total.
    pub count: u64,
    /// This page, newest first.
    pub logs: Vec<AccessLogEntry>,
}

/// GET `/v1/{project_id}/digital-assets/{asset_id}/access-logs` (owner only).
#[utoipa::path(get, path = "/v1/{project_id}/digital-assets/{asset_id}/access-logs", tag = "extensions",
    operation_id = "list_access_logs",
    params(("limit" = Option<u32>, Query, description = "page size, 1–100, default 10"),
           ("offset" = Option<u64>, Query, description = "entries skipped")),
    responses((status = 200, body = ListAccessLogsReply)))]
pub async fn list_access_logs(
    caller: Caller,
    State(app): State<App>,
    Path((_, asset_id)): Path<(String, String)>,
    QueryPairs(params): QueryPairs,
) -> Result<Json<ListAccessLogsReply>, ApiError> {
    let (count, records) = app.assets.access_log(&caller, &asset_id, &params).await?;
    Ok(Json(ListAccessLogsReply {
        count,
        logs: records
            .into_iter()
            .map(|r| AccessLogEntry {
                reader_project_id: r.reader_project_id,
                action: r.action,
                time: rfc3339(r.at),
            })
            .collect(),
    }))
}
