//! The only table from [`Code`] to the wire (`MSS.*` string and HTTP status), and the only
//! `IntoResponse` for errors. 5xx bodies say "internal error"; the cause is logged once,
//! inside the request's span, so it carries the request id.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::error::Code;

/// HTTP status, `error_code` and default `error_msg` of each [`Code`].
pub fn wire(code: Code) -> (StatusCode, &'static str, &'static str) {
    match code {
        Code::Unauthorized => (StatusCode::UNAUTHORIZED, "MSS.00000001", "Unauthorized"),
        Code::ProjectMismatch => (
            StatusCode::FORBIDDEN,
            "MSS.00010009",
            "urlTenantId is not equal tokenTenantId",
        ),
        Code::Forbidden => (StatusCode::FORBIDDEN, "MSS.00000006", "Forbidden"),
        Code::BadUrlSignature => (
            StatusCode::FORBIDDEN,
            "MSS.00010008",
            "Invalid or expired URL signature",
        ),
        Code::MalformedJson => (
            StatusCode::BAD_REQUEST,
            "MSS.10000002",
            "Request JSON exception",
        ),
        Code::InvalidParameter => (StatusCode::BAD_REQUEST, "MSS.00000003", "Invalid parameter"),
        Code::PayloadTooLarge => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "MSS.00000002",
            "Invalid body: too large",
        ),
        Code::AssetNotFound => (StatusCode::NOT_FOUND, "MSS.10001001", "Asset not found"),
        Code::FileNotFound => (StatusCode::NOT_FOUND, "MSS.10001004", "The file not found"),
        Code::MainFileExists => (
            StatusCode::BAD_REQUEST,
            "MSS.10001008",
            "Asset main file already exists",
        ),
        Code::CoverFileExists => (
            StatusCode::BAD_REQUEST,
            "MSS.10001009",
            "Asset cover file already exists",
        ),
        Code::FileTooLarge => (
            StatusCode::BAD_REQUEST,
            "MSS.10001007",
            "Asset file too large, please do not exceed 5242880 bytes",
        ),
        Code::UploadMismatch => (
            StatusCode::BAD_REQUEST,
            "MSS.10001010",
            "Uploaded content does not match the declared file",
        ),
        Code::ContentDamaged => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "MSS.10001011",
            "The stored content of this file failed its integrity check and is withheld",
        ),
        Code::QuotaExceeded => (
            StatusCode::FORBIDDEN,
            "MSS.10001012",
            "The project's quota does not allow this",
        ),
        Code::TooManyRequests => (
            StatusCode::TOO_MANY_REQUESTS,
            "MSS.00000008",
            "Too many requests",
        ),
        Code::ReplicationKeyUnknown => (
            StatusCode::BAD_REQUEST,
            "MSS.10001013",
            "Unknown replication key",
        ),
        Code::ReplicationInfoInvalid => (
            StatusCode::BAD_REQUEST,
            "MSS.10001014",
            "Replication info is invalid or was tampered with",
        ),
        Code::ReplicationInfoExpired => (
            StatusCode::BAD_REQUEST,
            "MSS.10001015",
            "Replication info has expired",
        ),
        Code::ReplicationFetchFailed => (
            StatusCode::BAD_REQUEST,
            "MSS.10001016",
            "The asset's files could not be fetched from the source library",
        ),
        Code::RouteNotFound => (StatusCode::NOT_FOUND, "MSS.00010003", "SR.api not found"),
        Code::MethodNotAllowed => (
            StatusCode::METHOD_NOT_ALLOWED,
            "MSS.00010004",
            "SR.method not allowed",
        ),
        Code::NotImplemented => (
            StatusCode::NOT_IMPLEMENTED,
            "MSS.00000005",
            "Not implemented",
        ),
        Code::Internal => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "MSS.00000004",
            "internal error",
        ),
        Code::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            "MSS.00000007",
            "service unavailable",
        ),
    }
}

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    code: Code,
    message: String,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error_code: &'a str,
    error_msg: &'a str,
}

impl ApiError {
    /// An error with an explicit message.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// The code of this error.
    pub fn code(&self) -> Code {
        self.code
    }
}

/// Implemented by every module error that can reach a client.
pub trait HasCode: std::fmt::Display {
    /// The wire code of this error.
    fn code(&self) -> Code;
}

