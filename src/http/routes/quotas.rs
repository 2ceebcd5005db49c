//! Admin handlers of `/v1/{project_id}/admin/projects/{target}/quota`: a project's storage,
//! asset and request-rate limits, with what it uses.

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::catalog::{ProjectUsage, Quota};
use crate::http::error::ApiError;
use crate::http::extract::JsonBody;
use crate::service::auth::Caller;
use crate::service::quotas::Limits;

/// Body of `put_quota`: every limit is optional; one left out is lifted.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutQuotaBody {
    /// Bytes of uploaded files (declared sizes; files the server generates do not count).
    pub max_bytes: Option<u64>,
    /// Assets that are not DELETED (the recycle bin counts).
    pub max_assets: Option<u64>,
    /// Authenticated API requests per second, counted by each node for itself.
    pub requests_per_second: Option<u32>,
}

/// What a project holds, as its quota counts it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QuotaUsage {
    /// Bytes of uploaded files, CREATING ones with their declared size.
    pub bytes: u64,
    /// Assets that are not DELETED.
    pub assets: u64,
}

/// Reply of `put_quota` and `show_quota`; `null` is no limit.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QuotaReply {
    /// The project.
    pub project_id: String,
    /// Bytes of uploaded files.
    pub max_bytes: Option<u64>,
    /// Assets that are not DELETED.
    pub max_assets: Option<u64>,
    /// Requests per second, on each node.
    pub requests_per_second: Option<u32>,
    /// Current usage.
    pub usage: QuotaUsage,
}

impl From<(Quota, ProjectUsage)> for QuotaReply {
    fn from((quota, usage): (Quota, ProjectUsage)) -> Self {
        Self {
            project_id: quota.project_id,
            max_bytes: quota.max_bytes,
            max_assets: quota.max_assets,
            requests_per_second: quota.requests_per_second,
            usage: QuotaUsage {
                bytes: usage.bytes,
                assets: usage.assets,
            },
        }
    }
}

/// PUT `/v1/{project_id}/admin/projects/{target}/quota` (admin).
#[utoipa::path(put, path = "/v1/{project_id}/admin/projects/{target}/quota", tag = "admin",
    operation_id = "put_quota", request_body = PutQuotaBody,
    responses((status = 200, body = QuotaReply)))]
pub async fn put_quota(
    caller: Caller,
    State(app): State<App>,
    Path((_, target)): Path<(String, String)>,
    JsonBody(body): JsonBody<PutQuotaBody>,
) -> Result<Json<QuotaReply>, ApiError> {
    let limits = Limits {
        max_bytes: body.max_bytes,
        max_assets: body.max_assets,
        requests_per_second: body.requests_per_second,
    };
    Ok(Json(app.quotas.set(&caller, &target, limits).await?.into()))
}

/// GET `/v1/{project_id}/admin/projects/{target}/quota` (admin).
#[utoipa::path(get, path = "/v1/{project_id}/admin/projects/{target}/quota", tag = "admin",
    operation_id = "show_quota", responses((status = 200, body = QuotaReply)))]
pub async fn show_quota(
    caller: Caller,
    State(app): State<App>,
    Path((_, target)): Path<(String, String)>,
) -> Result<Json<QuotaReply>, ApiError> {
    Ok(Json(app.quotas.show(&caller, &target).await?.into()))
}
