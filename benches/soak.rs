//! The soak (issue 8), run by `bench/soak.sh`: the real `assetd` binary (release, logging at
//! info so spans are live) under ten minutes of mixed signed traffic with bursts, then:
//!
//! - every response counted by status class: there must be no 5xx;
//! - the server log searched for panics: there must be none;
//! - assetd's RSS sampled every 5 s: the last minute's median over the first minute's (after
//!   a warm-up) must stay flat (at most 1.5×);
//! - every small upload must end ACTIVED and every hostile deck FAILED within a bound, and
//!   `/health` must still answer 200.
//!
//! Traffic: `SOAK_CLIENTS` (4) steady clients loop create → upload a small PNG → confirm →
//! list → show → update, and delete/restore every tenth asset; every `SOAK_BURST_EVERY` (60 s)
//! 16 more clients upload 5 images each at once; a 2 s MP4 every 20 s, a 3-page PDF every
//! 30 s and a hostile 20,000-box PPTX every 120 s (when LibreOffice is installed).
//!
//! Knobs: `SOAK_SECS` (600), `SOAK_CLIENTS`, `SOAK_BURST_EVERY`, `SOAK_OUT` (table file),
//! `SOAK_TMP` (parent of the scratch directory, /tmp).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue};
use serde_json::{json, Value};
use time::OffsetDateTime;

const ASSETD: &str = env!("CARGO_BIN_EXE_assetd");
const PROJECT: &str = "soakproject";
const AK: &str = "SOAKACCESSKEY0000001";
const SK: &str = "soak-secret-key-0123456789abcdef";

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Responses by status class, and transport failures.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    client_errors: AtomicU64,
    server_errors: AtomicU64,
    transport: AtomicU64,
    samples_5xx: Mutex<Vec<String>>,
}

#[derive(Clone)]
struct Client {
    base: String,
    http: reqwest::Client,
    tally: Arc<Tally>,
}

impl Client {
    /// A signed API request; the body as JSON (`Null` when none or not JSON).
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let path = format!("/v1/{PROJECT}{path}");
        let body = body
            .map(|b| serde_json::to_vec(&b).unwrap())
            .unwrap_or_default();
        let (bare, query) = match path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path.as_str(), None),
        };
        let mut headers = HeaderMap::new();
        let host = self.base.trim_start_matches("http://");
        headers.insert("host", HeaderValue::from_str(host).unwrap());
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert("x-project-id", HeaderValue::from_static(PROJECT));
        let date = assetd::signing::format_sdk_date(OffsetDateTime::now_utc());
        headers.insert("x-sdk-date", HeaderValue::from_str(&date).unwrap());
        let auth = assetd::signing::authorization_header(
            method,
            bare,
            query,
            &headers,
            &body,
            AK,
            SK.as_bytes(),
        );
        headers.insert("authorization", HeaderValue::from_str(&auth).unwrap());
        headers.remove("host");
        let request = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .headers(headers)
            .body(body);
        self.finish(request, &format!("{method} {bare}")).await
    }

    async fn finish(&self, request: reqwest::RequestBuilder, what: &str) -> (u16, Value) {
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let bytes = response.bytes().await.unwrap_or_default();
                let counter = match status {
                    500.. => {
                        let text = String::from_utf8_lossy(&bytes);
                        let mut samples = self.tally.samples_5xx.lock().unwrap();
                        if samples.len() < 20 {
                            samples.push(format!("{what} -> {status} {text}"));
                        }
                        &self.tally.server_errors
                    }
                    400.. => &self.tally.client_errors,
                    _ => &self.tally.ok,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                (
                    status,
                    serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                )
            }
            Err(_) => {
                self.tally.transport.fetch_add(1, Ordering::Relaxed);
                (0, Value::Null)
            }
        }
    }

    /// Creates an asset of `asset_type` with `data` as MAIN file `name`; its id, or `None`
    /// when a step was refused.
    async fn upload(
        &self,
        asset_type: &str,
        name: &str,
        data: &[u8],
        extra: Value,
    ) -> Option<String> {
        let mut body = json!({"asset_name": name, "asset_type": asset_type});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        let (status, created) = self.call("POST", "/digital-assets", Some(body)).await;
        let asset_id = created["asset_id"]
            .as_str()
            .filter(|_| status == 200)?
            .to_owned();
        let md5 = {
            use base64::Engine;
            use md5::Digest;
            base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(data))
        };
        let ext = name.rsplit('.').next().unwrap_or_default();
        let file = json!({"asset_id": asset_id, "file_name": name, "file_md5": md5,
                          "file_size": data.len(), "file_type": ext, "asset_file_category": "MAIN"});
        let (status, file) = self.call("POST", "/files", Some(file)).await;
        if status != 200 {
            return None;
        }
        let url = file["upload_url"].as_str()?.to_owned();
        let file_id = file["file_id"].as_str()?.to_owned();
        let put = self
            .http
            .put(url)
            .header("content-type", "application/octet-stream")
            .header("content-md5", md5)
            .body(data.to_vec());
        if self.finish(put, "PUT upload").await.0 != 200 {
            return None;
        }
        let confirm = json!({"state": "CREATED"});
        let (status, _) = self
            .call("POST", &format!("/files/{file_id}/complete"), Some(confirm))
            .await;
        (status == 200).then_some(asset_id)
    }
}

