//! Authentication and the HTTP envelope: SDK-HMAC-SHA256 signatures, project binding,
//! `X-Auth-Token`, request ids on every response, fallbacks and the body limit.

mod common;

use axum::http::{HeaderMap, HeaderValue};
use common::{Client, Reply, TestServer};
use serde_json::{json, Value};
use time::OffsetDateTime;

/// A request built by hand, so a test can sign one thing and send another.
struct Hand {
    method: &'static str,
    /// Absolute path, e.g. `/v1/p/digital-assets`.
    path: String,
    query: Option<String>,
    body: Vec<u8>,
    date: OffsetDateTime,
    extra: Vec<(&'static str, String)>,
}

impl Hand {
    fn new(method: &'static str, path: String) -> Self {
        Self {
            method,
            path,
            query: None,
            body: Vec::new(),
            date: OffsetDateTime::now_utc(),
            extra: Vec::new(),
        }
    }

    fn path_and_query(&self) -> String {
        match &self.query {
            Some(q) => format!("{}?{q}", self.path),
            None => self.path.clone(),
        }
    }

    /// The SDK's headers for `c`, signed over this request.
    fn signed_headers(&self, c: &Client) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let host = c.base.trim_start_matches("http://");
        headers.insert("host", HeaderValue::from_str(host).unwrap());
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert("x-project-id", HeaderValue::from_str(&c.project).unwrap());
        headers.insert(
            "x-sdk-date",
            HeaderValue::from_str(&assetd::signing::format_sdk_date(self.date)).unwrap(),
        );
        for (name, value) in &self.extra {
            headers.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        let auth = assetd::signing::authorization_header(
            self.method,
            &self.path,
            self.query.as_deref(),
            &headers,
            &self.body,
            &c.ak,
            c.sk.as_bytes(),
        );
        headers.insert("authorization", HeaderValue::from_str(&auth).unwrap());
        headers
    }
}

/// Sends `body` to `path_and_query` with exactly `headers` (plus what reqwest adds).
async fn send(
    base: &str,
    method: &str,
    path_and_query: &str,
    headers: &HeaderMap,
    body: Vec<u8>,
) -> Reply {
    let http = reqwest::Client::new();
    let mut request = http.request(
        reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
        format!("{base}{path_and_query}"),
    );
    for (name, value) in headers {
        if name != "host" {
            request = request.header(name.as_str(), value.as_bytes());
        }
    }
    let response = request.body(body).send().await.expect("request sent");
    into_reply(response).await
}

async fn into_reply(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap().to_vec();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        json,
        bytes,
    }
}

fn assets_path(c: &Client) -> String {
    format!("/v1/{}/digital-assets", c.project)
}

fn create_body() -> Vec<u8> {
    serde_json::to_vec(&json!({"asset_name": "a", "asset_type": "IMAGE"})).unwrap()
}

fn request_id(reply: &Reply) -> String {
    let id = reply
        .headers
        .get("x-request-id")
        .unwrap_or_else(|| panic!("no X-Request-Id on a {} reply", reply.status))
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 32, "request id {id:?} is 32 characters");
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "request id {id:?} is lowercase hex"
    );
    id
}

async fn count(c: &Client) -> u64 {
    c.get("/digital-assets").await.ok()["count"]
        .as_u64()
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// Signatures

#[tokio::test]
async fn a_correctly_signed_request_is_accepted() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let mut hand = Hand::new("POST", assets_path(c));
    hand.body = create_body();
    let headers = hand.signed_headers(c);
    let reply = send(&c.base, "POST", &hand.path_and_query(), &headers, hand.body).await;
    reply.ok();
    assert_eq!(count(c).await, 1);
}

#[tokio::test]
async fn an_unsigned_request_is_401_with_mss_00000001() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let reply = c.call_raw("GET", &assets_path(c), None, false).await;
    reply.expect_error(401, "MSS.00000001");
    let reply = c
        .call_raw("POST", &assets_path(c), Some(&create_body()), false)
        .await;
    reply.expect_error(401, "MSS.00000001");
    assert_eq!(count(c).await, 0);
}

