//! Admin handlers under `/v1/{project_id}/admin/…` (admin credentials only): the manual
//! review queue, the review whitelist, and BLOCK / unblock of any asset.

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::assets::rfc3339;
use super::{empty, EmptyReply};
use crate::app::App;
use crate::http::error::ApiError;
use crate::http::extract::{JsonBody, QueryPairs};
use crate::model::{AssetState, AssetType};
use crate::service::admin::ReviewItem;
use crate::service::auth::Caller;

/// One entry of the review queue.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReviewEntry {
    file_id: String,
    file_name: String,
    asset_id: String,
    asset_name: String,
    asset_type: AssetType,
    project_id: String,
    reason: Option<String>,
    download_url: String,
    queued_time: String,
}

impl From<ReviewItem> for ReviewEntry {
    fn from(item: ReviewItem) -> Self {
        Self {
            file_id: item.file.file_id,
            file_name: item.file.file_name,
            asset_id: item.asset.asset_id,
            asset_name: item.asset.asset_name,
            asset_type: item.asset.asset_type,
            project_id: item.asset.project_id,
            reason: item.file.reason,
            download_url: item.download_url,
            queued_time: rfc3339(item.file.update_time),
        }
    }
}

/// Reply of `list_reviews`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListReviewsReply {
    /// Files waiting in total.
    pub count: u64,
    /// This page, oldest first.
    pub reviews: Vec<ReviewEntry>,
}

/// Body of `decide_review`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct DecideReviewBody {
    /// `APPROVE` or `REJECT`.
    pub action: ReviewAction,
    /// Why; required to reject.
    #[serde(default)]
    pub reason: Option<String>,
}

/// A reviewer's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReviewAction {
    /// The asset becomes usable.
    Approve,
    /// The asset FAILS with MANUAL_REVIEW_REJECT.
    Reject,
}

/// Body of `block_asset` / `unblock_asset`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct BlockBody {
    /// Freeze reason code (block only), 1–64 characters; `ADMIN` when absent.
    #[serde(default)]
    pub block_reason_code: Option<String>,
    /// Reason shown on the asset, 1–1024 characters.
    #[serde(default)]
    pub reason: Option<String>,
}

/// Reply of `block_asset` / `unblock_asset`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BlockReply {
    asset_id: String,
    asset_state: AssetState,
    #[serde(skip_serializing_if = "Option::is_none")]
    block_reason_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// Reply of `list_review_whitelist`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WhitelistReply {
    /// Projects whose `no_need_review` is honoured.
    pub project_ids: Vec<String>,
}

fn page(params: &[(String, String)]) -> (u32, u64) {
    let get = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key == k)
            .and_then(|(_, v)| v.parse::<u64>().ok())
    };
    let limit = get("limit").unwrap_or(10).clamp(1, 100) as u32;
    (limit, get("offset").unwrap_or(0))
}

/// GET `/v1/{project_id}/admin/reviews`.
#[utoipa::path(get, path = "/v1/{project_id}/admin/reviews", tag = "admin",
    operation_id = "list_reviews",
    params(("limit" = Option<u32>, Query, description = "page size, 1–100, default 10"),
           ("offset" = Option<u64>, Query, description = "entries skipped")),
    responses((status = 200, body = ListReviewsReply)))]
pub async fn list_reviews(
    caller: Caller,
    State(app): State<App>,
    QueryPairs(params): QueryPairs,
) -> Result<Json<ListReviewsReply>, ApiError> {
    let (limit, offset) = page(&params);
    let (count, items) = app.admin.review_queue(&caller, limit, offset).await?;
    Ok(Json(ListReviewsReply {
        count,
        reviews: items.into_iter().map(Into::into).collect(),
    }))
}

/// POST `/v1/{project_id}/admin/reviews/{file_id}`.
#[utoipa::path(post, path = "/v1/{project_id}/admin/reviews/{file_id}", tag = "admin",
    operation_id = "decide_review", request_body = DecideReviewBody,
    responses((status = 200, body = EmptyReply)))]