macro_rules! has_code {
    ($($t:ty),* $(,)?) => {
        $(impl HasCode for $t {
            fn code(&self) -> Code {
                <$t>::code(self)
            }
        })*
    };
}

has_code!(
    crate::service::assets::AssetError,
    crate::service::auth::AuthError,
    crate::service::links::LinkError,
    crate::signing::SigningError,
    crate::catalog::CatalogError,
    crate::blobs::BlobError,
    crate::service::files::FileError,
    crate::service::admin::AdminError,
    crate::service::webhooks::WebhookError,
    crate::service::storage::StorageError,
    crate::service::quotas::QuotaError,
    crate::service::replication::ReplicationError,
    crate::app::HealthError,
);

impl<E: HasCode> From<E> for ApiError {
    fn from(err: E) -> Self {
        Self::new(err.code(), err.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, error_code, default_msg) = wire(self.code);
        let message = if status.is_server_error() {
            tracing::error!(error.cause = %self.message, "request failed");
            default_msg
        } else if self.message.is_empty() {
            default_msg
        } else {
            &self.message
        };
        let body = ErrorBody {
            error_code,
            error_msg: message,
        };
        (status, Json(body)).into_response()
    }
}

/// The JSON bytes of an MSS error body for `code` with `message` (the default message for
/// 5xx codes, whose causes are never sent).
pub fn error_body(code: Code, message: &str) -> Vec<u8> {
    let (status, error_code, default_msg) = wire(code);
    let error_msg = if status.is_server_error() || message.is_empty() {
        default_msg
    } else {
        message
    };
    serde_json::to_vec(&ErrorBody {
        error_code,
        error_msg,
    })
    .expect("error bodies serialize")
}

/// Longest plain-text error body kept as the message of its MSS replacement.
const MAX_PLAIN_ERROR: usize = 16 * 1024;

/// Gives an error response that is not JSON (an extractor's plain-text rejection, an empty
/// body) the MSS shape, keeping its status: every error an API client sees is `{"error_code",
/// "error_msg"}`. The console's HTML error pages are left as they are.
pub async fn shape_errors(response: Response) -> Response {
    let status = response.status();
    // JSON is already an MSS error; HTML is the console's own error page, meant for a browser.
    let shaped = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| {
            v.as_bytes().starts_with(b"application/json") || v.as_bytes().starts_with(b"text/html")
        });
    if !(status.is_client_error() || status.is_server_error()) || shaped {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_PLAIN_ERROR)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let code = match status {
        StatusCode::UNAUTHORIZED => Code::Unauthorized,
        StatusCode::FORBIDDEN => Code::Forbidden,
        StatusCode::NOT_FOUND => Code::RouteNotFound,
        StatusCode::METHOD_NOT_ALLOWED => Code::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => Code::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => Code::MalformedJson,
        StatusCode::SERVICE_UNAVAILABLE => Code::Unavailable,
        s if s.is_server_error() => Code::Internal,
        _ => Code::InvalidParameter,
    };
    if status.is_server_error() {
        tracing::error!(error.cause = %text, "request failed");
    }
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or_default().to_owned()
    } else {
        text
    };
    parts.headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(error_body(code, &message)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn internal_errors_never_carry_their_cause_to_the_client() {
        let response = ApiError::new(Code::Internal, "disk /secret/path exploded").into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(!text.contains("secret"), "{text}");
        assert!(text.contains("MSS.00000004"));
    }

    #[test]
    fn every_code_maps_to_an_mss_code() {
        use Code::*;
        for code in [
            Unauthorized,
            ProjectMismatch,
            Forbidden,
            BadUrlSignature,
            MalformedJson,
            InvalidParameter,
            PayloadTooLarge,
            AssetNotFound,
            FileNotFound,
            MainFileExists,
            CoverFileExists,
            UploadMismatch,
            ContentDamaged,
            QuotaExceeded,
            TooManyRequests,
            ReplicationKeyUnknown,
            ReplicationInfoInvalid,
            ReplicationInfoExpired,
            ReplicationFetchFailed,
            RouteNotFound,
            MethodNotAllowed,
            NotImplemented,
            Internal,
            Unavailable,
        ] {
            let (status, mss, msg) = wire(code);
            assert!(mss.starts_with("MSS."), "{code:?}");
            assert!(status.is_client_error() || status.is_server_error());
            assert!(!msg.is_empty());
        }
    }
}
