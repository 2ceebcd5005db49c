//! Authentication happens once, here: a middleware buffers the (size-limited) body, verifies
//! the signature or token over the raw request, and leaves a [`Caller`] in the request
//! extensions for the extractor below.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;

use super::error::ApiError;
use crate::app::App;
use crate::error::Code;
use crate::service::auth::Caller;
use crate::service::quotas::QuotaError;
use crate::signing::RequestParts;

/// The `{project_id}` segment of `/v1/{project_id}/…`, percent-decoded.
pub(crate) fn path_project(path: &str) -> String {
    let segment = path
        .strip_prefix("/v1/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default();
    percent_decode_str(segment).decode_utf8_lossy().into_owned()
}

/// Reads the whole body, refusing more than `limit` bytes with 413.
pub async fn read_body(parts: &Parts, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            Code::PayloadTooLarge,
            format!("request body exceeds {limit} bytes"),
        )
    };
    let declared = parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())
}

/// Middleware: authenticates the request and stores the [`Caller`].
pub async fn authenticate(
    State(app): State<App>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let (mut parts, body) = request.into_parts();
    let bytes = read_body(&parts, body, app.config.max_body_bytes).await?;
    let caller = {
        let signed = RequestParts {
            method: parts.method.as_str(),
            raw_path: parts.uri.path(),
            raw_query: parts.uri.query(),
            headers: &parts.headers,
            body: &bytes,
        };
        let project = path_project(parts.uri.path());
        app.auth.authenticate(&signed, &project).await?
    };
    tracing::Span::current().record("project.id", caller.project_id.as_str());
    if let Err(e) = app.quotas.admit(&caller.project_id).await {
        return Ok(refused(e));
    }
    parts.extensions.insert(caller);
    Ok(next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await)
}

/// The answer to a request the project's quota does not admit: 429 with `Retry-After`.
fn refused(e: QuotaError) -> Response {
    let retry_after = match &e {
        QuotaError::TooManyRequests { retry_after, .. } => Some(retry_after.as_secs()),
        _ => None,
    };
    let mut response = ApiError::from(e).into_response();
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::new(Code::Unauthorized, "request was not authenticated"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_is_read_from_the_raw_path() {
        assert_eq!(path_project("/v1/p1/digital-assets"), "p1");
        assert_eq!(path_project("/v1/a%20b/files"), "a b");
        assert_eq!(path_project("/health"), "");
    }
}
