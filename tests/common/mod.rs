//! Test harness: a real assetd on a temp dir and a free loopback port, and a client that
//! signs exactly like the official SDK.
#![allow(dead_code)]

pub mod child;
pub mod postgres;

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
    /// The server's own PostgreSQL database, when tests run on PostgreSQL; dropped last.
    _database: Option<postgres::TestDatabase>,
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

/// The blob store tests use: `ASSETD_TEST_BLOB_URL` (`s3://bucket`) with a prefix of its own
/// per `name`, or the default local directory when the variable is not set.
pub fn test_blob_url(name: &str) -> Option<String> {
    let base = std::env::var("ASSETD_TEST_BLOB_URL").ok()?;
    Some(format!("{}/{name}", base.trim_end_matches('/')))
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
            blob_url: test_blob_url(&random(16)),
            ..Config::default()
        };
        tweak(&mut config);
        // On PostgreSQL: a database of its own, or, on a directory the test brought (a
        // restart), the one recorded there.
        let mut database = None;
        if config.database_url.is_none() {
            if config.data_dir == dir.path() {
                database =
                    postgres::server_url().map(|server| postgres::TestDatabase::create(&server));
                config.database_url = database.as_ref().map(|db| db.url.clone());
            } else {
                config.database_url = postgres::database_for(&config.data_dir);
            }
        }
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
            _database: database,
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

    /// The data directory (the one the server was configured with).
    pub fn data_dir(&self) -> &std::path::Path {
        &self.app.config.data_dir
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

/// The Python of the venv holding the official SDK (scripts/sdk-venv.sh makes it).
pub fn sdk_python() -> std::path::PathBuf {
    use std::path::PathBuf;
    let python = std::env::var_os("ASSETD_SDK_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache"));
            cache.join("assetd-sdk-smoke/venv/bin/python")
        });
    assert!(
        python.exists(),
        "{} is missing: run scripts/sdk-venv.sh (scripts/test.sh does)",
        python.display()
    );
    python
}

// ---------------------------------------------------------------- file uploads (api_files)

/// RFC 1864 Content-MD5 of `data`: base64 of the 16-byte digest.
pub fn md5_b64(data: &[u8]) -> String {
    use base64::Engine;
    use md5::Digest;
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(data))
}

/// The CRC-32 (IEEE) of `data`, as PNG chunks and ZIP entries use it.
pub fn crc32(data: &[u8]) -> u32 {
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

// ---------------------------------------------------------------- media fixtures (api_media)

/// A real media file of one format the API accepts, generated at test time (ffmpeg's lavfi
/// sources, a hand-written PDF, LibreOffice for decks). Small: 320×240, two seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Media {
    /// H.264 + AAC in MP4: web-standard.
    Mp4,
    /// H.264 + AAC in QuickTime.
    Mov,
    /// H.264 + AAC in MP4 with the `M4V ` brand: web-standard.
    M4v,
    /// H.263 + AAC in 3GP (176×144, 15 fps, 8 kHz mono).
    ThreeGp,
    /// H.264 + Vorbis in Matroska.
    Mkv,
    /// VP9 + Opus in WebM.
    Webm,
    /// Sorenson Spark + MP3 in FLV.
    Flv,
    /// MPEG-4 Part 2 + MP3 in AVI.
    Avi,
    /// WMV2 + WMA2 in ASF.
    Wmv,
    /// 16-bit PCM stereo WAV.
    Wav,
    /// MP3, 128 kbit/s.
    Mp3,
    /// AAC in M4A.
    M4a,
    /// JPEG, 320×240.
    Jpeg,
    /// PNG, 320×240.
    Png,
    /// Animated GIF, 160×120, ten frames.
    Gif,
    /// BMP, portrait 240×320.
    Bmp,
    /// A three-page PDF, page k showing "Page k".
    Pdf,
    /// A three-slide PPTX made by LibreOffice.
    Pptx,
    /// The same deck as a legacy PPT.
    Ppt,
}