#[tokio::test]
async fn a_wrong_secret_key_is_401() {
    let server = TestServer::spawn().await;
    let mut c = server.client.clone();
    c.sk = "wrong-secret-key-0000000000000000000000".to_owned();
    c.get("/digital-assets")
        .await
        .expect_error(401, "MSS.00000001");
}

#[tokio::test]
async fn an_unknown_access_key_is_401() {
    let server = TestServer::spawn().await;
    let mut c = server.client.clone();
    c.ak = "NOSUCHACCESSKEY00000".to_owned();
    c.get("/digital-assets")
        .await
        .expect_error(401, "MSS.00000001");
}

#[tokio::test]
async fn a_malformed_authorization_header_is_401() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let hand = Hand::new("GET", assets_path(c));
    for value in [
        "SDK-HMAC-SHA256",
        "SDK-HMAC-SM3 Access=a, SignedHeaders=host, Signature=00",
        "Bearer abc",
        "SDK-HMAC-SHA256 Access=, SignedHeaders=, Signature=",
    ] {
        let mut headers = hand.signed_headers(c);
        headers.insert("authorization", HeaderValue::from_str(value).unwrap());
        send(&c.base, "GET", &hand.path, &headers, Vec::new())
            .await
            .expect_error(401, "MSS.00000001");
    }
}

#[tokio::test]
async fn a_body_tampered_with_after_signing_is_401() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let mut hand = Hand::new("POST", assets_path(c));
    hand.body = create_body();
    let headers = hand.signed_headers(c);
    let tampered = serde_json::to_vec(&json!({"asset_name": "b", "asset_type": "IMAGE"})).unwrap();
    send(&c.base, "POST", &hand.path, &headers, tampered)
        .await
        .expect_error(401, "MSS.00000001");
    assert_eq!(count(c).await, 0);
}

#[tokio::test]
async fn a_query_tampered_with_after_signing_is_401() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let mut hand = Hand::new("GET", assets_path(c));
    hand.query = Some("limit=5".to_owned());
    let headers = hand.signed_headers(c);
    send(&c.base, "GET", &hand.path_and_query(), &headers, Vec::new())
        .await
        .ok();
    for tampered in ["limit=6", "limit=5&offset=1", ""] {
        let target = if tampered.is_empty() {
            hand.path.clone()
        } else {
            format!("{}?{tampered}", hand.path)
        };
        send(&c.base, "GET", &target, &headers, Vec::new())
            .await
            .expect_error(401, "MSS.00000001");
    }
}

#[tokio::test]
async fn a_method_or_path_changed_after_signing_is_401() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let id = c
        .create_asset(&json!({"asset_name": "a", "asset_type": "IMAGE"}))
        .await;
    let hand = Hand::new("GET", format!("{}/{id}", assets_path(c)));
    let headers = hand.signed_headers(c);
    send(&c.base, "DELETE", &hand.path, &headers, Vec::new())
        .await
        .expect_error(401, "MSS.00000001");
    let other = c
        .create_asset(&json!({"asset_name": "b", "asset_type": "IMAGE"}))
        .await;
    send(
        &c.base,
        "GET",
        &format!("{}/{other}", assets_path(c)),
        &headers,
        Vec::new(),
    )
    .await
    .expect_error(401, "MSS.00000001");
    assert_eq!(c.show(&id).await["asset_state"], "CREATING");
}

#[tokio::test]
async fn a_signed_header_changed_after_signing_is_401() {
    let server = TestServer::spawn().await;
    let c = &server.client.with_app_user("user-1");
    let mut hand = Hand::new("POST", assets_path(c));
    hand.body = create_body();
    hand.extra.push(("x-app-userid", "user-1".to_owned()));
    let mut headers = hand.signed_headers(c);
    headers.insert("x-app-userid", HeaderValue::from_static("user-2"));
    send(&c.base, "POST", &hand.path, &headers, hand.body)
        .await
        .expect_error(401, "MSS.00000001");
}

