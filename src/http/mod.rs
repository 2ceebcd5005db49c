//! The HTTP surface: routes, the middleware stack (request id, tracing, panics, auth) and
//! the JSON fallbacks for unknown routes and methods.

pub mod auth;
pub mod error;
pub mod extract;
pub mod listener;
pub mod metrics;
pub mod openapi;
pub mod routes;

use std::any::Any;

use axum::http::{HeaderValue, Request, Response};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::Router;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::app::App;
use crate::error::Code;
use error::ApiError;
use routes::{
    admin, assets, console, files, health, quotas, replication, storage, tokens, webhooks,
};

/// Request ids are 32 lowercase hex characters.
#[derive(Clone, Copy, Default)]
struct HexRequestId;

impl MakeRequestId for HexRequestId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

async fn route_not_found() -> ApiError {
    ApiError::new(Code::RouteNotFound, "no such API; check the URL")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        Code::MethodNotAllowed,
        "this API does not accept that HTTP method",
    )
}

fn panic_response(_panic: Box<dyn Any + Send + 'static>) -> Response<axum::body::Body> {
    ApiError::new(Code::Internal, "handler panicked").into_response()
}

/// Builds the complete router for `app`.
pub fn router(app: App) -> Router {
    let api = Router::new()
        .route(
            "/v1/{project_id}/digital-assets",
            post(assets::create_asset).get(assets::list_assets),
        )
        .route(
            "/v1/{project_id}/digital-assets/summarys",
            post(assets::list_asset_summarys),
        )
        .route(
            "/v1/{project_id}/digital-assets/batch-action",
            post(assets::batch_asset_action),
        )
        .route(
            "/v1/{project_id}/digital-assets/{asset_id}",
            get(assets::show_asset)
                .put(assets::update_asset)
                .delete(assets::delete_asset),
        )
        .route(
            "/v1/{project_id}/digital-assets/{asset_id}/restore",
            post(assets::restore_asset),
        )
        .route("/v1/{project_id}/files", post(files::create_file))
        .route(
            "/v1/{project_id}/large-files",
            post(files::create_large_file),
        )
        .route(
            "/v1/{project_id}/files/{file_id}",
            axum::routing::delete(files::delete_file),
        )
        .route(
            "/v1/{project_id}/files/{file_id}/complete",
            post(files::confirm_file_upload),
        )
        .route(
            "/v1/{project_id}/digital-assets/{asset_id}/access-logs",
            get(assets::list_access_logs),
        )
        .route(
            "/v1/{project_id}/webhook",
            get(webhooks::show_webhook)
                .put(webhooks::put_webhook)
                .delete(webhooks::delete_webhook),
        )
        .route("/v1/{project_id}/admin/reviews", get(admin::list_reviews))
        .route(
            "/v1/{project_id}/admin/reviews/{file_id}",
            post(admin::decide_review),
        )
        .route(
            "/v1/{project_id}/admin/review-whitelist",
            get(admin::list_review_whitelist),
        )
        .route(
            "/v1/{project_id}/admin/review-whitelist/{target}",
            put(admin::add_review_whitelist).delete(admin::remove_review_whitelist),
        )
        .route(
            "/v1/{project_id}/admin/digital-assets/{asset_id}/block",
            post(admin::block_asset),
        )
        .route(
            "/v1/{project_id}/admin/digital-assets/{asset_id}/unblock",
            post(admin::unblock_asset),
        )
        .route("/v1/{project_id}/admin/storage", get(storage::show_storage))
        .route("/v1/{project_id}/admin/scrub", get(storage::show_scrub))
        .route(
            "/v1/{project_id}/admin/projects/{target}/quota",
            put(quotas::put_quota).get(quotas::show_quota),
        )
        .route(
            "/v1/{project_id}/digital-assets/{asset_id}/replication-info",
            get(replication::show_asset_replication_info),
        )
        .route(
            "/v1/{project_id}/digital-assets-by-replication-info",
            post(replication::create_asset_by_replication_info),
        )
        .route("/v1/{project_id}/auth-tokens", post(tokens::create_token))
        .route_layer(from_fn_with_state(app.clone(), auth::authenticate));

    let trace = TraceLayer::new_for_http()
        .make_span_with(|request: &Request<_>| {
            let id = request
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            // The path only: query strings of signed URLs carry signatures.
            tracing::info_span!(
                "request",
                request.id = %id,
                method = %request.method(),
                path = %request.uri().path(),
                project.id = tracing::field::Empty,
            )
        })
        .on_response(DefaultOnResponse::new().level(Level::INFO));

    let mut operations = Router::new()
        .route("/health", get(health::show_health))
        .route("/ready", get(health::show_ready))
        .route("/openapi.json", get(openapi::show_openapi));
    if app.config.metrics_listen.is_none() {
        operations = operations.route("/metrics", get(health::show_metrics));
    }

    Router::new()
        .merge(operations)
        .route(
            "/uploads/{file_id}",
            put(files::upload_file).head(files::upload_status),
        )
        .route("/downloads/{file_id}", get(files::download_file))
        .merge(api)
        .merge(console::router(&app))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(app)
        .layer(axum::middleware::map_response(error::shape_errors))
        .layer(from_fn(metrics::track))
        .layer(
            ServiceBuilder::new()
                // The id is always ours: a client-chosen one would reach the logs unchecked.
                .map_request(|mut request: Request<axum::body::Body>| {
                    request.headers_mut().remove("x-request-id");
                    request
                })
                .layer(SetRequestIdLayer::x_request_id(HexRequestId))
                .layer(trace)
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(CatchPanicLayer::custom(panic_response)),
        )
}

/// The router of the separate metrics listener (`metrics_listen`): `/metrics` only.
pub fn metrics_router(app: App) -> Router {
    Router::new()
        .route("/metrics", get(health::show_metrics))
        .fallback(route_not_found)
        .with_state(app)
}
