//! SDK-HMAC-SHA256 request signing, as used by the official Huawei Cloud SDKs.
//!
//! The server side parses the `Authorization` header and [`verify`]s a request
//! from its raw method, path, query, headers and body. The client side,
//! [`authorization_header`], signs exactly like the SDK so `assetd client`, tests
//! and benchmarks can talk to the server. The algorithm and its test vectors are in
//! `shared/spec/SIGNING.md`.

use std::fmt;

use axum::http::{HeaderMap, HeaderName};
use hmac::{Hmac, Mac};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::format_description::FormatItem;
use time::macros::format_description;
use time::{Duration, OffsetDateTime, PrimitiveDateTime};

/// The only signing algorithm accepted, as written at the start of `Authorization`.
pub const ALGORITHM: &str = "SDK-HMAC-SHA256";

/// Payload hash used when the body is empty: SHA-256 of the empty string.
const EMPTY_PAYLOAD_HASH: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const DATE_HEADER: &str = "x-sdk-date";
const HOST_HEADER: &str = "host";
const CONTENT_SHA256_HEADER: &str = "x-sdk-content-sha256";

const SDK_DATE_FORMAT: &[FormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");

/// Everything but the unreserved characters `A-Z a-z 0-9 - _ . ~`.
const ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The longest scheme name echoed back in [`SigningError::UnsupportedAlgorithm`].
const MAX_SCHEME_LEN: usize = 32;

/// Why a request could not be authenticated.
///
/// Messages never contain the secret key, the signature or a token, so they
/// are safe to log.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// The request carries no `Authorization` header.
    #[error("missing Authorization header")]
    MissingAuthorization,
    /// The `Authorization` header uses a scheme other than [`ALGORITHM`].
    #[error("unsupported signing algorithm `{0}`")]
    UnsupportedAlgorithm(String),
    /// The `Authorization` header is not `SDK-HMAC-SHA256 Access=.., SignedHeaders=.., Signature=..`.
    #[error("malformed Authorization header")]
    MalformedAuthorization,
    /// The request carries no `X-Sdk-Date` header.
    #[error("missing X-Sdk-Date header")]
    MissingDate,
    /// `X-Sdk-Date` is not a `YYYYMMDDTHHMMSSZ` UTC timestamp.
    #[error("malformed X-Sdk-Date header, expected YYYYMMDDTHHMMSSZ")]
    MalformedDate,
    /// `X-Sdk-Date` is further from the server clock than the allowed skew.
    #[error("X-Sdk-Date is too far from the server time")]
    ClockSkew,
    /// A header listed in `SignedHeaders` is absent from the request.
    #[error("signed header `{0}` is missing from the request")]
    MissingSignedHeader(String),
    /// A header listed in `SignedHeaders` occurs more than once in the request.
    #[error("signed header `{0}` occurs more than once in the request")]
    DuplicateSignedHeader(String),
    /// `host` is not among the signed headers.
    #[error("the host header is not signed")]
    HostNotSigned,
    /// `x-sdk-date` is not among the signed headers.
    #[error("the x-sdk-date header is not signed")]
    DateNotSigned,
    /// The signature does not match the request.
    #[error("signature does not match the request")]
    BadSignature,
}

/// The parsed `Authorization: SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=...` header.
#[derive(Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The access key (AK) naming the secret key the request was signed with.
    pub access_key: String,
    /// Lower-cased header names, in the order the client signed them.
    pub signed_headers: Vec<String>,
    /// The signature: 64 lowercase hex characters.
    pub signature: String,
}

// A signature can be replayed within the clock-skew window, so it stays out of logs.
impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorization")
            .field("access_key", &self.access_key)
            .field("signed_headers", &self.signed_headers)
            .field("signature", &"<redacted>")
            .finish()
    }
}

/// What the verifier needs from a received request: raw pieces exactly as on the wire.
#[derive(Clone, Copy)]
pub struct RequestParts<'a> {
    /// The method, e.g. `POST`.
    pub method: &'a str,
    /// The path as received, still percent-encoded, without the query.
    pub raw_path: &'a str,
    /// The query as received, without the `?`.
    pub raw_query: Option<&'a str>,
    /// All received headers.
    pub headers: &'a HeaderMap,
    /// The body bytes as received.
    pub body: &'a [u8],
}