impl Media {
    /// The file extension (also the declared `file_type`).
    pub fn ext(self) -> &'static str {
        match self {
            Media::Mp4 => "mp4",
            Media::Mov => "mov",
            Media::M4v => "m4v",
            Media::ThreeGp => "3gp",
            Media::Mkv => "mkv",
            Media::Webm => "webm",
            Media::Flv => "flv",
            Media::Avi => "avi",
            Media::Wmv => "wmv",
            Media::Wav => "wav",
            Media::Mp3 => "mp3",
            Media::M4a => "m4a",
            Media::Jpeg => "jpg",
            Media::Png => "png",
            Media::Gif => "gif",
            Media::Bmp => "bmp",
            Media::Pdf => "pdf",
            Media::Pptx => "pptx",
            Media::Ppt => "ppt",
        }
    }

    /// A file name with the format's extension.
    pub fn file_name(self) -> String {
        format!("sample.{}", self.ext())
    }

    /// The ffmpeg arguments (between `-y` and the output) that make it, for lavfi formats.
    fn ffmpeg_args(self) -> Option<&'static str> {
        Some(match self {
            Media::Mp4 => concat!(
                "-f lavfi -i testsrc2=size=320x240:rate=25 ",
                "-f lavfi -i sine=frequency=440:sample_rate=44100 -t 2 ",
                "-c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -b:a 96k -f mp4"
            ),
            Media::Mov => concat!(
                "-f lavfi -i testsrc2=size=320x240:rate=25 ",
                "-f lavfi -i sine=frequency=440:sample_rate=44100 -t 2 ",
                "-c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -f mov"
            ),
            Media::M4v => concat!(
                "-f lavfi -i testsrc2=size=320x240:rate=25 ",
                "-f lavfi -i sine=frequency=440:sample_rate=44100 -t 2 ",
                "-c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -f ipod"
            ),
            Media::ThreeGp => concat!(
                "-f lavfi -i testsrc2=size=176x144:rate=15 ",
                "-f lavfi -i sine=frequency=440:sample_rate=8000 -t 2 ",
                "-c:v h263 -c:a aac -ac 1 -ar 8000 -f 3gp"
            ),
            Media::Mkv => concat!(
                "-f lavfi -i testsrc2=size=320x240:rate=25 ",
                "-f lavfi -i sine=frequency=440:sample_rate=44100 -t 2 ",
                "-c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a libvorbis -f matroska"
            ),
            Media::Webm => concat!(
                "-f lavfi -i testsrc2=size=320x240:rate=25 ",
                "-f lavfi -i sine=frequency=440:sample_rate=48000 -t 2 ",
                "-c:v libvpx-vp9 -b:v 300k -deadline realtime -cpu-used 8 -c:a libopus -f webm"
            ),
            Media::Flv => concat!(
                "-f lavfi -i testsrc2=size=320x240:rate=25 ",
                "-f lavfi -i sine=frequency=440:sample_rate=44100 -t 2 ",
                "-c:v flv -c:a libmp3lame -f flv"
            ),
            Media::Avi => concat!(
                "-f lavfi -i testsrc2=size=320x240:rate=25 ",
                "-f lavfi -i sine=frequency=440:sample_rate=44100 -t 2 ",
                "-c:v mpeg4 -c:a libmp3lame -f avi"
            ),
            Media::Wmv => concat!(
                "-f lavfi -i testsrc2=size=320x240:rate=25 ",
                "-f lavfi -i sine=frequency=440:sample_rate=44100 -t 2 ",
                "-c:v wmv2 -c:a wmav2 -f asf"
            ),
            Media::Wav => {
                "-f lavfi -i sine=frequency=440:sample_rate=44100 -t 2 -c:a pcm_s16le -ac 2 -f wav"
            }
            Media::Mp3 => {
                "-f lavfi -i sine=frequency=440:sample_rate=44100 -t 2 -c:a libmp3lame -b:a 128k -f mp3"
            }
            Media::M4a => {
                "-f lavfi -i sine=frequency=440:sample_rate=44100 -t 2 -c:a aac -b:a 128k -f ipod"
            }
            Media::Jpeg => "-f lavfi -i testsrc2=size=320x240 -frames:v 1 -f image2 -c:v mjpeg",
            Media::Png => "-f lavfi -i testsrc2=size=320x240 -frames:v 1 -f image2 -c:v png",
            Media::Gif => "-f lavfi -i testsrc2=size=160x120:rate=10 -t 1 -f gif",
            Media::Bmp => "-f lavfi -i testsrc2=size=240x320 -frames:v 1 -f image2 -c:v bmp",
            Media::Pdf | Media::Pptx | Media::Ppt => return None,
        })
    }
}