/// A valid RGB PNG (zlib stored blocks), different for different sizes.
fn png(width: u32, height: u32) -> Vec<u8> {
    let mut img = image::RgbImage::new(width, height);
    for (x, y, p) in img.enumerate_pixels_mut() {
        *p = image::Rgb([(x * 7) as u8, (y * 13) as u8, 200]);
    }
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// `ffmpeg -v error -y <args> out.<ext>` in `dir`; the output's bytes.
fn ffmpeg(dir: &Path, args: &str, ext: &str) -> Vec<u8> {
    let out = dir.join(format!("gen.{ext}"));
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y"])
        .args(args.split_whitespace())
        .arg(&out)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg {args}");
    std::fs::read(out).unwrap()
}

/// A 3-page PDF.
fn pdf() -> Vec<u8> {
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [4 0 R 6 0 R 8 0 R] /Count 3 >>".to_owned(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    for i in 0..3 {
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 320 180] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
            5 + 2 * i
        ));
        let stream = format!("BT /F1 12 Tf 20 100 Td (Page {}) Tj ET", i + 1);
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

/// A one-slide PPTX with `boxes` text boxes, written with Python's zipfile (the bench
/// machine has Python; the test suite builds the same deck in Rust).
fn hostile_deck(dir: &Path, boxes: usize) -> Option<Vec<u8>> {
    let out = dir.join("hostile.pptx");
    let script = r#"
import sys, zipfile
n, out = int(sys.argv[1]), sys.argv[2]
P='xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"'
R='http://schemas.openxmlformats.org/package/2006/relationships'
D='http://schemas.openxmlformats.org/officeDocument/2006/relationships'
boxes=''.join(f'<p:sp><p:nvSpPr><p:cNvPr id="{i+2}" name="T{i}"/><p:cNvSpPr txBox="1"/><p:nvPr/></p:nvSpPr><p:spPr><a:xfrm><a:off x="{(i*7919)%8000000}" y="{(i*104729)%6000000}"/><a:ext cx="2000000" cy="400000"/></a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom></p:spPr><p:txBody><a:bodyPr/><a:p><a:r><a:rPr sz="1800"/><a:t>Box {i}</a:t></a:r></a:p></p:txBody></p:sp>' for i in range(n))
with zipfile.ZipFile(out,'w',zipfile.ZIP_DEFLATED) as z:
    z.writestr('[Content_Types].xml','<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/ppt/presentation.xml" ContentType="application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"/><Override PartName="/ppt/slides/slide1.xml" ContentType="application/vnd.openxmlformats-officedocument.presentationml.slide+xml"/></Types>')
    z.writestr('_rels/.rels',f'<?xml version="1.0"?><Relationships xmlns="{R}"><Relationship Id="rId1" Type="{D}/officeDocument" Target="ppt/presentation.xml"/></Relationships>')
    z.writestr('ppt/presentation.xml',f'<?xml version="1.0"?><p:presentation {P}><p:sldIdLst><p:sldId id="256" r:id="rId1"/></p:sldIdLst><p:sldSz cx="9144000" cy="6858000"/><p:notesSz cx="6858000" cy="9144000"/></p:presentation>')
    z.writestr('ppt/_rels/presentation.xml.rels',f'<?xml version="1.0"?><Relationships xmlns="{R}"><Relationship Id="rId1" Type="{D}/slide" Target="slides/slide1.xml"/></Relationships>')
    z.writestr('ppt/slides/slide1.xml',f'<?xml version="1.0"?><p:sld {P}><p:cSld><p:spTree><p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr><p:grpSpPr/>{boxes}</p:spTree></p:cSld></p:sld>')
"#;
    let status = Command::new("python3")
        .args(["-c", script, &boxes.to_string()])
        .arg(&out)
        .status()
        .ok()?;
    status.success().then(|| std::fs::read(out).ok()).flatten()
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(soak())
}

