//! Extractors for the wire: JSON bodies parsed with field-naming errors, and the raw query
//! as ordered pairs (repeated keys kept, `+` taken literally as the SDK's signer does).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use percent_encoding::percent_decode_str;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::error::Code;
use crate::model::{parse_json, BodyError};
use crate::service::auth::Caller;

/// A JSON body of type `T`.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = if request.extensions().get::<Caller>().is_some() {
            // The authenticating middleware already read this body within `max_body_bytes`;
            // axum's own 2 MiB default must not cap it a second time.
            axum::body::to_bytes(request.into_body(), usize::MAX)
                .await
                .map_err(|e| ApiError::new(Code::MalformedJson, e.to_string()))?
        } else {
            Bytes::from_request(request, state).await.map_err(|e| {
                let code = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    Code::PayloadTooLarge
                } else {
                    Code::MalformedJson
                };
                ApiError::new(code, e.body_text())
            })?
        };
        match parse_json(&bytes) {
            Ok(value) => Ok(Self(value)),
            Err(BodyError::Malformed(msg)) => Err(ApiError::new(Code::MalformedJson, msg)),
            Err(BodyError::Invalid(e)) => Err(ApiError::new(Code::InvalidParameter, e.to_string())),
        }
    }
}

/// The query string as decoded `(key, value)` pairs in wire order.
pub struct QueryPairs(pub Vec<(String, String)>);

/// Decodes a raw query string into pairs.
pub fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    raw.unwrap_or_default()
        .split('&')
        .filter(|item| !item.is_empty())
        .map(|item| match item.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(item), String::new()),
        })
        .collect()
}

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let pairs = query_pairs(parts.uri.query());
        // A NUL would end the text early in SQLite (`%00` matching every name), PostgreSQL
        // refuses it in text, and no parameter has a use for control characters.
        if let Some((key, _)) = pairs
            .iter()
            .find(|(k, v)| k.contains('\0') || v.chars().any(char::is_control))
        {
            return Err(ApiError::new(
                Code::InvalidParameter,
                format!("{key}: must not contain control characters"),
            ));
        }
        Ok(Self(pairs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_keep_repeats_and_literal_plus() {
        let pairs = query_pairs(Some("asset_id=a&asset_id=b&name=x%20y+z&flag"));
        assert_eq!(
            pairs,
            vec![
                ("asset_id".into(), "a".into()),
                ("asset_id".into(), "b".into()),
                ("name".into(), "x y+z".into()),
                ("flag".into(), String::new()),
            ]
        );
    }
}
