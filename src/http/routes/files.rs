//! Handlers of `/v1/{project_id}/files…` (API.md §2.11–2.14) and of the signed transfer
//! URLs `/uploads/{file_id}` (PUT bytes, HEAD to resume) and `/downloads/{file_id}`.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::TryStreamExt;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::Serialize;

use super::{empty, EmptyReply};
use crate::app::App;
use crate::error::Code;
use crate::http::error::ApiError;
use crate::http::extract::{query_pairs, JsonBody};
use crate::model::{ConfirmFileBody, FilesCreateBody, LargeFilesCreateBody};
use crate::service::auth::Caller;
use crate::service::files::{content_type, FileError, UploadTicket};

/// Reply of `create_file`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreateFileReply {
    /// The new file's id.
    pub file_id: String,
    /// Where to PUT the bytes (valid 24 h).
    pub upload_url: String,
}

/// Reply of `create_large_file`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreateLargeFileReply {
    /// The new file's id.
    pub file_id: String,
    /// One PUT URL per part, in part order.
    pub upload_urls: Vec<String>,
}

/// POST `/v1/{project_id}/files`.
#[utoipa::path(post, path = "/v1/{project_id}/files", tag = "files",
    operation_id = "create_file", request_body = FilesCreateBody,
    responses((status = 200, body = CreateFileReply)))]
pub async fn create_file(
    caller: Caller,
    State(app): State<App>,
    JsonBody(body): JsonBody<FilesCreateBody>,
) -> Result<Json<CreateFileReply>, ApiError> {
    let mut target = app.files.create(&caller, body).await?;
    Ok(Json(CreateFileReply {
        file_id: target.file_id,
        upload_url: target.upload_urls.remove(0),
    }))
}

/// POST `/v1/{project_id}/large-files`.
#[utoipa::path(post, path = "/v1/{project_id}/large-files", tag = "files",
    operation_id = "create_large_file", request_body = LargeFilesCreateBody,
    responses((status = 200, body = CreateLargeFileReply)))]
pub async fn create_large_file(
    caller: Caller,
    State(app): State<App>,
    JsonBody(body): JsonBody<LargeFilesCreateBody>,
) -> Result<Json<CreateLargeFileReply>, ApiError> {
    let target = app.files.create_large(&caller, body).await?;
    Ok(Json(CreateLargeFileReply {
        file_id: target.file_id,
        upload_urls: target.upload_urls,
    }))
}

/// POST `/v1/{project_id}/files/{file_id}/complete`.
#[utoipa::path(post, path = "/v1/{project_id}/files/{file_id}/complete", tag = "files",
    operation_id = "confirm_file_upload", request_body = ConfirmFileBody,
    responses((status = 200, body = EmptyReply)))]
pub async fn confirm_file_upload(
    caller: Caller,
    State(app): State<App>,
    Path((_, file_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<ConfirmFileBody>,
) -> Result<Json<EmptyReply>, ApiError> {
    app.files.confirm(&caller, &file_id, body.state).await?;
    Ok(empty())
}

/// DELETE `/v1/{project_id}/files/{file_id}`.
#[utoipa::path(delete, path = "/v1/{project_id}/files/{file_id}", tag = "files",
    operation_id = "delete_file", responses((status = 200, body = EmptyReply)))]
pub async fn delete_file(
    caller: Caller,
    State(app): State<App>,
    Path((_, file_id)): Path<(String, String)>,
) -> Result<Json<EmptyReply>, ApiError> {
    app.files.delete(&caller, &file_id).await?;
    Ok(empty())
}

fn param<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn ticket(query: Option<&str>) -> Result<UploadTicket, ApiError> {
    let pairs = query_pairs(query);
    let bad = || {
        ApiError::new(
            Code::BadUrlSignature,
            "the upload URL is incomplete or malformed",
        )
    };
    Ok(UploadTicket {
        part: param(&pairs, "part")
            .unwrap_or("0")
            .parse()
            .map_err(|_| bad())?,
        size: param(&pairs, "size")
            .ok_or_else(bad)?
            .parse()
            .map_err(|_| bad())?,
        expires: param(&pairs, "expires")
            .ok_or_else(bad)?
            .parse()
            .map_err(|_| bad())?,
        signature: param(&pairs, "signature").ok_or_else(bad)?.to_owned(),
    })
}

/// PUT `/uploads/{file_id}?part&size&expires&signature`: the bytes of a file or part.
#[utoipa::path(put, path = "/uploads/{file_id}", tag = "transfers",
    operation_id = "upload_file_bytes", security(()),
    params(crate::http::openapi::SignedUrlParams,
           ("part" = Option<u32>, Query, description = "part number of a large file (from 1); 0 or absent for a single upload"),
           ("size" = i64, Query, description = "declared size (signed; -1 for parts)"),
           ("Content-MD5" = Option<String>, Header, description = "RFC 1864 MD5 of the body")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, description = "Stored and verified; `ETag` is the hex MD5"),
              (status = 400, description = "Size or MD5 mismatch", body = crate::http::openapi::ErrorReply),
              (status = 403, description = "Bad or expired signature", body = crate::http::openapi::ErrorReply)))]