#[tokio::test]
async fn an_x_sdk_date_16_minutes_old_is_401() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    for minutes in [-16, 16] {
        let mut hand = Hand::new("GET", assets_path(c));
        hand.date = OffsetDateTime::now_utc() + time::Duration::minutes(minutes);
        let headers = hand.signed_headers(c);
        send(&c.base, "GET", &hand.path, &headers, Vec::new())
            .await
            .expect_error(401, "MSS.00000001");
    }
    // 14 minutes is within the window.
    let mut hand = Hand::new("GET", assets_path(c));
    hand.date = OffsetDateTime::now_utc() - time::Duration::minutes(14);
    let headers = hand.signed_headers(c);
    send(&c.base, "GET", &hand.path, &headers, Vec::new())
        .await
        .ok();
}

#[tokio::test]
async fn a_missing_or_malformed_x_sdk_date_is_401() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let hand = Hand::new("GET", assets_path(c));
    let mut headers = hand.signed_headers(c);
    headers.remove("x-sdk-date");
    send(&c.base, "GET", &hand.path, &headers, Vec::new())
        .await
        .expect_error(401, "MSS.00000001");
    let mut headers = hand.signed_headers(c);
    headers.insert(
        "x-sdk-date",
        HeaderValue::from_static("2025-01-02T03:04:05Z"),
    );
    send(&c.base, "GET", &hand.path, &headers, Vec::new())
        .await
        .expect_error(401, "MSS.00000001");
}

// ---------------------------------------------------------------------------------------
// Project binding

#[tokio::test]
async fn credentials_of_one_project_on_another_projects_path_are_403_with_mss_00010009() {
    let server = TestServer::spawn().await;
    let p = &server.client;
    let q = server.new_client(false).await;
    let id = q
        .create_asset(&json!({"asset_name": "q's", "asset_type": "IMAGE"}))
        .await;
    let q_assets = assets_path(&q);
    p.call_raw("GET", &q_assets, None, true)
        .await
        .expect_error(403, "MSS.00010009");
    p.call_raw("POST", &q_assets, Some(&create_body()), true)
        .await
        .expect_error(403, "MSS.00010009");
    p.call_raw("DELETE", &format!("{q_assets}/{id}"), None, true)
        .await
        .expect_error(403, "MSS.00010009");
    assert_eq!(count(&q).await, 1);
    assert_eq!(q.show(&id).await["asset_state"], "CREATING");
    // Admin credentials are bound to their project too.
    let admin = server.new_client(true).await;
    admin
        .call_raw("GET", &q_assets, None, true)
        .await
        .expect_error(403, "MSS.00010009");
}

#[tokio::test]
async fn an_x_project_id_header_naming_another_project_is_403() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let mut hand = Hand::new("GET", assets_path(c));
    hand.extra.push(("x-project-id", "someone-else".to_owned()));
    let headers = hand.signed_headers(c);
    send(&c.base, "GET", &hand.path, &headers, Vec::new())
        .await
        .expect_error(403, "MSS.00010009");
}

// ---------------------------------------------------------------------------------------
// Tokens

