//! The console's CSS, scripts, font and icon, compiled into the binary. Pages link them with
//! a content hash in the query (`?v=…`), so browsers may cache them for a year and still get
//! a changed file at once.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// One embedded file.
struct StaticFile {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const FILES: &[StaticFile] = &[
    StaticFile {
        name: "console.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("static/console.css"),
    },
    StaticFile {
        name: "console.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("static/console.js"),
    },
    StaticFile {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("static/favicon.svg"),
    },
    StaticFile {
        name: "htmx.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("static/vendor/htmx.min.js"),
    },
    StaticFile {
        name: "spark-md5.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("static/vendor/spark-md5.min.js"),
    },
    StaticFile {
        name: "inter.woff2",
        content_type: "font/woff2",
        bytes: include_bytes!("static/vendor/inter-latin-wght-normal.woff2"),
    },
];

/// The first 16 hex digits of each file's SHA-256, in `FILES` order.
static HASHES: LazyLock<Vec<String>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|f| hex::encode(&Sha256::digest(f.bytes)[..8]))
        .collect()
});

fn find(name: &str) -> Option<(&'static StaticFile, &'static str)> {
    let i = FILES.iter().position(|f| f.name == name)?;
    Some((&FILES[i], HASHES[i].as_str()))
}

/// The URL of an embedded file, versioned by its content.
///
/// # Panics
/// When `name` is not embedded: a typo in a template, caught by any test that renders it.
pub fn url(name: &str) -> String {
    let (_, hash) = find(name).unwrap_or_else(|| panic!("no embedded file {name}"));
    format!("/console/static/{name}?v={hash}")
}

/// GET `/console/static/{name}`.
pub async fn show_static(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some((file, hash)) = find(&name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!("\"{hash}\"");
    let cache = (
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return (StatusCode::NOT_MODIFIED, [cache]).into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(file.content_type),
            ),
            cache,
            (
                header::ETAG,
                HeaderValue::from_str(&etag).expect("hex is a valid header value"),
            ),
        ],
        file.bytes,
    )
        .into_response()
}
