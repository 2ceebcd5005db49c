//! `POST /v1/{project_id}/auth-tokens`: trades an AK/SK-signed request for an `X-Auth-Token`
//! bound to the same project (also returned in `X-Subject-Token`, as IAM does).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde::Serialize;

use crate::app::App;
use crate::http::error::ApiError;
use crate::service::auth::Caller;

/// Body of a token reply.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreateTokenReply {
    /// The token to send as `X-Auth-Token`.
    pub token: String,
    /// Expiry, RFC 3339 UTC.
    pub expires_at: String,
    /// The project the token is bound to.
    pub project_id: String,
}

/// Issues a token.
#[utoipa::path(post, path = "/v1/{project_id}/auth-tokens", tag = "extensions",
    operation_id = "create_token",
    responses((status = 200, description = "The token, also in `X-Subject-Token`; it stops working when the credential's SK changes or it is revoked", body = CreateTokenReply)))]
pub async fn create_token(
    caller: Caller,
    State(app): State<App>,
) -> Result<(HeaderMap, Json<CreateTokenReply>), ApiError> {
    let issued = app.auth.issue_token(&caller).await?;
    let mut headers = HeaderMap::new();
    if let Ok(value) = issued.token.parse() {
        headers.insert("x-subject-token", value);
    }
    Ok((
        headers,
        Json(CreateTokenReply {
            token: issued.token,
            expires_at: super::assets::rfc3339(issued.expires_at),
            project_id: caller.project_id,
        }),
    ))
}