/// Parses an `Authorization` header value.
///
/// Accepts any whitespace around `,` and `=`; header names in `SignedHeaders`
/// are lower-cased. Another scheme, such as `SDK-HMAC-SM3`, gives
/// [`SigningError::UnsupportedAlgorithm`]; anything else that does not fit the
/// format gives [`SigningError::MalformedAuthorization`].
pub fn parse_authorization(value: &str) -> Result<Authorization, SigningError> {
    let value = value.trim();
    let (scheme, params) = value
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case(ALGORITHM) {
        return Err(unsupported_scheme(scheme));
    }

    let mut access_key = None;
    let mut signed_headers = None;
    let mut signature = None;
    for param in params.split(',') {
        let (key, val) = param
            .split_once('=')
            .ok_or(SigningError::MalformedAuthorization)?;
        let slot = match key.trim() {
            "Access" => &mut access_key,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => return Err(SigningError::MalformedAuthorization),
        };
        if slot.replace(val.trim()).is_some() {
            return Err(SigningError::MalformedAuthorization);
        }
    }

    let (Some(access_key), Some(signed_headers), Some(signature)) =
        (access_key, signed_headers, signature)
    else {
        return Err(SigningError::MalformedAuthorization);
    };
    if access_key.is_empty() || access_key.contains(char::is_whitespace) {
        return Err(SigningError::MalformedAuthorization);
    }
    let is_lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    if signature.len() != 64 || !signature.bytes().all(is_lower_hex) {
        return Err(SigningError::MalformedAuthorization);
    }
    let signed_headers = signed_headers
        .split(';')
        .map(|name| {
            let name = name.trim().to_ascii_lowercase();
            // Only real header names may later be echoed in MissingSignedHeader.
            HeaderName::from_bytes(name.as_bytes())
                .map(|_| name)
                .map_err(|_| SigningError::MalformedAuthorization)
        })
        .collect::<Result<Vec<_>, _>>()?;

    Ok(Authorization {
        access_key: access_key.to_owned(),
        signed_headers,
        signature: signature.to_owned(),
    })
}

/// Names a foreign scheme only when it looks like one, so a bare token sent as
/// `Authorization` never ends up in an error message.
fn unsupported_scheme(scheme: &str) -> SigningError {
    let looks_like_scheme = !scheme.is_empty()
        && scheme.len() <= MAX_SCHEME_LEN
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if looks_like_scheme {
        SigningError::UnsupportedAlgorithm(scheme.to_owned())
    } else {
        SigningError::MalformedAuthorization
    }
}

/// Parses an `X-Sdk-Date` value: `%Y%m%dT%H%M%SZ`, exactly 16 characters, UTC.
pub fn parse_sdk_date(value: &str) -> Result<OffsetDateTime, SigningError> {
    let well_formed = value.len() == 16
        && value.bytes().enumerate().all(|(i, b)| match i {
            8 => b == b'T',
            15 => b == b'Z',
            _ => b.is_ascii_digit(),
        });
    if !well_formed {
        return Err(SigningError::MalformedDate);
    }
    PrimitiveDateTime::parse(value, SDK_DATE_FORMAT)
        .map(PrimitiveDateTime::assume_utc)
        .map_err(|_| SigningError::MalformedDate)
}

/// Formats a time as an `X-Sdk-Date` value, e.g. `20250102T030405Z`.
pub fn format_sdk_date(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(SDK_DATE_FORMAT)
        .expect("an OffsetDateTime has every component of the SDK date format")
}

