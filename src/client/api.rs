//! The client's HTTP side: every API call signed exactly like the official SDK, MSS errors
//! turned into [`ApiError`], and plain transfers to signed upload/download URLs.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use secrecy::ExposeSecret;
use serde_json::Value;

use super::{ClientError, Connection};

/// Characters the SDK leaves unescaped in query values: RFC 3986 unreserved.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A failed call: the server's MSS error, or no answer at all.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The server answered with an error.
    #[error("{code} (HTTP {status}): {message}")]
    Mss {
        /// HTTP status.
        status: u16,
        /// `error_code`, e.g. `MSS.10001001`.
        code: String,
        /// `error_msg`.
        message: String,
    },
    /// The server could not be reached or the reply was unreadable.
    #[error("{0}")]
    Transport(String),
}

impl ApiError {
    /// 401 and 403: the credentials or the permission are the problem.
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            Self::Mss {
                status: 401 | 403,
                ..
            }
        )
    }

    fn transport(context: &str, e: reqwest::Error) -> Self {
        Self::Transport(format!("{context}: {e}"))
    }
}

/// A signed client for one endpoint and credential.
pub struct Api {
    connection: Connection,
    http: reqwest::Client,
    host: String,
}

impl Api {
    /// A client for `connection`.
    pub fn new(connection: Connection) -> Result<Self, ClientError> {
        let url = reqwest::Url::parse(&connection.endpoint)
            .map_err(|e| ClientError::Usage(format!("endpoint {}: {e}", connection.endpoint)))?;
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => {
                return Err(ClientError::Usage(format!(
                    "endpoint {} has no host",
                    connection.endpoint
                )))
            }
        };
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("assetd-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Usage(format!("building the HTTP client: {e}")))?;
        Ok(Self {
            connection,
            http,
            host,
        })
    }

    /// The plain HTTP client, for signed upload and download URLs.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The connection in use.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// Calls `/v1/{project_id}{path}` with `query` pairs and an optional JSON body, signed
    /// like the SDK, and returns the JSON reply.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let path = format!("/v1/{}{path}", self.connection.project_id);
        let query: Vec<String> = query
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    utf8_percent_encode(k, QUERY),
                    utf8_percent_encode(v, QUERY)
                )
            })
            .collect();
        let query = (!query.is_empty()).then(|| query.join("&"));
        let body = body
            .map(|b| serde_json::to_vec(b).expect("JSON values serialize"))
            .unwrap_or_default();
        let mut headers = HeaderMap::new();
        let header = |v: &str| {
            HeaderValue::from_str(v)
                .map_err(|_| ApiError::Transport(format!("{v:?} cannot be sent in an HTTP header")))
        };
        headers.insert("host", header(&self.host)?);
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert("x-project-id", header(&self.connection.project_id)?);
        headers.insert(
            "x-sdk-date",
            header(&crate::signing::format_sdk_date(
                time::OffsetDateTime::now_utc(),
            ))?,
        );
        let authorization = crate::signing::authorization_header(
            method,
            &path,
            query.as_deref(),
            &headers,
            &body,
            &self.connection.access_key,
            self.connection.secret_key.expose_secret().as_bytes(),
        );
        headers.insert("authorization", header(&authorization)?);
        headers.remove("host");
        let url = match &query {
            Some(q) => format!("{}{path}?{q}", self.connection.endpoint),
            None => format!("{}{path}", self.connection.endpoint),
        };
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|e| ApiError::Transport(e.to_string()))?;
        let response = self
            .http
            .request(method, &url)
            .headers(headers)
            .timeout(Duration::from_secs(120))
            .body(body)
            .send()
            .await
            .map_err(|e| {
                ApiError::transport(&format!("cannot reach {}", self.connection.endpoint), e)
            })?;
        read_json(response).await
    }
}

/// The JSON of a reply, or its MSS error.
pub async fn read_json(response: reqwest::Response) -> Result<Value, ApiError> {
    let status = response.status().as_u16();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| ApiError::transport("reading the reply", e))?;
    let json: Value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    };
    if (200..300).contains(&status) {
        return Ok(json);
    }
    Err(error_from(status, &json, &bytes))
}

/// The [`ApiError`] of a non-2xx reply.
pub fn error_from(status: u16, json: &Value, bytes: &[u8]) -> ApiError {
    let text = |key: &str| json.get(key).and_then(Value::as_str).map(str::to_owned);
    ApiError::Mss {
        status,
        code: text("error_code").unwrap_or_else(|| format!("HTTP {status}")),
        message: text("error_msg").unwrap_or_else(|| {
            String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_mss_reply_becomes_its_code_and_message() {
        let json =
            serde_json::json!({"error_code": "MSS.10001001", "error_msg": "Asset not found"});
        let e = error_from(404, &json, b"");
        assert_eq!(e.to_string(), "MSS.10001001 (HTTP 404): Asset not found");
        assert!(!e.is_auth());
        assert!(error_from(401, &json, b"").is_auth());
        assert!(error_from(403, &json, b"").is_auth());
    }
}