async fn issue_token(c: &Client) -> String {
    let reply = c.call("POST", "/auth-tokens", None).await;
    let body = reply.ok();
    let token = body["token"].as_str().expect("token").to_owned();
    assert_eq!(body["project_id"], c.project);
    assert_eq!(
        reply
            .headers
            .get("x-subject-token")
            .unwrap()
            .to_str()
            .unwrap(),
        token
    );
    let expires = OffsetDateTime::parse(
        body["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(expires > OffsetDateTime::now_utc());
    token
}

fn token_headers(token: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert("x-auth-token", HeaderValue::from_str(token).unwrap());
    headers
}

#[tokio::test]
async fn a_token_from_auth_tokens_authenticates_requests_on_its_own() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let token = issue_token(c).await;
    let headers = token_headers(&token);
    let created = send(&c.base, "POST", &assets_path(c), &headers, create_body()).await;
    let id = created.ok()["asset_id"].as_str().unwrap().to_owned();
    let listed = send(&c.base, "GET", &assets_path(c), &headers, Vec::new()).await;
    assert_eq!(listed.ok()["count"], 1);
    let shown = send(
        &c.base,
        "GET",
        &format!("{}/{id}", assets_path(c)),
        &headers,
        Vec::new(),
    )
    .await;
    assert_eq!(shown.ok()["project_id"], c.project);
}

#[tokio::test]
async fn a_token_carries_the_admin_right_of_its_credentials() {
    let server = TestServer::spawn().await;
    let voice =
        serde_json::to_vec(&json!({"asset_name": "v", "asset_type": "VOICE_MODEL"})).unwrap();
    let admin = server.new_client(true).await;
    let headers = token_headers(&issue_token(&admin).await);
    send(
        &admin.base,
        "POST",
        &assets_path(&admin),
        &headers,
        voice.clone(),
    )
    .await
    .ok();
    let c = &server.client;
    let headers = token_headers(&issue_token(c).await);
    send(&c.base, "POST", &assets_path(c), &headers, voice)
        .await
        .expect_error(400, "MSS.00000003");
}

#[tokio::test]
async fn a_bogus_token_is_401() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let token = issue_token(c).await;
    for bogus in [
        "adt_bogus",
        "",
        &format!("{token}x"),
        &token[..token.len() - 1],
    ] {
        let mut headers = HeaderMap::new();
        headers.insert("x-auth-token", HeaderValue::from_str(bogus).unwrap());
        send(&c.base, "GET", &assets_path(c), &headers, Vec::new())
            .await
            .expect_error(401, "MSS.00000001");
    }
}

#[tokio::test]
async fn a_token_cannot_be_used_on_another_projects_path() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let other = server.new_client(false).await;
    let headers = token_headers(&issue_token(c).await);
    send(&c.base, "GET", &assets_path(&other), &headers, Vec::new())
        .await
        .expect_error(403, "MSS.00010009");
}

#[tokio::test]
async fn issuing_a_token_needs_a_valid_signature() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let path = format!("/v1/{}/auth-tokens", c.project);
    c.call_raw("POST", &path, None, false)
        .await
        .expect_error(401, "MSS.00000001");
    let mut wrong = c.clone();
    wrong.sk = "nope".to_owned();
    wrong
        .call_raw("POST", &path, None, true)
        .await
        .expect_error(401, "MSS.00000001");
}

// ---------------------------------------------------------------------------------------
// Envelope: request ids, fallbacks, body limit

#[tokio::test]
async fn every_response_carries_a_32_hex_x_request_id() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let mut ids = Vec::new();

    let health = send(&c.base, "GET", "/health", &HeaderMap::new(), Vec::new()).await;
    assert_eq!(health.ok()["status"], "ok");
    ids.push(request_id(&health));

    let created = c
        .post(
            "/digital-assets",
            &json!({"asset_name": "a", "asset_type": "IMAGE"}),
        )
        .await;
    created.ok();
    ids.push(request_id(&created));

    for reply in [
        c.call_raw("GET", &assets_path(c), None, false).await,
        c.get(&format!("/digital-assets/{}", uuid::Uuid::new_v4()))
            .await,
        c.post("/digital-assets", &json!({"asset_type": "IMAGE"}))
            .await,
        c.call_raw("GET", "/v1/nope/no-such-api", None, true).await,
        c.call_raw("PATCH", &assets_path(c), None, true).await,
    ] {
        assert!(reply.status >= 400);
        assert!(reply.code().starts_with("MSS."), "{}", reply.json);
        ids.push(request_id(&reply));
    }
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "request ids are unique: {ids:?}");
}

#[tokio::test]
async fn an_unknown_route_is_404_with_mss_00010003() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    for path in [
        "/nothing".to_owned(),
        "/v2/digital-assets".to_owned(),
        format!("/v1/{}/no-such-api", c.project),
        format!("/v1/{}/digital-assets/a/b/c", c.project),
    ] {
        c.call_raw("GET", &path, None, true)
            .await
            .expect_error(404, "MSS.00010003");
        c.call_raw("GET", &path, None, false)
            .await
            .expect_error(404, "MSS.00010003");
    }
}