/// Builds the canonical URI (SIGNING.md 2.2) from the raw, percent-encoded path.
///
/// The path is decoded completely, so an encoded `%2F` becomes a real `/`
/// separator, and the result always ends in `/`.
pub fn canonical_uri(raw_path: &str) -> String {
    let decoded = percent_decode_str(raw_path).decode_utf8_lossy();
    let mut uri = decoded.split('/').map(encode).collect::<Vec<_>>().join("/");
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

/// Builds the canonical query string (SIGNING.md 2.3) from the raw query.
pub fn canonical_query(raw_query: Option<&str>) -> String {
    let Some(raw_query) = raw_query else {
        return String::new();
    };
    let mut pairs = raw_query
        .split('&')
        .filter(|item| !item.is_empty())
        .map(|item| {
            let (key, value) = item.split_once('=').unwrap_or((item, ""));
            (decode(key), decode(value))
        })
        .collect::<Vec<_>>();
    pairs.sort();
    pairs
        .iter()
        .map(|(key, value)| format!("{}={}", encode(key), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

fn encode(s: &str) -> String {
    utf8_percent_encode(s, ENCODE_SET).to_string()
}

/// Builds the canonical request (SIGNING.md 2.1–2.5) over `signed_headers`.
///
/// Fails with [`SigningError::MissingSignedHeader`] or
/// [`SigningError::DuplicateSignedHeader`] when a signed header is absent from
/// the request or present more than once. Header values are raw bytes; this
/// string is exactly what [`verify`] hashes whenever they are UTF-8, which is
/// all the SDK sends.
pub fn canonical_request(
    req: &RequestParts,
    signed_headers: &[String],
) -> Result<String, SigningError> {
    let bytes =
        canonical_request_bytes(req, signed_headers, |name| single_header(req.headers, name))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn canonical_request_bytes<'h>(
    req: &RequestParts<'h>,
    signed_headers: &[String],
    header: impl Fn(&str) -> Result<&'h [u8], SigningError>,
) -> Result<Vec<u8>, SigningError> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(req.method.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_uri(req.raw_path).as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_query(req.raw_query).as_bytes());
    out.push(b'\n');
    for name in signed_headers {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend_from_slice(header(name)?.trim_ascii());
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(signed_headers.join(";").as_bytes());
    out.push(b'\n');
    out.extend_from_slice(&payload_hash(req));
    Ok(out)
}

/// The one value of a signed header; two would leave the request ambiguous.
fn single_header<'h>(headers: &'h HeaderMap, name: &str) -> Result<&'h [u8], SigningError> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (Some(value), None) => Ok(value.as_bytes()),
        (None, _) => Err(SigningError::MissingSignedHeader(name.to_owned())),
        (Some(_), Some(_)) => Err(SigningError::DuplicateSignedHeader(name.to_owned())),
    }
}

fn payload_hash(req: &RequestParts) -> Vec<u8> {
    if req.body.is_empty() {
        return EMPTY_PAYLOAD_HASH.as_bytes().to_vec();
    }
    match req.headers.get(CONTENT_SHA256_HEADER) {
        Some(value) => value.as_bytes().to_vec(),
        None => hex::encode(Sha256::digest(req.body)).into_bytes(),
    }
}

/// Builds the string to sign (SIGNING.md 3) from the `X-Sdk-Date` value and the canonical request.
pub fn string_to_sign(sdk_date: &str, canonical_request: &str) -> String {
    string_to_sign_bytes(sdk_date, canonical_request.as_bytes())
}

fn string_to_sign_bytes(sdk_date: &str, canonical_request: &[u8]) -> String {
    format!(
        "{ALGORITHM}\n{sdk_date}\n{}",
        hex::encode(Sha256::digest(canonical_request))
    )
}

/// Signs a string to sign: lowercase hex HMAC-SHA256 keyed directly with the secret key.
pub fn sign_string(secret_key: &[u8], string_to_sign: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret_key).expect("HMAC accepts any key length");
    mac.update(string_to_sign.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Full server-side check (SIGNING.md §6 steps 3–6).
///
/// Requires `x-sdk-date` and `host` among the signed headers and
/// `|now - X-Sdk-Date| <= max_skew`, then compares signatures in constant time.
pub fn verify(
    req: &RequestParts,
    auth: &Authorization,
    secret_key: &[u8],
    now: OffsetDateTime,
    max_skew: Duration,
) -> Result<(), SigningError> {
    let is_signed = |name: &str| auth.signed_headers.iter().any(|h| h == name);
    if !is_signed(HOST_HEADER) {
        return Err(SigningError::HostNotSigned);
    }
    if !is_signed(DATE_HEADER) {
        return Err(SigningError::DateNotSigned);
    }

    let sdk_date = match single_header(req.headers, DATE_HEADER) {
        Ok(value) => std::str::from_utf8(value).map_err(|_| SigningError::MalformedDate)?,
        Err(SigningError::MissingSignedHeader(_)) => return Err(SigningError::MissingDate),
        Err(err) => return Err(err),
    };
    let date = parse_sdk_date(sdk_date)?;
    if (now - date).abs() > max_skew {
        return Err(SigningError::ClockSkew);
    }

    let canonical = canonical_request_bytes(req, &auth.signed_headers, |name| {
        single_header(req.headers, name)
    })?;
    let expected = sign_string(secret_key, &string_to_sign_bytes(sdk_date, &canonical));
    if bool::from(expected.as_bytes().ct_eq(auth.signature.as_bytes())) {
        Ok(())
    } else {
        Err(SigningError::BadSignature)
    }
}

/// Client side, used by `assetd client`, tests and benchmarks to sign exactly like the SDK.
///
/// `raw_query` must already be in the form it will be sent, and `headers` must
/// already include `Host` and `X-Sdk-Date`. Every header whose name has no `_`
/// is signed, lower-cased and sorted, like the SDK. Returns the
/// `Authorization` header value.
pub fn authorization_header(
    method: &str,
    raw_path: &str,
    raw_query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
    access_key: &str,
    secret_key: &[u8],
) -> String {
    let mut signed_headers = headers
        .keys()
        .map(HeaderName::as_str)
        .filter(|name| !name.contains('_'))
        .map(str::to_owned)
        .collect::<Vec<_>>();
    signed_headers.sort();

    let req = RequestParts {
        method,
        raw_path,
        raw_query,
        headers,
        body,
    };
    let canonical = canonical_request_bytes(&req, &signed_headers, |name| {
        Ok(headers.get(name).map_or(&b""[..], |value| value.as_bytes()))
    })
    .expect("every signed header was taken from the map");
    let sdk_date = headers
        .get(DATE_HEADER)
        .map(|value| String::from_utf8_lossy(value.as_bytes()))
        .unwrap_or_default();
    let signature = sign_string(secret_key, &string_to_sign_bytes(&sdk_date, &canonical));
    format!(
        "{ALGORITHM} Access={access_key}, SignedHeaders={}, Signature={signature}",
        signed_headers.join(";")
    )
}

impl SigningError {
    /// Every signing failure is an authentication failure.
    pub fn code(&self) -> crate::error::Code {
        crate::error::Code::Unauthorized
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use time::macros::datetime;

    const AK: &str = "HPUAEXAMPLEAK0000001";
    const SK: &[u8] = b"exampleSecretKey0123456789abcdefEXAMPLE0";
    const PROJECT: &str = "0123456789abcdef0123456789abcdef";
    const DATE: &str = "20250102T030405Z";
    const NOW: OffsetDateTime = datetime!(2025-01-02 03:04:05 UTC);
    const SKEW: Duration = Duration::minutes(15);
    const EMPTY: &[u8] = b"";

    struct Vector {
        method: &'static str,
        raw_path: String,
        raw_query: Option<String>,
        /// The SDK's header map at signing time.
        sdk_headers: HeaderMap,
        /// What arrives on the wire: the SDK's headers plus the HTTP library's.
        headers: HeaderMap,
        body: &'static [u8],
        signed_headers: &'static str,
        signature: &'static str,
    }

    impl Vector {
        fn parts(&self) -> RequestParts<'_> {
            RequestParts {
                method: self.method,
                raw_path: &self.raw_path,
                raw_query: self.raw_query.as_deref(),
                headers: &self.headers,
                body: self.body,
            }
        }

        fn expected_authorization(&self) -> String {
            format!(
                "SDK-HMAC-SHA256 Access={AK}, SignedHeaders={}, Signature={}",
                self.signed_headers, self.signature
            )
        }

        fn auth(&self) -> Authorization {
            parse_authorization(&self.expected_authorization()).unwrap()
        }

        fn canonical(&self) -> String {
            canonical_request(&self.parts(), &self.auth().signed_headers).unwrap()
        }

        fn client_authorization(&self) -> String {
            authorization_header(
                self.method,
                &self.raw_path,
                self.raw_query.as_deref(),
                &self.sdk_headers,
                self.body,
                AK,
                SK,
            )
        }

        fn verify_at(&self, now: OffsetDateTime) -> Result<(), SigningError> {
            verify(&self.parts(), &self.auth(), SK, now, SKEW)
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn sdk_headers(extra: &[(&str, &str)]) -> HeaderMap {
        let mut pairs = vec![
            ("Host", "metastudio.cn-north-4.myhuaweicloud.com"),
            ("User-Agent", "huaweicloud-usdk-python/3.0; vector-test"),
            ("Content-Type", "application/json"),
            ("X-Project-Id", PROJECT),
            ("X-Sdk-Date", DATE),
        ];
        pairs.extend_from_slice(extra);
        headers(&pairs)
    }

    /// Adds the headers the HTTP library sends after signing.
    fn on_wire(sdk_headers: &HeaderMap, content_length: Option<&str>) -> HeaderMap {
        let mut wire = sdk_headers.clone();
        wire.extend(headers(&[
            ("Accept", "*/*"),
            ("Accept-Encoding", "gzip, deflate"),
            ("Connection", "keep-alive"),
        ]));
        if let Some(len) = content_length {
            wire.insert("content-length", HeaderValue::from_str(len).unwrap());
        }
        wire
    }

    fn sha256_hex(s: &str) -> String {
        hex::encode(Sha256::digest(s.as_bytes()))
    }

    fn vector_a() -> Vector {
        let sdk_a = sdk_headers(&[("X-App-UserId", "user-1")]);
        Vector {
            method: "POST",
            raw_path: format!("/v1/{PROJECT}/digital-assets"),
            raw_query: None,
            headers: on_wire(&sdk_a, Some("69")),
            sdk_headers: sdk_a,
            body: br#"{"asset_name": "Sara Model", "asset_type": "IMAGE", "tags": ["demo"]}"#,
            signed_headers: "content-type;host;user-agent;x-app-userid;x-project-id;x-sdk-date",
            signature: "d4a2bb048dfb5d3b693d4d8119a78916df6ef3a7bfe7f78c1af7d837c55679bd",
        }
    }

    fn vector_b() -> Vector {
        Vector {
            method: "GET",
            raw_path: format!("/v1/{PROJECT}/digital-assets"),
            raw_query: Some(
                "asset_id=a-1&asset_id=b-2&asset_type=IMAGE%2CVIDEO&is_realtime_voice=true\
                 &limit=10&name=my%20asset&offset=0"
                    .to_owned(),
            ),
            headers: on_wire(&sdk_headers(&[]), None),
            sdk_headers: sdk_headers(&[]),
            body: EMPTY,
            signed_headers: "content-type;host;user-agent;x-project-id;x-sdk-date",
            signature: "dbc94f364d8d79376dcacfb26ef931e0c3a6e57de079a35e7f1d199d3a721ca4",
        }
    }

    fn vector_c() -> Vector {
        let sdk_c = sdk_headers(&[]);
        Vector {
            method: "DELETE",
            raw_path: format!("/v1/{PROJECT}/digital-assets/93769b5a-c8c6-4692-9c95-53933a1f0c93"),
            raw_query: Some("mode=force".to_owned()),
            headers: on_wire(&sdk_c, Some("0")),
            sdk_headers: sdk_c,
            body: EMPTY,
            signed_headers: "content-type;host;user-agent;x-project-id;x-sdk-date",
            signature: "c8d2d5e953496e7ca0ac0aa04ae21cba41053eceedf3b62bc585512effa34753",
        }
    }

    fn vector_d() -> Vector {
        Vector {
            method: "GET",
            raw_path: format!("/v1/{PROJECT}/digital-assets"),
            raw_query: Some(
                "asset_source=ALL&limit=5&name=%E6%95%B0%E5%AD%97%E4%BA%BA%20a%2Bb%2Fc~%2A\
                 &tag=x%26y%3Dz"
                    .to_owned(),
            ),
            headers: on_wire(&sdk_headers(&[]), None),
            sdk_headers: sdk_headers(&[]),
            body: EMPTY,
            signed_headers: "content-type;host;user-agent;x-project-id;x-sdk-date",
            signature: "8ce6c79ba01fde967f3c92631842671a8eac3e95c811eed0a6948f9f03f13ed8",
        }
    }

    fn vector_e() -> Vector {
        let sdk = headers(&[
            ("Host", "127.0.0.1:8080"),
            ("Content-Type", "application/json"),
            ("X-Sdk-Date", DATE),
        ]);
        Vector {
            method: "POST",
            raw_path: "/v1/pid/files/f-1/complete".to_owned(),
            raw_query: None,
            headers: sdk.clone(),
            sdk_headers: sdk,
            body: br#"{"state": "CREATED"}"#,
            signed_headers: "content-type;host;x-sdk-date",
            signature: "96b3ca6c341157c15ad3f32bc016860d80b98f333493576e68d8eeb68aa6d6d5",
        }
    }

    fn vector_f() -> Vector {
        let sdk = headers(&[
            ("Host", "h.example"),
            ("X-Sdk-Date", DATE),
            ("X-Custom", "  padded value  "),
            ("X_Under", "ignored"),
        ]);
        Vector {
            method: "DELETE",
            raw_path: "/v1/pid/files/a%20b%2Fc".to_owned(),
            raw_query: Some("a=b&a=x%20y&flag=true&z=".to_owned()),
            headers: sdk.clone(),
            sdk_headers: sdk,
            body: EMPTY,
            signed_headers: "host;x-custom;x-sdk-date",
            signature: "251f83d4f3765f99162e21e0f24a12079a52390db01157e6ccbc80301e44b2bd",
        }
    }

    fn all_vectors() -> [(&'static str, Vector); 6] {
        [
            ("A", vector_a()),
            ("B", vector_b()),
            ("C", vector_c()),
            ("D", vector_d()),
            ("E", vector_e()),
            ("F", vector_f()),
        ]
    }

    #[test]
    fn vector_a_canonical_request_and_string_to_sign_match_sdk() {
        let v = vector_a();
        let expected = format!(
            "POST\n\
             /v1/{PROJECT}/digital-assets/\n\
             \n\
             content-type:application/json\n\
             host:metastudio.cn-north-4.myhuaweicloud.com\n\
             user-agent:huaweicloud-usdk-python/3.0; vector-test\n\
             x-app-userid:user-1\n\
             x-project-id:{PROJECT}\n\
             x-sdk-date:{DATE}\n\
             \n\
             content-type;host;user-agent;x-app-userid;x-project-id;x-sdk-date\n\
             664c8dfa0e778177d48f410eaf7717a55545ca213dea55493b3bd469fad0a464"
        );
        assert_eq!(
            hex::encode(Sha256::digest(v.body)),
            "664c8dfa0e778177d48f410eaf7717a55545ca213dea55493b3bd469fad0a464"
        );
        let canonical = v.canonical();
        assert_eq!(canonical, expected);
        assert_eq!(
            string_to_sign(DATE, &canonical),
            "SDK-HMAC-SHA256\n\
             20250102T030405Z\n\
             33eca976e2b708dce141a6c5eb27bc89907142f5e744e43233ae2f86d05130ba"
        );
    }

    #[test]
    fn vector_a_create_asset_signature_matches_sdk() {
        let v = vector_a();
        let sts = string_to_sign(DATE, &v.canonical());
        assert_eq!(sign_string(SK, &sts), v.signature);
        v.verify_at(NOW).unwrap();
        assert_eq!(v.client_authorization(), v.expected_authorization());
    }

    #[test]
    fn vector_b_list_assets_query_canonicalizes_and_signature_matches_sdk() {
        let v = vector_b();
        let expected = format!(
            "GET\n\
             /v1/{PROJECT}/digital-assets/\n\
             asset_id=a-1&asset_id=b-2&asset_type=IMAGE%2CVIDEO&is_realtime_voice=true\
             &limit=10&name=my%20asset&offset=0\n\
             content-type:application/json\n\
             host:metastudio.cn-north-4.myhuaweicloud.com\n\
             user-agent:huaweicloud-usdk-python/3.0; vector-test\n\
             x-project-id:{PROJECT}\n\
             x-sdk-date:{DATE}\n\
             \n\
             content-type;host;user-agent;x-project-id;x-sdk-date\n\
             {EMPTY_PAYLOAD_HASH}"
        );
        let canonical = v.canonical();
        assert_eq!(canonical, expected);
        assert_eq!(
            sha256_hex(&canonical),
            "0546cf0bf14db24230a8756009555d31b322a06b5e2178dd2ae6bfe891a59c93"
        );
        assert_eq!(
            sign_string(SK, &string_to_sign(DATE, &canonical)),
            v.signature
        );
        v.verify_at(NOW).unwrap();
        assert_eq!(v.client_authorization(), v.expected_authorization());
    }

    #[test]
    fn vector_c_delete_asset_signature_matches_sdk() {
        let v = vector_c();
        let canonical = v.canonical();
        let mut lines = canonical.lines();
        assert_eq!(lines.next(), Some("DELETE"));
        assert_eq!(
            lines.next().map(str::to_owned),
            Some(format!(
                "/v1/{PROJECT}/digital-assets/93769b5a-c8c6-4692-9c95-53933a1f0c93/"
            ))
        );
        assert_eq!(lines.next(), Some("mode=force"));
        assert!(canonical.ends_with(EMPTY_PAYLOAD_HASH));
        assert_eq!(
            sha256_hex(&canonical),
            "317570c195707cc692b45ed4c2bf1f7384b8596f0d1fc8d1a6c11d46aeef2328"
        );
        assert_eq!(
            sign_string(SK, &string_to_sign(DATE, &canonical)),
            v.signature
        );
        v.verify_at(NOW).unwrap();
        assert_eq!(v.client_authorization(), v.expected_authorization());
    }

    #[test]
    fn vector_d_non_ascii_and_reserved_query_signature_matches_sdk() {
        let v = vector_d();
        assert_eq!(
            canonical_query(v.raw_query.as_deref()),
            "asset_source=ALL&limit=5&name=%E6%95%B0%E5%AD%97%E4%BA%BA%20a%2Bb%2Fc~%2A\
             &tag=x%26y%3Dz"
        );
        let canonical = v.canonical();
        assert_eq!(
            sha256_hex(&canonical),
            "b626d07a5ba1de74e304cd8f5ad155395445f304e2b710a8ec5a7cab07622f06"
        );
        assert_eq!(
            sign_string(SK, &string_to_sign(DATE, &canonical)),
            v.signature
        );
        v.verify_at(NOW).unwrap();
        assert_eq!(v.client_authorization(), v.expected_authorization());
    }

    #[test]
    fn vector_e_host_with_port_signature_matches_sdk() {
        let v = vector_e();
        let canonical = v.canonical();
        assert_eq!(
            canonical,
            "POST\n\
             /v1/pid/files/f-1/complete/\n\
             \n\
             content-type:application/json\n\
             host:127.0.0.1:8080\n\
             x-sdk-date:20250102T030405Z\n\
             \n\
             content-type;host;x-sdk-date\n\
             7d4facbe24c052639cd92a72bc928c1d6587584f3c6c4fafd2fbc7aa92575a48"
        );
        assert_eq!(
            sha256_hex(&canonical),
            "95484f2d91420a43bcb42895639114b3d3bcaf13498c7fb4ba3a91306b3c5e46"
        );
        assert_eq!(
            sign_string(SK, &string_to_sign(DATE, &canonical)),
            v.signature
        );
        v.verify_at(NOW).unwrap();
        assert_eq!(v.client_authorization(), v.expected_authorization());
    }

    #[test]
    fn vector_f_encoded_slash_padded_header_and_underscore_header_match_sdk() {
        let v = vector_f();
        let canonical = v.canonical();
        assert_eq!(
            canonical,
            "DELETE\n\
             /v1/pid/files/a%20b/c/\n\
             a=b&a=x%20y&flag=true&z=\n\
             host:h.example\n\
             x-custom:padded value\n\
             x-sdk-date:20250102T030405Z\n\
             \n\
             host;x-custom;x-sdk-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(&canonical),
            "c25d242e975baeb767db56719352330694c9a11e81e018eb21670787d40cc44c"
        );
        assert_eq!(
            sign_string(SK, &string_to_sign(DATE, &canonical)),
            v.signature
        );
        v.verify_at(NOW).unwrap();
        assert_eq!(v.client_authorization(), v.expected_authorization());
    }

    #[test]
    fn sdk_authorization_header_parses_into_its_parts() {
        let auth = vector_a().auth();
        assert_eq!(auth.access_key, AK);
        assert_eq!(
            auth.signed_headers,
            [
                "content-type",
                "host",
                "user-agent",
                "x-app-userid",
                "x-project-id",
                "x-sdk-date"
            ]
        );
        assert_eq!(auth.signature, vector_a().signature);
    }

    #[test]
    fn authorization_parsing_tolerates_whitespace_and_lower_cases_header_names() {
        let sig = vector_e().signature;
        let auth = parse_authorization(&format!(
            "  SDK-HMAC-SHA256   Access = {AK} ,SignedHeaders=Content-Type; HOST;X-Sdk-Date ,\t Signature={sig}  "
        ))
        .unwrap();
        assert_eq!(auth, vector_e().auth());
    }

    #[test]
    fn unsupported_algorithms_are_rejected_by_name() {
        for scheme in [
            "SDK-HMAC-SM3",
            "V11-HMAC-SHA256",
            "SDK-ECDSA-P256-SHA256",
            "Bearer",
        ] {
            let err = parse_authorization(&format!(
                "{scheme} Access={AK}, SignedHeaders=host, Signature={}",
                vector_a().signature
            ))
            .unwrap_err();
            assert!(
                matches!(&err, SigningError::UnsupportedAlgorithm(s) if s == scheme),
                "{scheme}: {err:?}"
            );
        }
    }

    #[test]
    fn a_bare_token_is_never_echoed_as_an_algorithm_name() {
        let token =
            "MIIDkgYJKoZIhvcNAQcCoIIDgzCCA38CAQExDTALBglghkgBZQMEAgEwgXIGCSqGSIb3DQEHAaBlBGN7";
        let err = parse_authorization(token).unwrap_err();
        assert!(matches!(err, SigningError::MalformedAuthorization));
        assert!(!err.to_string().contains(token));
    }

    #[test]
    fn malformed_authorization_headers_are_rejected() {
        let sig = vector_a().signature;
        let cases = [
            String::new(),
            "SDK-HMAC-SHA256".to_owned(),
            format!("SDK-HMAC-SHA256 Access={AK}, SignedHeaders=host;x-sdk-date"),
            format!("SDK-HMAC-SHA256 Access={AK}, Signature={sig}"),
            format!("SDK-HMAC-SHA256 SignedHeaders=host, Signature={sig}"),
            format!("SDK-HMAC-SHA256 Access=, SignedHeaders=host, Signature={sig}"),
            format!("SDK-HMAC-SHA256 Access={AK}, SignedHeaders=, Signature={sig}"),
            format!("SDK-HMAC-SHA256 Access={AK}, SignedHeaders=host;;x-sdk-date, Signature={sig}"),
            format!("SDK-HMAC-SHA256 Access={AK}, SignedHeaders=ho st, Signature={sig}"),
            format!(
                "SDK-HMAC-SHA256 Access={AK}, SignedHeaders=host, Signature={}",
                &sig[1..]
            ),
            format!(
                "SDK-HMAC-SHA256 Access={AK}, SignedHeaders=host, Signature={}",
                sig.to_uppercase()
            ),
            format!("SDK-HMAC-SHA256 Access={AK}, SignedHeaders=host, Signature={sig}, Extra=1"),
            format!(
                "SDK-HMAC-SHA256 Access={AK}, Access={AK}, SignedHeaders=host, Signature={sig}"
            ),
            format!("SDK-HMAC-SHA256 Access={AK} SignedHeaders=host Signature={sig}"),
        ];
        for case in cases {
            let err = parse_authorization(&case).unwrap_err();
            assert!(
                matches!(err, SigningError::MalformedAuthorization),
                "{case:?}: {err:?}"
            );
        }
    }

    #[test]
    fn sdk_dates_round_trip_and_malformed_dates_are_rejected() {
        assert_eq!(parse_sdk_date(DATE).unwrap(), NOW);
        assert_eq!(format_sdk_date(NOW), DATE);
        let offset = NOW.to_offset(time::UtcOffset::from_hms(8, 0, 0).unwrap());
        assert_eq!(format_sdk_date(offset), DATE);
        for bad in [
            "",
            "20250102T030405",
            "20250102T030405z",
            "2025-01-02T03:04:05Z",
            "20250102 030405Z",
            "20251302T030405Z",
            "20250102T250405Z",
            "+0250102T030405Z",
            "20250102T030405Z ",
            "２0250102T03040Z",
        ] {
            assert!(
                matches!(parse_sdk_date(bad), Err(SigningError::MalformedDate)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn canonical_uri_decodes_fully_and_adds_a_trailing_slash() {
        assert_eq!(
            canonical_uri("/v1/p/digital-assets"),
            "/v1/p/digital-assets/"
        );
        assert_eq!(
            canonical_uri("/v1/p/digital-assets/"),
            "/v1/p/digital-assets/"
        );
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/a%2Fb%2fc"), "/a/b/c/");
        assert_eq!(canonical_uri("/a b+c*~"), "/a%20b%2Bc%2A~/");
        assert_eq!(canonical_uri("/%e6%95%b0"), "/%E6%95%B0/");
        assert_eq!(canonical_uri("/100%"), "/100%25/");
    }

    #[test]
    fn canonical_query_sorts_decodes_and_re_encodes() {
        assert_eq!(canonical_query(None), "");
        assert_eq!(canonical_query(Some("")), "");
        assert_eq!(canonical_query(Some("b=2&&a=1&")), "a=1&b=2");
        assert_eq!(canonical_query(Some("k=b&k=a&flag")), "flag=&k=a&k=b");
        assert_eq!(canonical_query(Some("q=a+b&e=x=y")), "e=x%3Dy&q=a%2Bb");
        assert_eq!(canonical_query(Some("n=my asset")), "n=my%20asset");
    }

    #[test]
    fn clock_skew_beyond_fifteen_minutes_is_rejected() {
        let v = vector_a();
        for now in [NOW + SKEW + Duration::SECOND, NOW - SKEW - Duration::SECOND] {
            assert!(matches!(v.verify_at(now), Err(SigningError::ClockSkew)));
        }
    }

    #[test]
    fn clock_skew_of_exactly_fifteen_minutes_is_accepted() {
        let v = vector_a();
        v.verify_at(NOW + SKEW).unwrap();
        v.verify_at(NOW - SKEW).unwrap();
    }

    #[test]
    fn tampered_body_is_rejected() {
        let mut v = vector_a();
        v.body = br#"{"asset_name": "Evil Model", "asset_type": "IMAGE", "tags": ["demo"]}"#;
        assert!(matches!(v.verify_at(NOW), Err(SigningError::BadSignature)));
    }

    #[test]
    fn tampered_signed_header_is_rejected() {
        let mut v = vector_a();
        v.headers
            .insert("x-app-userid", HeaderValue::from_static("user-2"));
        assert!(matches!(v.verify_at(NOW), Err(SigningError::BadSignature)));
    }

    #[test]
    fn unsigned_headers_may_change_freely() {
        let mut v = vector_a();
        v.headers
            .insert("accept", HeaderValue::from_static("text/plain"));
        v.headers
            .insert("x_under", HeaderValue::from_static("anything"));
        v.verify_at(NOW).unwrap();
    }

    #[test]
    fn tampered_signature_is_rejected() {
        let v = vector_a();
        let mut auth = v.auth();
        auth.signature = auth.signature.replace('d', "e");
        let err = verify(&v.parts(), &auth, SK, NOW, SKEW).unwrap_err();
        assert!(matches!(err, SigningError::BadSignature));
    }

    #[test]
    fn wrong_secret_key_is_rejected() {
        let v = vector_a();
        let err = verify(&v.parts(), &v.auth(), b"another-secret", NOW, SKEW).unwrap_err();
        assert!(matches!(err, SigningError::BadSignature));
    }

    #[test]
    fn missing_signed_header_is_rejected() {
        let mut v = vector_a();
        v.headers.remove("x-app-userid");
        let err = v.verify_at(NOW).unwrap_err();
        assert!(matches!(&err, SigningError::MissingSignedHeader(h) if h == "x-app-userid"));
    }

    #[test]
    fn duplicated_signed_header_is_rejected() {
        let mut v = vector_a();
        v.headers
            .append("x-project-id", HeaderValue::from_static("someone-else"));
        let err = v.verify_at(NOW).unwrap_err();
        assert!(matches!(&err, SigningError::DuplicateSignedHeader(h) if h == "x-project-id"));
    }

    #[test]
    fn missing_or_malformed_date_header_is_rejected() {
        let mut v = vector_a();
        v.headers.remove("x-sdk-date");
        assert!(matches!(v.verify_at(NOW), Err(SigningError::MissingDate)));
        v.headers.insert(
            "x-sdk-date",
            HeaderValue::from_static("2025-01-02T03:04:05Z"),
        );
        assert!(matches!(v.verify_at(NOW), Err(SigningError::MalformedDate)));
    }

    #[test]
    fn host_and_date_must_be_signed() {
        let v = vector_a();
        let mut auth = v.auth();
        auth.signed_headers.retain(|h| h != "host");
        let err = verify(&v.parts(), &auth, SK, NOW, SKEW).unwrap_err();
        assert!(matches!(err, SigningError::HostNotSigned));

        let mut auth = v.auth();
        auth.signed_headers.retain(|h| h != "x-sdk-date");
        let err = verify(&v.parts(), &auth, SK, NOW, SKEW).unwrap_err();
        assert!(matches!(err, SigningError::DateNotSigned));
    }

    #[test]
    fn unsigned_payload_header_replaces_the_body_hash() {
        let mut v = vector_e();
        v.headers.insert(
            "x-sdk-content-sha256",
            HeaderValue::from_static("UNSIGNED-PAYLOAD"),
        );
        let canonical = canonical_request(&v.parts(), &["host".to_owned()]).unwrap();
        assert!(canonical.ends_with("\nUNSIGNED-PAYLOAD"));
        v.body = EMPTY;
        let canonical = canonical_request(&v.parts(), &["host".to_owned()]).unwrap();
        assert!(canonical.ends_with(EMPTY_PAYLOAD_HASH));
    }

    #[test]
    fn error_messages_never_contain_the_signature_or_secret_key() {
        let sk = std::str::from_utf8(SK).unwrap();
        let v = vector_a();
        let sig = v.signature;
        let mut errors = vec![
            SigningError::MissingAuthorization,
            parse_authorization(&format!(
                "SDK-HMAC-SM3 Access={AK}, SignedHeaders=host, Signature={sig}"
            ))
            .unwrap_err(),
            parse_authorization(&format!("SDK-HMAC-SHA256 Access={AK}, Signature={sig}"))
                .unwrap_err(),
            parse_authorization(&format!(
                "SDK-HMAC-SHA256 Access={AK}, SignedHeaders=host, Signature={sig}x"
            ))
            .unwrap_err(),
            parse_sdk_date("garbage").unwrap_err(),
            v.verify_at(NOW + Duration::HOUR).unwrap_err(),
        ];
        let mut auth = v.auth();
        auth.signature = sig.replace('d', "e");
        errors.push(verify(&v.parts(), &auth, SK, NOW, SKEW).unwrap_err());
        let mut missing = vector_a();
        missing.headers.remove("user-agent");
        errors.push(missing.verify_at(NOW).unwrap_err());
        for err in [
            SigningError::MissingDate,
            SigningError::HostNotSigned,
            SigningError::DateNotSigned,
        ] {
            errors.push(err);
        }

        for err in &errors {
            for text in [err.to_string(), format!("{err:?}")] {
                assert!(!text.contains(sig), "{text}");
                assert!(!text.contains(&auth.signature), "{text}");
                assert!(!text.contains(sk), "{text}");
            }
        }
        assert!(!format!("{:?}", v.auth()).contains(sig));
    }

    #[test]
    fn every_vector_round_trips_through_client_and_verifier() {
        for (name, v) in all_vectors() {
            let header = v.client_authorization();
            assert_eq!(header, v.expected_authorization(), "vector {name}");
            let auth = parse_authorization(&header).unwrap();
            verify(&v.parts(), &auth, SK, NOW, SKEW)
                .unwrap_or_else(|err| panic!("vector {name}: {err}"));
        }
    }
}
