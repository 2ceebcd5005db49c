//! `/v1/{project_id}/webhook`: register, show and remove the project's event webhook.
//! Deliveries are `POST`s of a JSON event with `X-Assetd-Timestamp` and
//! `X-Assetd-Signature: sha256=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::{empty, EmptyReply};
use crate::app::App;
use crate::http::error::ApiError;
use crate::http::extract::JsonBody;
use crate::service::auth::Caller;

/// Body of `put_webhook`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PutWebhookBody {
    /// Where events are POSTed (http or https).
    pub url: String,
    /// HMAC secret, 16–256 characters; generated when absent.
    #[serde(default)]
    pub secret: Option<String>,
}

/// Reply of `put_webhook`: the only time the secret is shown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PutWebhookReply {
    url: String,
    secret: String,
}

/// Reply of `show_webhook`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ShowWebhookReply {
    url: Option<String>,
}

/// PUT `/v1/{project_id}/webhook`.
#[utoipa::path(put, path = "/v1/{project_id}/webhook", tag = "extensions",
    operation_id = "put_webhook", request_body = PutWebhookBody, responses((status = 200, body = PutWebhookReply)))]
pub async fn put_webhook(
    caller: Caller,
    State(app): State<App>,
    JsonBody(body): JsonBody<PutWebhookBody>,
) -> Result<Json<PutWebhookReply>, ApiError> {
    let secret = app.webhooks.put(&caller, &body.url, body.secret).await?;
    Ok(Json(PutWebhookReply {
        url: body.url,
        secret,
    }))
}

/// GET `/v1/{project_id}/webhook`.
#[utoipa::path(get, path = "/v1/{project_id}/webhook", tag = "extensions",
    operation_id = "show_webhook", responses((status = 200, body = ShowWebhookReply)))]
pub async fn show_webhook(
    caller: Caller,
    State(app): State<App>,
) -> Result<Json<ShowWebhookReply>, ApiError> {
    Ok(Json(ShowWebhookReply {
        url: app.webhooks.get(&caller).await?,
    }))
}

/// DELETE `/v1/{project_id}/webhook`.
#[utoipa::path(delete, path = "/v1/{project_id}/webhook", tag = "extensions",
    operation_id = "delete_webhook", responses((status = 200, body = EmptyReply)))]
pub async fn delete_webhook(
    caller: Caller,
    State(app): State<App>,
) -> Result<Json<EmptyReply>, ApiError> {
    app.webhooks.delete(&caller).await?;
    Ok(empty())
}
