//! The media benchmark (issue 4), run by `bench/media.sh`. Every figure is a ratio against
//! the reference tool on the same file in the same run (median of `BENCH_RUNS`, default 7):
//!
//! 1. probe of a 60 s 1080p MP4: `media::probe::probe` vs the `ffprobe` command;
//! 2. 12 MP JPEG → 320 px thumbnail: `media::image::thumbnail` (in process) vs `vipsthumbnail`;
//! 3. cover extraction: `media::video::extract_cover` vs `ffmpeg -ss … -frames:v 1`;
//! 4. PDF page rendering (50 pages): `media::slides::render_pages` vs `pdftoppm -jpeg` at the
//!    same size;
//! 5. confirm → ACTIVED of the 60 s MP4 through a real `assetd` (release) vs ffprobe plus one
//!    frame extraction on the same file.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use assetd::media::runner::Runner;
use assetd::media::{image, probe, slides, video};

const ASSETD: &str = env!("CARGO_BIN_EXE_assetd");

fn runs() -> usize {
    std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time_cmd(program: &str, args: &[&str]) -> Duration {
    median(
        (0..runs())
            .map(|_| {
                let start = Instant::now();
                let status = Command::new(program).args(args).output().expect("spawn");
                assert!(
                    status.status.success(),
                    "{program} failed: {}",
                    String::from_utf8_lossy(&status.stderr)
                );
                start.elapsed()
            })
            .collect(),
    )
}

async fn time_async<F, Fut>(mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut samples = Vec::new();
    for _ in 0..runs() {
        let start = Instant::now();
        f().await;
        samples.push(start.elapsed());
    }
    median(samples)
}

fn sh(program: &str, args: &[&str]) {
    let out = Command::new(program).args(args).output().expect("spawn");
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn fixtures(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let mp4 = dir.join("movie.mp4");
    sh(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1920x1080:rate=30:duration=60",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000:duration=60",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
            mp4.to_str().unwrap(),
        ],
    );
    let jpeg = dir.join("big.jpg");
    sh(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=4000x3000",
            "-frames:v",
            "1",
            "-q:v",
            "2",
            jpeg.to_str().unwrap(),
        ],
    );
    std::fs::write(dir.join("deck.pdf"), text_pdf(50)).unwrap();
    (mp4, jpeg, dir.join("deck.pdf"))
}

/// A PDF of `pages` A4 pages, each saying "Page k" in Helvetica.
fn text_pdf(pages: usize) -> Vec<u8> {
    let mut objects: Vec<String> = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".into(),
        String::new(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".into(),
    ];
    let mut kids = Vec::new();
    for k in 1..=pages {
        let content = format!("BT /F1 48 Tf 100 700 Td (Page {k}) Tj ET");
        objects.push(format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ));
        let content_id = objects.len();
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> /Contents {content_id} 0 R >>"
        ));
        kids.push(format!("{} 0 R", objects.len()));
    }
    objects[1] = format!(
        "<< /Type /Pages /Kids [{}] /Count {pages} >>",
        kids.join(" ")
    );
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

fn row(
    out: &mut String,
    what: &str,
    ours: Duration,
    reference: Duration,
    reference_name: &str,
    aim: &str,
) {
    let ratio = ours.as_secs_f64() / reference.as_secs_f64();
    let line = format!(
        "{what:<38} ours {:>8.1} ms   {reference_name:<28} {:>8.1} ms   ratio {ratio:>5.2} ({aim})\n",
        ours.as_secs_f64() * 1e3,
        reference.as_secs_f64() * 1e3,
    );
    print!("{line}");
    out.push_str(&line);
}