/// The bytes of `kind`, generated once per test process.
pub fn fixture(kind: Media) -> Vec<u8> {
    cached(&format!("{kind:?}"), || match kind {
        Media::Pdf => pdf_pages(&["Page 1", "Page 2", "Page 3"]),
        Media::Pptx | Media::Ppt => deck(
            &[
                "Hello from slide one",
                "Slide two says hi",
                "Goodbye from slide three",
            ],
            kind.ext(),
        ),
        _ => ffmpeg(kind.ffmpeg_args().expect("a lavfi format"), kind.ext()),
    })
}

/// `make()`'s bytes, made once per test process under `key`; other tests asking for the
/// same key wait for the first.
pub fn cached(key: &str, make: impl FnOnce() -> Vec<u8>) -> Vec<u8> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    type Slots = Mutex<HashMap<String, Arc<OnceLock<Vec<u8>>>>>;
    static SLOTS: OnceLock<Slots> = OnceLock::new();
    let slot = SLOTS
        .get_or_init(Slots::default)
        .lock()
        .unwrap()
        .entry(key.to_owned())
        .or_default()
        .clone();
    slot.get_or_init(make).clone()
}

/// Runs `ffmpeg -nostdin -v error -y <args> out.<ext>` (args split on whitespace) in a
/// scratch directory and returns the output's bytes.
pub fn ffmpeg(args: &str, ext: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(format!("out.{ext}"));
    let status = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y"])
        .args(args.split_whitespace())
        .arg(&out)
        .current_dir(dir.path())
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg {args} failed: {status}");
    std::fs::read(&out).unwrap()
}

/// `ffprobe -print_format json -show_format -show_streams` on `data` (named `x.<ext>`).
pub fn ffprobe(data: &[u8], ext: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join(format!("x.{ext}"));
    std::fs::write(&input, data).unwrap();
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
        ])
        .arg(&input)
        .output()
        .expect("ffprobe runs");
    assert!(
        out.status.success(),
        "ffprobe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A valid PDF with one 320×180 page per entry of `texts`, each line of an entry drawn in
/// Helvetica on its own line.
pub fn pdf_pages(texts: &[&str]) -> Vec<u8> {
    let n = texts.len();
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count {n} >>",
            (0..n)
                .map(|i| format!("{} 0 R", 4 + 2 * i))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    for (i, text) in texts.iter().enumerate() {
        let lines: Vec<&str> = text.lines().collect();
        // Tall enough for every line at 10 pt leading, never smaller than 320×180.
        let height = (lines.len() * 10 + 40).max(180);
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 320 {height}] \
             /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
            5 + 2 * i
        ));
        let mut stream = format!("BT /F1 8 Tf 10 TL 20 {} Td", height - 30);
        for line in lines {
            let escaped = line
                .replace('\\', "\\\\")
                .replace('(', "\\(")
                .replace(')', "\\)");
            stream.push_str(&format!(" ({escaped}) Tj T*"));
        }
        stream.push_str(" ET");
        objects.push(format!(
            "<< /Length {} >>\nstream\n{stream}\nendstream",
            stream.len()
        ));
    }
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// A deck with one slide per entry of `slides` (each a line of text), written as flat ODF
/// and converted to `ext` (`pptx` or `ppt`) by headless LibreOffice in a throwaway profile.
pub fn deck(slides: &[&str], ext: &str) -> Vec<u8> {
    let pages: String = slides
        .iter()
        .enumerate()
        .map(|(i, text)| {
            format!(
                r#"<draw:page draw:name="page{}" draw:master-page-name="Default"><draw:frame svg:x="2cm" svg:y="2cm" svg:width="24cm" svg:height="4cm"><draw:text-box><text:p>{text}</text:p></draw:text-box></draw:frame></draw:page>"#,
                i + 1
            )
        })
        .collect();
    let fodp = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0" office:version="1.2" office:mimetype="application/vnd.oasis.opendocument.presentation">
<office:automatic-styles><style:page-layout style:name="PM1"><style:page-layout-properties fo:page-width="28cm" fo:page-height="15.75cm" style:print-orientation="landscape"/></style:page-layout></office:automatic-styles>
<office:master-styles><style:master-page style:name="Default" style:page-layout-name="PM1"/></office:master-styles>
<office:body><office:presentation>{pages}</office:presentation></office:body>
</office:document>
"#
    );
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("deck.fodp");
    std::fs::write(&input, fodp).unwrap();
    let profile = format!(
        "-env:UserInstallation=file://{}/profile",
        dir.path().display()
    );
    let out = std::process::Command::new("soffice")
        .args([
            "--headless",
            "--norestore",
            "--nologo",
            &profile,
            "--convert-to",
            ext,
        ])
        .arg("--outdir")
        .arg(dir.path())
        .arg(&input)
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .output()
        .expect("soffice runs");
    let path = dir.path().join(format!("deck.{ext}"));
    assert!(
        path.exists(),
        "soffice wrote no {ext}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(path).unwrap()
}

