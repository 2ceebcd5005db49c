//! `GET /health`: 200 once the server is ready and its catalogue accepts writes; 503 with an
//! MSS error body when the catalogue cannot write (so a load balancer or supervisor stops
//! sending it traffic instead of collecting 500s).

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use crate::app::App;
use crate::http::error::ApiError;

/// Body of `GET /health`.
#[derive(Debug, Serialize)]
pub struct HealthReply {
    /// Always `ok`.
    pub status: &'static str,
}

/// Reports readiness: the catalogue must commit a write in time.
pub async fn show_health(State(app): State<App>) -> Result<Json<HealthReply>, ApiError> {
    app.check_health().await?;
    Ok(Json(HealthReply { status: "ok" }))
}
