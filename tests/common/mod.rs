//! Test harness: a real assetd on a temp dir and a free loopback port, and a client that
//! signs exactly like the official SDK.
#![allow(dead_code)]

use std::time::Duration;

use assetd::app::App;
use assetd::config::Config;
use axum::http::{HeaderMap, HeaderValue};
use reqwest::Method;
use serde_json::Value;
use tokio::sync::oneshot;

/// A running server.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The app, for inspecting the catalogue directly.
    pub app: App,
    /// The default (non-admin) client.
    pub client: Client,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
    dir: tempfile::TempDir,
}

/// A reply as the client saw it.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: reqwest::header::HeaderMap,
    /// JSON body (`Value::Null` when empty or not JSON).
    pub json: Value,
    /// Raw body bytes.
    pub bytes: Vec<u8>,
}

impl Reply {
    /// `error_code` of an error body.
    pub fn code(&self) -> &str {
        self.json["error_code"].as_str().unwrap_or_default()
    }

    /// `error_msg` of an error body.
    pub fn msg(&self) -> &str {
        self.json["error_msg"].as_str().unwrap_or_default()
    }

    /// Asserts an error status and code, returning the message.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) -> &str {
        assert_eq!(
            (self.status, self.code()),
            (status, code),
            "unexpected reply: {}",
            self.json
        );
        assert!(!self.msg().is_empty(), "error_msg must not be empty");
        assert!(self.headers.contains_key("x-request-id"));
        self.msg()
    }

    /// Asserts 200 and returns the JSON.
    #[track_caller]
    pub fn ok(&self) -> &Value {
        assert_eq!(self.status, 200, "unexpected reply: {}", self.json);
        &self.json
    }
}

/// A client bound to one project's credentials.
#[derive(Clone)]
pub struct Client {
    /// Server base URL.
    pub base: String,
    /// Project of the credentials.
    pub project: String,
    /// Access key.
    pub ak: String,
    /// Secret key.
    pub sk: String,
    /// `X-App-UserId` to send, if any.
    pub app_user_id: Option<String>,
    http: reqwest::Client,
}

impl Client {
    /// Same credentials, sending `X-App-UserId`.
    pub fn with_app_user(&self, user: &str) -> Self {
        Self {
            app_user_id: Some(user.to_owned()),
            ..self.clone()
        }
    }

    /// Sends a signed request to `/v1/{project}{path}` (path may include a query string
    /// that is already percent-encoded).
    pub async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Reply {
        let bytes = body.map(|b| serde_json::to_vec(b).unwrap());
        self.call_raw(
            method,
            &format!("/v1/{}{path}", self.project),
            bytes.as_deref(),
            true,
        )
        .await
    }

    /// Sends a request with raw bytes to an absolute server path, signed or not.
    pub async fn call_raw(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<&[u8]>,
        sign: bool,
    ) -> Reply {
        let url = format!("{}{}", self.base, path_and_query);
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path_and_query, None),
        };
        let host = self.base.trim_start_matches("http://");
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_str(host).unwrap());
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert(
            "user-agent",
            HeaderValue::from_static("huaweicloud-usdk-python/3.0; assetd-tests"),
        );
        headers.insert(
            "x-project-id",
            HeaderValue::from_str(&self.project).unwrap(),
        );
        headers.insert(
            "x-sdk-date",
            HeaderValue::from_str(&assetd::signing::format_sdk_date(
                time::OffsetDateTime::now_utc(),
            ))
            .unwrap(),
        );
        if let Some(user) = &self.app_user_id {
            headers.insert(
                "x-app-userid",
                HeaderValue::from_bytes(user.as_bytes()).unwrap(),
            );
        }
        let body = body.unwrap_or_default();
        if sign {
            let auth = assetd::signing::authorization_header(
                method,
                path,
                query,
                &headers,
                body,
                &self.ak,
                self.sk.as_bytes(),
            );
            headers.insert("authorization", HeaderValue::from_str(&auth).unwrap());
        }
        let mut request = self
            .http
            .request(Method::from_bytes(method.as_bytes()).unwrap(), url);
        for (name, value) in &headers {
            if name != "host" {
                request = request.header(name.as_str(), value.as_bytes());
            }
        }
        let response = request
            .body(body.to_vec())
            .send()
            .await
            .expect("request failed");
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

    /// GET `/v1/{project}{path}`.
    pub async fn get(&self, path: &str) -> Reply {
        self.call("GET", path, None).await
    }
    /// POST with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.call("POST", path, Some(body)).await
    }
    /// PUT with a JSON body.
    pub async fn put(&self, path: &str, body: &Value) -> Reply {
        self.call("PUT", path, Some(body)).await
    }
    /// DELETE.
    pub async fn delete(&self, path: &str) -> Reply {
        self.call("DELETE", path, None).await
    }

    /// Creates an asset and returns its id, asserting success.
    pub async fn create_asset(&self, body: &Value) -> String {
        let reply = self.post("/digital-assets", body).await;
        reply.ok()["asset_id"]
            .as_str()
            .expect("asset_id")
            .to_owned()
    }

    /// Shows an asset, asserting success.
    pub async fn show(&self, asset_id: &str) -> Value {
        self.get(&format!("/digital-assets/{asset_id}"))
            .await
            .ok()
            .clone()
    }
}

fn random(len: usize) -> String {
    uuid::Uuid::new_v4().simple().to_string()[..len].to_owned()
}