pub async fn decide_review(
    caller: Caller,
    State(app): State<App>,
    Path((_, file_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<DecideReviewBody>,
) -> Result<Json<EmptyReply>, ApiError> {
    let approve = body.action == ReviewAction::Approve;
    app.admin
        .decide(&caller, &file_id, approve, body.reason)
        .await?;
    Ok(empty())
}

/// GET `/v1/{project_id}/admin/review-whitelist`.
#[utoipa::path(get, path = "/v1/{project_id}/admin/review-whitelist", tag = "admin",
    operation_id = "list_review_whitelist", responses((status = 200, body = WhitelistReply)))]
pub async fn list_review_whitelist(
    caller: Caller,
    State(app): State<App>,
) -> Result<Json<WhitelistReply>, ApiError> {
    Ok(Json(WhitelistReply {
        project_ids: app.admin.whitelist(&caller).await?,
    }))
}

/// PUT `/v1/{project_id}/admin/review-whitelist/{target}`.
#[utoipa::path(put, path = "/v1/{project_id}/admin/review-whitelist/{target}", tag = "admin",
    operation_id = "add_review_whitelist", responses((status = 200, body = EmptyReply)))]
pub async fn add_review_whitelist(
    caller: Caller,
    State(app): State<App>,
    Path((_, target)): Path<(String, String)>,
) -> Result<Json<EmptyReply>, ApiError> {
    app.admin.set_whitelisted(&caller, &target, true).await?;
    Ok(empty())
}

/// DELETE `/v1/{project_id}/admin/review-whitelist/{target}`.
#[utoipa::path(delete, path = "/v1/{project_id}/admin/review-whitelist/{target}", tag = "admin",
    operation_id = "remove_review_whitelist", responses((status = 200, body = EmptyReply)))]
pub async fn remove_review_whitelist(
    caller: Caller,
    State(app): State<App>,
    Path((_, target)): Path<(String, String)>,
) -> Result<Json<EmptyReply>, ApiError> {
    app.admin.set_whitelisted(&caller, &target, false).await?;
    Ok(empty())
}

async fn set_block(
    caller: Caller,
    app: App,
    asset_id: String,
    block: bool,
    body: BlockBody,
) -> Result<Json<BlockReply>, ApiError> {
    let asset = app
        .admin
        .set_blocked(
            &caller,
            &asset_id,
            block,
            body.block_reason_code,
            body.reason,
        )
        .await?;
    Ok(Json(BlockReply {
        asset_id: asset.asset_id,
        asset_state: asset.asset_state,
        block_reason_code: asset.block_reason_code,
        reason: asset.reason,
    }))
}

/// POST `/v1/{project_id}/admin/digital-assets/{asset_id}/block`.
#[utoipa::path(post, path = "/v1/{project_id}/admin/digital-assets/{asset_id}/block", tag = "admin",
    operation_id = "block_asset", request_body = BlockBody, responses((status = 200, body = BlockReply)))]
pub async fn block_asset(
    caller: Caller,
    State(app): State<App>,
    Path((_, asset_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<BlockBody>,
) -> Result<Json<BlockReply>, ApiError> {
    set_block(caller, app, asset_id, true, body).await
}

/// POST `/v1/{project_id}/admin/digital-assets/{asset_id}/unblock`.
#[utoipa::path(post, path = "/v1/{project_id}/admin/digital-assets/{asset_id}/unblock", tag = "admin",
    operation_id = "unblock_asset", request_body = BlockBody, responses((status = 200, body = BlockReply)))]
pub async fn unblock_asset(
    caller: Caller,
    State(app): State<App>,
    Path((_, asset_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<BlockBody>,
) -> Result<Json<BlockReply>, ApiError> {
    set_block(caller, app, asset_id, false, body).await
}