async fn soak() -> anyhow::Result<()> {
    let secs = env_num("SOAK_SECS", 600);
    let clients = env_num("SOAK_CLIENTS", 4) as usize;
    let burst_every = Duration::from_secs(env_num("SOAK_BURST_EVERY", 60));
    let parent = std::env::var_os("SOAK_TMP").map_or_else(std::env::temp_dir, PathBuf::from);
    let scratch = tempfile::Builder::new()
        .prefix("assetd-soak-")
        .tempdir_in(parent)?;
    let data_dir = scratch.path().join("data");
    let created = Command::new(ASSETD)
        .arg("--data-dir")
        .arg(&data_dir)
        .args([
            "credentials",
            "create",
            "--project-id",
            PROJECT,
            "--access-key",
            AK,
        ])
        .args(["--secret-key", SK])
        .output()?;
    anyhow::ensure!(created.status.success(), "credentials: {created:?}");
    let config = scratch.path().join("assetd.toml");
    // Decks that hang at their memory limit are killed after 30 s without CPU, so the heavy
    // lane keeps moving between them.
    std::fs::write(
        &config,
        "tool_memory_mb = 1024\ntool_stall_secs = 30\njob_timeout_secs = 300\n",
    )?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let log_path = scratch.path().join("serve.log");
    let log = std::fs::File::create(&log_path)?;
    let mut server = Command::new(ASSETD)
        .env("ASSETD_LOG", "info")
        .arg("--data-dir")
        .arg(&data_dir)
        .arg("--config")
        .arg(&config)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .spawn()?;
    let pid = server.id();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(300))
        .pool_max_idle_per_host(64)
        .build()?;
    for _ in 0..600 {
        if http
            .get(format!("{base}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let tally = Arc::new(Tally::default());
    let client = Client {
        base: base.clone(),
        http,
        tally: tally.clone(),
    };
    let media_dir = scratch.path().join("media");
    std::fs::create_dir_all(&media_dir)?;
    let mp4 = ffmpeg(
        &media_dir,
        "-f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine=frequency=440 -t 2 \
         -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -f mp4",
        "mp4",
    );
    let pdf = pdf();
    let deck = if Path::new("/usr/bin/soffice").exists() {
        hostile_deck(&media_dir, 20_000)
    } else {
        None
    };

    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let small: Arc<Mutex<Vec<String>>> = Arc::default();
    let media: Arc<Mutex<Vec<String>>> = Arc::default();
    let hostile: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut tasks = Vec::new();

    // Steady clients.
    for i in 0..clients {
        let (c, small) = (client.clone(), small.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u32;
            while Instant::now() < deadline {
                n += 1;
                let side = 16 + (i as u32 * 97 + n) % 200;
                let Some(id) = c
                    .upload("IMAGE", "steady.png", &png(side, side / 2 + 1), json!({}))
                    .await
                else {
                    continue;
                };
                c.call("GET", "/digital-assets?limit=10&sort_dir=desc", None)
                    .await;
                c.call("GET", &format!("/digital-assets/{id}"), None).await;
                let rename = json!({"asset_name": format!("steady-{i}-{n}")});
                c.call("PUT", &format!("/digital-assets/{id}"), Some(rename))
                    .await;
                if n % 10 == 0 {
                    c.call("DELETE", &format!("/digital-assets/{id}"), None)
                        .await;
                    c.call("POST", &format!("/digital-assets/{id}/restore"), None)
                        .await;
                }
                small.lock().unwrap().push(id);
            }
        }));
    }
    // Bursts.
    {
        let (c, small) = (client.clone(), small.clone());
        tasks.push(tokio::spawn(async move {
            let mut next = Instant::now() + burst_every / 2;
            while next < deadline {
                tokio::time::sleep_until(next.into()).await;
                let burst = (0..16u32).map(|b| {
                    let (c, small) = (c.clone(), small.clone());
                    tokio::spawn(async move {
                        for r in 0..5u32 {
                            let side = 20 + (b * 5 + r) % 64;
                            if let Some(id) = c
                                .upload("IMAGE", "burst.png", &png(side, side), json!({}))
                                .await
                            {
                                small.lock().unwrap().push(id);
                            }
                        }
                    })
                });
                for b in burst.collect::<Vec<_>>() {
                    b.await.ok();
                }
                next += burst_every;
            }
        }));
    }
    // Media: videos, PDFs, hostile decks.
    for (every, kind) in [(20u64, "mp4"), (30, "pdf"), (120, "deck")] {
        let (c, media, hostile) = (client.clone(), media.clone(), hostile.clone());
        let (mp4, pdf, deck) = (mp4.clone(), pdf.clone(), deck.clone());
        tasks.push(tokio::spawn(async move {
            let mut next = Instant::now() + Duration::from_secs(every / 3);
            while next < deadline {
                tokio::time::sleep_until(next.into()).await;
                let ppt = json!({"asset_extra_meta": {"ppt_meta": {"auto_analysis": true}}});
                let (group, id) = match kind {
                    "mp4" => (&media, c.upload("VIDEO", "clip.mp4", &mp4, json!({})).await),
                    "pdf" => (&media, c.upload("PPT", "deck.pdf", &pdf, ppt).await),
                    _ => match &deck {
                        Some(deck) => (&hostile, c.upload("PPT", "hostile.pptx", deck, ppt).await),
                        None => (&hostile, None),
                    },
                };
                group.lock().unwrap().extend(id);
                next += Duration::from_secs(every);
            }
        }));
    }
    // RSS sampler.
    let samples: Arc<Mutex<Vec<(f64, u64)>>> = Arc::default();
    {
        let samples = samples.clone();
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                if let Some(kib) = rss_kib(pid) {
                    samples
                        .lock()
                        .unwrap()
                        .push((started.elapsed().as_secs_f64(), kib));
                }
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let load_secs = started.elapsed().as_secs_f64();

    // Everything settles within a bound.
    let settle_by = Instant::now() + Duration::from_secs(900);
    let mut states = std::collections::BTreeMap::<(String, String), u64>::new();
    let groups = [
        ("small", small.lock().unwrap().clone()),
        ("media", media.lock().unwrap().clone()),
        ("hostile", hostile.lock().unwrap().clone()),
    ];
    for (group, ids) in &groups {
        for id in ids {
            let state = loop {
                let (_, shown) = client
                    .call("GET", &format!("/digital-assets/{id}"), None)
                    .await;
                let state = shown["asset_state"].as_str().unwrap_or("?").to_owned();
                if state != "CREATING" || Instant::now() > settle_by {
                    break state;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            };
            *states.entry((group.to_string(), state)).or_default() += 1;
        }
    }
    let health = client
        .http
        .get(format!("{base}/health"))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    let peak_kib = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .unwrap_or(0);
    server.kill().ok();
    server.wait().ok();
    let log_text = std::fs::read_to_string(&log_path).unwrap_or_default();
    let panics: Vec<&str> = log_text
        .lines()
        .filter(|l| l.contains("panicked"))
        .collect();

    let samples = samples.lock().unwrap().clone();
    let window = |from: f64, to: f64| {
        median(
            samples
                .iter()
                .filter(|(t, _)| *t >= from && *t < to)
                .map(|(_, k)| *k)
                .collect(),
        )
    };
    let warm = (load_secs / 10.0).min(60.0);
    let first = window(warm, warm + 60.0);
    let last = window(load_secs - 60.0, load_secs + 1.0);
    let rss_ratio = last as f64 / first.max(1) as f64;

    let server_errors = tally.server_errors.load(Ordering::Relaxed);
    let small_ok = states
        .get(&("small".into(), "ACTIVED".into()))
        .copied()
        .unwrap_or(0);
    let small_all = groups[0].1.len() as u64;
    let hostile_all = groups[2].1.len() as u64;
    let hostile_failed = states
        .get(&("hostile".into(), "FAILED".into()))
        .copied()
        .unwrap_or(0);
    let mut table = String::new();
    use std::fmt::Write as _;
    writeln!(
        table,
        "soak: {load_secs:.0} s of load, {clients} steady clients, 16-client bursts every {} s",
        burst_every.as_secs()
    )?;
    writeln!(
        table,
        "responses: 2xx/3xx {}  4xx {}  5xx {server_errors}  transport errors {}",
        tally.ok.load(Ordering::Relaxed),
        tally.client_errors.load(Ordering::Relaxed),
        tally.transport.load(Ordering::Relaxed)
    )?;
    writeln!(table, "assets by group and final state: {states:?}")?;
    writeln!(table, "panics in the server log: {}", panics.len())?;
    writeln!(table, "assetd RSS: first minute (after {warm:.0} s warm-up) median {first} KiB, last minute median {last} KiB, ratio {rss_ratio:.2}; peak {peak_kib} KiB")?;
    writeln!(table, "/health after the soak: {health}")?;
    for sample in tally.samples_5xx.lock().unwrap().iter() {
        writeln!(table, "5xx: {sample}")?;
    }
    for line in panics.iter().take(10) {
        writeln!(table, "panic: {line}")?;
    }
    print!("{table}");
    if let Some(out) = std::env::var_os("SOAK_OUT") {
        std::fs::write(out, &table)?;
    }
    let verdicts = [
        (server_errors == 0, "no 5xx"),
        (panics.is_empty(), "no panic"),
        (rss_ratio <= 1.5, "flat RSS (last/first minute ≤ 1.5)"),
        (
            small_ok == small_all && small_all > 0,
            "every small upload ACTIVED",
        ),
        (hostile_failed == hostile_all, "every hostile deck FAILED"),
        (health == 200, "/health 200"),
    ];
    let failed: Vec<&str> = verdicts
        .iter()
        .filter(|(ok, _)| !ok)
        .map(|(_, what)| *what)
        .collect();
    anyhow::ensure!(failed.is_empty(), "soak failed: {failed:?}");
    println!("soak passed: {}", verdicts.map(|(_, what)| what).join(", "));
    Ok(())
}