async fn confirm_to_actived(dir: &Path, mp4: &Path) -> Duration {
    use std::process::Stdio;
    let data = dir.join("data");
    sh(
        ASSETD,
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "credentials",
            "create",
            "--project-id",
            "bench",
            "--access-key",
            "BENCHAK",
            "--secret-key",
            "BENCHSKBENCHSKBENCHSK",
        ],
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new(ASSETD)
        .args([
            "--data-dir",
            data.to_str().unwrap(),
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env("ASSETD_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = bench_client::Client::new(port);
    client.wait_ready().await;
    let bytes = std::fs::read(mp4).unwrap();
    let mut samples = Vec::new();
    for _ in 0..runs().min(3) {
        let (asset_id, file_id) = client.upload_unconfirmed(&bytes).await;
        let start = Instant::now();
        client.confirm(&file_id).await;
        client.wait_actived(&asset_id).await;
        samples.push(start.elapsed());
    }
    server.kill().ok();
    server.wait().ok();
    median(samples)
}

/// Just enough of a signed client to drive the upload flow.
mod bench_client {
    use std::time::Duration;

    use axum::http::{HeaderMap, HeaderValue};
    use base64::Engine;
    use md5::{Digest, Md5};
    use serde_json::{json, Value};

    pub struct Client {
        base: String,
        http: reqwest::Client,
    }

    impl Client {
        pub fn new(port: u16) -> Self {
            Self {
                base: format!("127.0.0.1:{port}"),
                http: reqwest::Client::new(),
            }
        }

        pub async fn wait_ready(&self) {
            for _ in 0..200 {
                if let Ok(r) = self
                    .http
                    .get(format!("http://{}/health", self.base))
                    .send()
                    .await
                {
                    if r.status() == 200 {
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("assetd did not start");
        }

        async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
            let path = format!("/v1/bench{path}");
            let body = body.map(|b| b.to_string()).unwrap_or_default();
            let mut headers = HeaderMap::new();
            headers.insert("host", HeaderValue::from_str(&self.base).unwrap());
            headers.insert("content-type", HeaderValue::from_static("application/json"));
            let date = assetd::signing::format_sdk_date(time::OffsetDateTime::now_utc());
            headers.insert("x-sdk-date", HeaderValue::from_str(&date).unwrap());
            let auth = assetd::signing::authorization_header(
                method,
                &path,
                None,
                &headers,
                body.as_bytes(),
                "BENCHAK",
                b"BENCHSKBENCHSKBENCHSK",
            );
            let response = self
                .http
                .request(
                    method.parse().unwrap(),
                    format!("http://{}{path}", self.base),
                )
                .header("content-type", "application/json")
                .header("x-sdk-date", date)
                .header("authorization", auth)
                .body(body)
                .send()
                .await
                .unwrap();
            response.json().await.unwrap_or(Value::Null)
        }

        pub async fn upload_unconfirmed(&self, bytes: &[u8]) -> (String, String) {
            let asset = self
                .call(
                    "POST",
                    "/digital-assets",
                    Some(json!({"asset_name": "bench", "asset_type": "VIDEO"})),
                )
                .await;
            let asset_id = asset["asset_id"].as_str().unwrap().to_owned();
            let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(bytes));
            let file = self
                .call(
                    "POST",
                    "/files",
                    Some(json!({"asset_id": asset_id, "file_name": "movie.mp4",
                    "file_md5": md5, "file_size": bytes.len(), "asset_file_category": "MAIN"})),
                )
                .await;
            let url = file["upload_url"].as_str().unwrap();
            let put = self
                .http
                .put(url)
                .header("content-md5", md5)
                .body(bytes.to_vec())
                .send()
                .await
                .unwrap();
            assert!(put.status().is_success());
            (asset_id, file["file_id"].as_str().unwrap().to_owned())
        }

        pub async fn confirm(&self, file_id: &str) {
            self.call(
                "POST",
                &format!("/files/{file_id}/complete"),
                Some(json!({"state": "CREATED"})),
            )
            .await;
        }

        pub async fn wait_actived(&self, asset_id: &str) {
            loop {
                let shown = self
                    .call("GET", &format!("/digital-assets/{asset_id}"), None)
                    .await;
                match shown["asset_state"].as_str() {
                    Some("ACTIVED") => return,
                    Some("FAILED") => panic!("asset failed: {}", shown["reason"]),
                    _ => tokio::time::sleep(Duration::from_millis(5)).await,
                }
            }
        }
    }
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    println!("generating fixtures in {}", dir.path().display());
    let (mp4, jpeg, pdf) = fixtures(dir.path());
    let runner = Runner::new(2);
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let mut out = String::from("media benchmark (median of runs; ratio = ours / reference)\n");

    runtime.block_on(async {
        let reference = time_cmd(
            "ffprobe",
            &[
                "-v",
                "error",
                "-print_format",
                "json",
                "-show_format",
                "-show_streams",
                mp4.to_str().unwrap(),
            ],
        );
        let ours = time_async(|| async {
            probe::probe(&runner, &mp4, &work).await.unwrap();
        })
        .await;
        row(
            &mut out,
            "probe, 60 s 1080p MP4",
            ours,
            reference,
            "ffprobe",
            "aim <= 0.1",
        );

        let thumb = dir.path().join("t.jpg");
        let reference = time_cmd(
            "vipsthumbnail",
            &[
                jpeg.to_str().unwrap(),
                "-s",
                "320",
                "-o",
                thumb.to_str().unwrap(),
            ],
        );
        let ours = time_async(|| async {
            image::thumbnail(&jpeg, 320, 200_000_000).unwrap();
        })
        .await;
        row(
            &mut out,
            "12 MP JPEG -> 320 px thumbnail",
            ours,
            reference,
            "vipsthumbnail",
            "aim <= 0.8",
        );

        let cover = dir.path().join("cover.jpg");
        let reference = time_cmd(
            "ffmpeg",
            &[
                "-v",
                "error",
                "-y",
                "-ss",
                "6",
                "-i",
                mp4.to_str().unwrap(),
                "-frames:v",
                "1",
                cover.to_str().unwrap(),
            ],
        );
        let ours = time_async(|| async {
            video::extract_cover(&runner, &mp4, Some(60.0), &cover, &work)
                .await
                .unwrap();
        })
        .await;
        row(
            &mut out,
            "cover extraction",
            ours,
            reference,
            "ffmpeg -ss -frames:v 1",
            "aim <= 1.0",
        );

        let pages = dir.path().join("pages");
        std::fs::create_dir_all(&pages).unwrap();
        let prefix = pages.join("p");
        let reference = time_cmd(
            "pdftoppm",
            &[
                "-jpeg",
                "-scale-to",
                "1920",
                "-f",
                "1",
                "-l",
                "50",
                pdf.to_str().unwrap(),
                prefix.to_str().unwrap(),
            ],
        );
        let render_dir = dir.path().join("render");
        let ours = time_async(|| async {
            std::fs::create_dir_all(&render_dir).unwrap();
            slides::render_pages(
                &runner,
                &pdf,
                50,
                slides::PageSize::LongSide(1920),
                &render_dir,
                Duration::from_secs(300),
            )
            .await
            .unwrap();
            std::fs::remove_dir_all(&render_dir).unwrap();
        })
        .await;
        row(
            &mut out,
            "PDF, 50 pages to JPEG (+ text)",
            ours,
            reference,
            "pdftoppm -jpeg",
            "aim <= 1.0",
        );

        let frame = dir.path().join("frame.jpg");
        let probe_t = time_cmd(
            "ffprobe",
            &[
                "-v",
                "error",
                "-print_format",
                "json",
                "-show_format",
                "-show_streams",
                mp4.to_str().unwrap(),
            ],
        );
        let frame_t = time_cmd(
            "ffmpeg",
            &[
                "-v",
                "error",
                "-y",
                "-ss",
                "6",
                "-i",
                mp4.to_str().unwrap(),
                "-frames:v",
                "1",
                frame.to_str().unwrap(),
            ],
        );
        let ours = confirm_to_actived(dir.path(), &mp4).await;
        row(
            &mut out,
            "confirm -> ACTIVED, 60 s 1080p MP4",
            ours,
            probe_t + frame_t,
            "ffprobe + one frame",
            "aim <= 1.5",
        );
    });
    let target = std::env::var("BENCH_OUT").unwrap_or_else(|_| "bench/out/media.txt".into());
    if let Some(parent) = Path::new(&target).parent() {
        std::fs::create_dir_all(parent).ok();
    }
    std::fs::write(&target, out).unwrap();
}
