//! Operator endpoints without authentication: `GET /health` (liveness: 200 once the server
//! answers and its catalogue accepts writes; 503 with an MSS error body when it cannot write,
//! so a load balancer or supervisor stops sending it traffic), `GET /ready` (the full
//! readiness checks, 503 naming what is missing) and `GET /metrics` (Prometheus text).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::app::App;
use crate::error::Code;
use crate::http::error::{wire, ApiError};
use crate::service::readiness::Check;

/// Body of `GET /health`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HealthReply {
    /// Always `ok`.
    pub status: &'static str,
}

/// Reports liveness: the catalogue must commit a write in time.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, description = "The server answers and can write", body = HealthReply),
              (status = 503, description = "The catalogue does not accept writes", body = crate::http::openapi::ErrorReply)))]
pub async fn show_health(State(app): State<App>) -> Result<Json<HealthReply>, ApiError> {
    app.check_health().await?;
    Ok(Json(HealthReply { status: "ok" }))
}

/// Body of `GET /ready`; when not ready it is also an MSS error body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReadyReply {
    /// `ready` or `not_ready`.
    pub status: &'static str,
    /// `MSS.00000007` when not ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<&'static str>,
    /// What is missing, when not ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_msg: Option<String>,
    /// Every check: `catalogue`, `blob_store`, then each external tool with its version.
    pub checks: Vec<Check>,
}

/// Reports whether the catalogue, the blob store and every external tool work.
#[utoipa::path(get, path = "/ready", tag = "operations",
    responses(
        (status = 200, description = "Everything works", body = ReadyReply),
        (status = 503, description = "Something is missing; `error_msg` says what", body = ReadyReply),
    ))]
pub async fn show_ready(State(app): State<App>) -> Response {
    let report = app.readiness.check().await;
    if report.ready() {
        return Json(ReadyReply {
            status: "ready",
            error_code: None,
            error_msg: None,
            checks: report.checks,
        })
        .into_response();
    }
    let (status, code, _) = wire(Code::Unavailable);
    let reply = ReadyReply {
        status: "not_ready",
        error_code: Some(code),
        error_msg: Some(format!("not ready: {}", report.problems().join("; "))),
        checks: report.checks,
    };
    tracing::warn!(problems = ?reply.error_msg, "readiness check failed");
    (status, Json(reply)).into_response()
}

/// Prometheus text exposition of the server's metrics.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain", body = String)))]
pub async fn show_metrics(State(app): State<App>) -> Result<Response, ApiError> {
    let text = crate::telemetry::render(app.catalog.as_ref())
        .await
        .map_err(|e| ApiError::new(e.code(), e.to_string()))?;
    Ok((
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}