#[tokio::test]
async fn a_wrong_method_is_405_with_mss_00010004() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let id = c
        .create_asset(&json!({"asset_name": "a", "asset_type": "IMAGE"}))
        .await;
    for (method, path) in [
        ("PATCH", assets_path(c)),
        ("DELETE", assets_path(c)),
        ("POST", format!("{}/{id}", assets_path(c))),
        ("GET", format!("{}/{id}/restore", assets_path(c))),
        ("GET", format!("{}/batch-action", assets_path(c))),
        ("POST", "/health".to_owned()),
    ] {
        let reply = c.call_raw(method, &path, None, true).await;
        reply.expect_error(405, "MSS.00010004");
    }
    assert_eq!(c.show(&id).await["asset_state"], "CREATING");
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_with_an_mss_body() {
    let server = TestServer::spawn_with(|c| c.max_body_bytes = 1024).await;
    let c = &server.client;
    let body =
        |pad: usize| json!({"asset_name": "a", "asset_type": "IMAGE", "pad": "x".repeat(pad)});
    let small = body(900);
    assert!(serde_json::to_vec(&small).unwrap().len() <= 1024);
    c.post("/digital-assets", &small).await.ok();

    let large = c.post("/digital-assets", &body(2000)).await;
    large.expect_error(413, "MSS.00000002");
    request_id(&large);
    assert_eq!(count(c).await, 1);
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_413() {
    let server = TestServer::spawn_with(|c| c.max_body_bytes = 1024).await;
    let c = &server.client;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..8).map(|_| Ok(vec![b' '; 512])).collect();
    let mut hand = Hand::new("POST", assets_path(c));
    hand.body = create_body();
    let headers = hand.signed_headers(c);
    let mut request = reqwest::Client::new().post(format!("{}{}", c.base, hand.path));
    for (name, value) in &headers {
        if name != "host" {
            request = request.header(name.as_str(), value.as_bytes());
        }
    }
    let response = request
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .expect("request sent");
    let reply = into_reply(response).await;
    reply.expect_error(413, "MSS.00000002");
}

#[tokio::test]
async fn a_raised_body_limit_above_two_mebibytes_is_honoured() {
    let server = TestServer::spawn_with(|c| c.max_body_bytes = 4 << 20).await;
    let c = &server.client;
    // Unknown fields are ignored, so a 3 MiB body is a valid create request.
    let body = json!({"asset_name": "big", "asset_type": "IMAGE", "pad": "x".repeat(3 << 20)});
    c.post("/digital-assets", &body).await.ok();
    assert_eq!(count(c).await, 1);
}

#[tokio::test]
async fn an_expired_token_is_401() {
    let server = TestServer::spawn_with(|c| c.token_ttl_secs = 1).await;
    let c = &server.client;
    let headers = token_headers(&issue_token(c).await);
    send(&c.base, "GET", &assets_path(c), &headers, Vec::new())
        .await
        .ok();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    send(&c.base, "GET", &assets_path(c), &headers, Vec::new())
        .await
        .expect_error(401, "MSS.00000001");
}

#[tokio::test]
async fn x_mss_authorization_and_x_security_token_are_accepted_and_ignored() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let mut hand = Hand::new("POST", assets_path(c));
    hand.body = create_body();
    hand.extra
        .push(("x-mss-authorization", "internal-token".to_owned()));
    hand.extra
        .push(("x-security-token", "temporary-ak-token".to_owned()));
    let headers = hand.signed_headers(c);
    send(&c.base, "POST", &hand.path, &headers, hand.body)
        .await
        .ok();
    assert_eq!(count(c).await, 1);
}

#[tokio::test]
async fn a_token_cannot_mint_another_token() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let token = issue_token(c).await;
    let path = format!("/v1/{}/auth-tokens", c.project);
    send(&c.base, "POST", &path, &token_headers(&token), Vec::new())
        .await
        .expect_error(403, "MSS.00000006");
}

#[tokio::test]
async fn a_client_chosen_request_id_is_replaced_by_the_servers_own() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let mut headers = HeaderMap::new();
    headers.insert("x-request-id", HeaderValue::from_static("hello <script>"));
    let reply = send(&c.base, "GET", "/health", &headers, Vec::new()).await;
    let id = request_id(&reply);
    assert_eq!(id.len(), 32);
    assert!(id.chars().all(|ch| ch.is_ascii_hexdigit()), "{id}");
}