impl TestServer {
    /// Starts a server with the default configuration.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Starts a server after `tweak` adjusts the configuration.
    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            listen: addr,
            ..Config::default()
        };
        tweak(&mut config);
        let app = App::build(config).await.expect("app builds");
        let (tx, rx) = oneshot::channel::<()>();
        let serving = app.clone();
        let handle = tokio::spawn(async move {
            serving
                .serve(listener, async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        let base = format!("http://{addr}");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        for _ in 0..100 {
            if let Ok(r) = http.get(format!("{base}/health")).send().await {
                if r.status() == 200 {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let placeholder = Client {
            base: base.clone(),
            project: String::new(),
            ak: String::new(),
            sk: String::new(),
            app_user_id: None,
            http,
        };
        let mut server = Self {
            base,
            app,
            client: placeholder,
            shutdown: Some(tx),
            handle: Some(handle),
            dir,
        };
        server.client = server.new_client(false).await;
        server
    }

    /// A client with fresh credentials on a fresh project.
    pub async fn new_client(&self, admin: bool) -> Client {
        self.client_for(&random(32), admin).await
    }

    /// A client with fresh credentials on `project`.
    pub async fn client_for(&self, project: &str, admin: bool) -> Client {
        let (ak, sk) = assetd::service::auth::create_credential(
            self.app.catalog.as_ref(),
            project,
            None,
            None,
            admin,
        )
        .await
        .unwrap();
        Client {
            project: project.to_owned(),
            ak,
            sk,
            app_user_id: None,
            ..self.client.clone()
        }
    }

    /// The data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
    }
}

// ---------------------------------------------------------------- file uploads (api_files)

/// RFC 1864 Content-MD5 of `data`: base64 of the 16-byte digest.
pub fn md5_b64(data: &[u8]) -> String {
    use base64::Engine;
    use md5::Digest;
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(data))
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A valid RGB PNG of `width` × `height` pixels (zlib "stored" blocks, so no compressor is
/// needed); pixel colours vary so different sizes give different bytes.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }
    let mut raw = Vec::new();
    for y in 0..height {
        raw.push(0); // filter: none
        for x in 0..width {
            raw.extend_from_slice(&[(x * 7) as u8, (y * 13) as u8, 200]);
        }
    }
    let mut zlib = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        zlib.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        zlib.extend_from_slice(&len.to_le_bytes());
        zlib.extend_from_slice(&(!len).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &raw {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &zlib);
    chunk(&mut out, b"IEND", &[]);
    out
}

impl Reply {
    /// Reads a plain (unsigned) HTTP response into a `Reply`.
    pub async fn read(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap().to_vec();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            json,
            bytes,
        }
    }
}

impl Client {
    /// A client for credentials that already exist on the server at `base`.
    pub fn connect(base: &str, project: &str, ak: &str, sk: &str) -> Self {
        Self {
            base: base.to_owned(),
            project: project.to_owned(),
            ak: ak.to_owned(),
            sk: sk.to_owned(),
            app_user_id: None,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .unwrap(),
        }
    }

    /// The underlying HTTP client, for unsigned requests to upload and download URLs.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// PUTs `data` to a signed upload URL as the SDK does (`Content-MD5` when given).
    pub async fn put_upload(&self, url: &str, data: &[u8], content_md5: Option<&str>) -> Reply {
        let mut request = self
            .http
            .put(url)
            .header("content-type", "application/octet-stream")
            .body(data.to_vec());
        if let Some(md5) = content_md5 {
            request = request.header("content-md5", md5);
        }
        Reply::read(request.send().await.expect("PUT failed")).await
    }

    /// GETs a (download) URL, with a `Range` header when given.
    pub async fn fetch(&self, url: &str, range: Option<&str>) -> Reply {
        let mut request = self.http.get(url);
        if let Some(range) = range {
            request = request.header("range", range);
        }
        Reply::read(request.send().await.expect("GET failed")).await
    }

    /// `create_file` for `data`, returning `(file_id, upload_url)`; asserts success.
    pub async fn create_file(
        &self,
        asset_id: &str,
        name: &str,
        category: &str,
        data: &[u8],
    ) -> (String, String) {
        let reply = self
            .post(
                "/files",
                &serde_json::json!({
                    "asset_id": asset_id,
                    "file_name": name,
                    "file_md5": md5_b64(data),
                    "file_size": data.len(),
                    "file_type": name.rsplit('.').next().unwrap_or_default(),
                    "asset_file_category": category,
                }),
            )
            .await;
        let json = reply.ok();
        (
            json["file_id"].as_str().expect("file_id").to_owned(),
            json["upload_url"].as_str().expect("upload_url").to_owned(),
        )
    }

    /// Confirms an upload with `state`, returning the reply.
    pub async fn confirm(&self, file_id: &str, state: &str) -> Reply {
        self.post(
            &format!("/files/{file_id}/complete"),
            &serde_json::json!({ "state": state }),
        )
        .await
    }

    /// Creates, uploads (with `Content-MD5`) and confirms one file; returns its id.
    pub async fn upload(&self, asset_id: &str, name: &str, category: &str, data: &[u8]) -> String {
        let (file_id, url) = self.create_file(asset_id, name, category, data).await;
        self.put_upload(&url, data, Some(&md5_b64(data))).await.ok();
        self.confirm(&file_id, "CREATED").await.ok();
        file_id
    }
}