pub async fn upload_file(
    State(app): State<App>,
    Path(file_id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let ticket = ticket(parts.uri.query())?;
    let header = |name: header::HeaderName| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let content_md5 = parts
        .headers
        .get("content-md5")
        .and_then(|v| v.to_str().ok());
    let content_length = header(header::CONTENT_LENGTH).and_then(|v| v.parse().ok());
    let stream = body
        .into_data_stream()
        .inspect_ok(|chunk| crate::telemetry::uploaded(chunk.len()))
        .map_err(|e| e.to_string());
    let written = app
        .files
        .upload(&file_id, ticket, content_md5, content_length, stream)
        .await?;
    let etag = format!("\"{}\"", hex::encode(written.md5));
    Ok((StatusCode::OK, [(header::ETAG, etag)]).into_response())
}

/// HEAD `/uploads/{file_id}?…`: 200 with the stored size when this file or part is already
/// uploaded, 404 when not — so an interrupted multipart upload resumes where it stopped.
#[utoipa::path(head, path = "/uploads/{file_id}", tag = "transfers",
    operation_id = "upload_status", security(()),
    params(crate::http::openapi::SignedUrlParams,
           ("part" = Option<u32>, Query, description = "part number of a large file"),
           ("size" = i64, Query, description = "declared size, as signed")),
    responses((status = 200, description = "Already stored; `Content-Length` is its size"),
              (status = 404, description = "Not uploaded yet")))]
pub async fn upload_status(
    State(app): State<App>,
    Path(file_id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let ticket = ticket(request.uri().query())?;
    match app.files.part_size(&file_id, ticket).await? {
        Some(size) => {
            Ok((StatusCode::OK, [(header::CONTENT_LENGTH, size.to_string())]).into_response())
        }
        None => Ok(StatusCode::NOT_FOUND.into_response()),
    }
}

/// GET (and HEAD) `/downloads/{file_id}?expires&signature`, with single-range support.
#[utoipa::path(get, path = "/downloads/{file_id}", tag = "transfers",
    operation_id = "download_file", security(()),
    params(crate::http::openapi::SignedUrlParams,
           ("scope" = Option<String>, Query, description = "`owner` for owner-scoped URLs (signed)"),
           ("Range" = Option<String>, Header, description = "one byte range")),
    responses((status = 200, description = "The bytes", content_type = "application/octet-stream", body = Vec<u8>),
              (status = 206, description = "The requested range", content_type = "application/octet-stream", body = Vec<u8>),
              (status = 416, description = "Range outside the file")))]
pub async fn download_file(
    State(app): State<App>,
    Path(file_id): Path<String>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(request.uri().query());
    let bad = || {
        ApiError::new(
            Code::BadUrlSignature,
            "the download URL is incomplete or malformed",
        )
    };
    let expires: i64 = param(&pairs, "expires")
        .ok_or_else(bad)?
        .parse()
        .map_err(|_| bad())?;
    let signature = param(&pairs, "signature").ok_or_else(bad)?;
    let owner = param(&pairs, "scope") == Some("owner");
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let download = match app
        .files
        .download(&file_id, expires, owner, signature, range)
        .await
    {
        Err(FileError::Unsatisfiable { total }) => {
            return Ok((
                StatusCode::RANGE_NOT_SATISFIABLE,
                [(header::CONTENT_RANGE, format!("bytes */{total}"))],
            )
                .into_response());
        }
        other => other?,
    };
    let file = &download.file;
    let disposition = format!(
        "attachment; filename=\"{}\"; filename*=UTF-8''{}",
        file.file_name
            .replace(['"', '\\'], "_")
            .replace(|c: char| !c.is_ascii(), "_"),
        utf8_percent_encode(&file.file_name, NON_ALPHANUMERIC)
    );
    let sent = download
        .body
        .into_stream()
        .inspect_ok(|chunk| crate::telemetry::downloaded(chunk.len()));
    let mut response = Response::new(Body::from_stream(sent));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&file.file_type)),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(download.range.end - download.range.start),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if download.partial {
        let range = format!(
            "bytes {}-{}/{}",
            download.range.start,
            download.range.end - 1,
            download.total
        );
        if let Ok(v) = HeaderValue::from_str(&range) {
            h.insert(header::CONTENT_RANGE, v);
        }
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
    } else if let Some(md5) = file
        .file_md5
        .as_deref()
        .and_then(|m| HeaderValue::from_str(m).ok())
    {
        h.insert("content-md5", md5);
    }
    Ok(response)
}
