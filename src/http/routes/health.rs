//! `GET /health`: 200 once the server is ready (the catalogue answered at start-up).

use axum::Json;
use serde::Serialize;

/// Body of `GET /health`.
#[derive(Debug, Serialize)]
pub struct HealthReply {
    /// Always `ok`.
    pub status: &'static str,
}

/// Reports readiness.
pub async fn show_health() -> Json<HealthReply> {
    Json(HealthReply { status: "ok" })
}