impl TestServer {
    /// Waits (at most 60 s) until no job is RUNNING and returns the queue's counts.
    pub async fn jobs_idle(&self) -> assetd::catalog::JobCounts {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let counts = self.app.catalog.job_counts().await.unwrap();
            if counts.running == 0 {
                return counts;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "a job is stuck RUNNING: {counts:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Asserts that every job has settled: none is stuck RUNNING and none FAILED for good.
    /// Tests that expect a permanent failure assert the FAILED asset instead.
    pub async fn assert_jobs_settled(&self) {
        let counts = self.jobs_idle().await;
        assert_eq!(counts.failed, 0, "a job failed for good: {counts:?}");
    }

    /// Entries left under `<data_dir>/work` (job scratch directories).
    pub fn work_leftovers(&self) -> Vec<String> {
        std::fs::read_dir(self.data_dir().join("work"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

// ---------------------------------------------------------------- restarts (api_governance)

impl TestServer {
    /// Starts a server on an existing data directory, e.g. one a stopped server used, so a
    /// test can restart "the same" server. The caller owns the directory and must keep it
    /// alive for as long as any server uses it.
    pub async fn spawn_in(data_dir: std::path::PathBuf, tweak: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_with(move |config| {
            config.blob_url = child::blob_url_for(&data_dir);
            config.data_dir = data_dir;
            tweak(config);
        })
        .await
    }
}

// ---------------------------------------------------------------- the blob store

impl TestServer {
    /// The bytes the catalogue says `file_id` is stored as, read back from the blob store;
    /// `None` when the file refers to no stored bytes (or they are gone).
    pub async fn stored(&self, file_id: &str) -> Option<Vec<u8>> {
        let file = self.app.catalog.file(file_id).await.unwrap()?;
        let key = assetd::blobs::BlobKey::parse(file.blob_key.as_deref()?)?;
        let got = self.app.storage.blobs().get(&key, None).await.ok()?;
        Some(got.bytes().await.unwrap().to_vec())
    }

    /// The blob key `file_id` refers to.
    pub async fn blob_key(&self, file_id: &str) -> Option<String> {
        self.app.catalog.file(file_id).await.unwrap()?.blob_key
    }

    /// Keys of the objects in the blob store under `prefix` (`content`, `parts/<file id>`).
    pub async fn objects(&self, prefix: &str) -> Vec<String> {
        use futures::StreamExt;
        self.app
            .storage
            .blobs()
            .list(prefix)
            .map(|r| r.unwrap().0)
            .collect()
            .await
    }

    /// What the blob store holds that nothing accounts for: content objects without a LIVE
    /// blob record, and local staging files. Empty once failed writes have cleaned up.
    pub async fn stray_objects(&self) -> Vec<String> {
        let mut stray = Vec::new();
        for key in self.objects("content").await {
            let blob = self.app.catalog.blob(&key).await.unwrap();
            if blob.is_none_or(|b| b.state != assetd::catalog::BlobState::Live) {
                stray.push(key);
            }
        }
        for staging in self.app.storage.blobs().staging_files().await.unwrap() {
            stray.push(staging.path.display().to_string());
        }
        stray
    }

    /// Waits (at most `secs`) until `check` holds, polling.
    pub async fn eventually<F, Fut>(&self, what: &str, secs: u64, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        while !check().await {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
