//! Handlers, one module per resource. Each handler extracts, calls one service function and
//! converts the result to its `<Op>Reply`.

pub mod admin;
pub mod assets;
pub mod console;
pub mod files;
pub mod health;
pub mod quotas;
pub mod replication;
pub mod storage;
pub mod tokens;
pub mod webhooks;

use axum::Json;
use serde::Serialize;

/// The body of operations whose response carries only headers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EmptyReply {}

/// `{}` with status 200.
pub fn empty() -> Json<EmptyReply> {
    Json(EmptyReply {})
}
