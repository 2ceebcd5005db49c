//! Handlers of replication between libraries (API.md §2.9–2.10): the SDK's
//! `ShowAssetReplicationInfoResponse` and `ReplicationAssetInfo`, field for field.

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::http::error::ApiError;
use crate::http::extract::JsonBody;
use crate::service::auth::Caller;
use crate::service::replication::ReplicationInfo;

/// `ReplicationEncInfo`: how `asset_info` is sealed.
#[derive(Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReplicationEncInfo {
    /// `AES-256-GCM`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    /// Id of the shared key (`replication_keys`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// Base64 of the 12-byte nonce.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iv: Option<String>,
}

/// `ReplicationAssetInfo` (the body of `create_asset_by_replication_info`) and
/// `ShowAssetReplicationInfoResponse`: the same four fields.
#[derive(Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReplicationAssetInfo {
    /// The source asset's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset_id: Option<String>,
    /// Base64 of the sealed manifest: metadata, files with sizes, MD5s and download URLs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset_info: Option<String>,
    /// How it is sealed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_info: Option<ReplicationEncInfo>,
    /// Unix seconds after which it is refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expire_time: Option<i64>,
}

impl From<ReplicationInfo> for ReplicationAssetInfo {
    fn from(info: ReplicationInfo) -> Self {
        Self {
            asset_id: info.asset_id,
            asset_info: info.asset_info,
            encryption_info: Some(ReplicationEncInfo {
                algorithm: info.algorithm,
                key_id: info.key_id,
                iv: info.iv,
            }),
            expire_time: info.expire_time,
        }
    }
}

impl From<ReplicationAssetInfo> for ReplicationInfo {
    fn from(body: ReplicationAssetInfo) -> Self {
        let enc = body.encryption_info.unwrap_or_default();
        Self {
            asset_id: body.asset_id,
            asset_info: body.asset_info,
            algorithm: enc.algorithm,
            key_id: enc.key_id,
            iv: enc.iv,
            expire_time: body.expire_time,
        }
    }
}

/// Reply of `create_asset_by_replication_info`: the SDK expects an empty body and ignores
/// this extension.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreateAssetByReplicationInfoReply {
    /// Extension: the replica's asset id.
    pub asset_id: String,
}

/// GET `/v1/{project_id}/digital-assets/{asset_id}/replication-info`.
#[utoipa::path(get, path = "/v1/{project_id}/digital-assets/{asset_id}/replication-info",
    tag = "assets", operation_id = "show_asset_replication_info",
    responses((status = 200, description = "The asset sealed for another library holding a shared key", body = ReplicationAssetInfo)))]
pub async fn show_asset_replication_info(
    caller: Caller,
    State(app): State<App>,
    Path((_, asset_id)): Path<(String, String)>,
) -> Result<Json<ReplicationAssetInfo>, ApiError> {
    Ok(Json(app.replication.info(&caller, &asset_id).await?.into()))
}

/// POST `/v1/{project_id}/digital-assets-by-replication-info`.
#[utoipa::path(post, path = "/v1/{project_id}/digital-assets-by-replication-info",
    tag = "assets", operation_id = "create_asset_by_replication_info",
    request_body = ReplicationAssetInfo,
    responses((status = 200, description = "Created with every file (or already replicated into this project)", body = CreateAssetByReplicationInfoReply)))]
pub async fn create_asset_by_replication_info(
    caller: Caller,
    State(app): State<App>,
    JsonBody(body): JsonBody<ReplicationAssetInfo>,
) -> Result<Json<CreateAssetByReplicationInfoReply>, ApiError> {
    let asset_id = app.replication.create(&caller, &body.into()).await?;
    Ok(Json(CreateAssetByReplicationInfoReply { asset_id }))
}
