//! Media processing through real HTTP, as the official SDK drives it (create asset →
//! create_file → PUT → confirm → poll show): every format of the seed's tables comes out
//! ACTIVED with metadata that agrees with ffprobe on the same bytes, or FAILED with a reason;
//! covers, thumbnails, web renditions and slide pages are real files that download; no job
//! leaves a scratch directory behind, not even one whose server was killed with SIGKILL.
//!
//! Every fixture is generated at test time (`common::fixture` and the recipes below).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::child::{assetd_on, ChildServer};
use common::{fixture, Client, Media, TestServer};
use serde_json::{json, Map, Value};

/// How long a MAIN file may take to settle; transcodes and LibreOffice included.
const SETTLE: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------------------
// Fixtures beyond `common::fixture`

/// 20 s of VP9/Opus at 1280×720: not web-standard, and long enough to transcode for a while.
fn long_webm() -> Vec<u8> {
    common::cached("long-webm", || {
        common::ffmpeg(
            "-f lavfi -i testsrc2=size=1280x720:rate=25 \
             -f lavfi -i sine=frequency=440:sample_rate=48000 -t 20 \
             -c:v libvpx-vp9 -b:v 500k -deadline realtime -cpu-used 8 -c:a libopus -f webm",
            "webm",
        )
    })
}

/// Five seconds of H.264/AAC whose first 1.6 s are black (a fade-in from black).
fn black_start_mp4() -> Vec<u8> {
    common::cached("black-start-mp4", || {
        common::ffmpeg(
            "-f lavfi -i testsrc2=size=320x240:rate=25 \
             -f lavfi -i sine=frequency=440:sample_rate=44100 -t 5 -vf fade=in:st=1.6:d=0.2 \
             -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -f mp4",
            "mp4",
        )
    })
}

/// A 1600×1200 JPEG, large enough that its thumbnail is a real reduction.
fn big_jpeg() -> Vec<u8> {
    common::cached("big-jpeg", || {
        common::ffmpeg(
            "-f lavfi -i testsrc2=size=1600x1200 -frames:v 1 -f image2 -c:v mjpeg",
            "jpg",
        )
    })
}

/// A 160×120, 10 fps H.264/AAC MP4: web-standard even under tight limits.
fn small_mp4() -> Vec<u8> {
    common::cached("small-mp4", || {
        common::ffmpeg(
            "-f lavfi -i testsrc2=size=160x120:rate=10 \
             -f lavfi -i sine=frequency=440:sample_rate=44100 -t 2 \
             -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -f mp4",
            "mp4",
        )
    })
}

/// A scratch file holding `data`, kept while the returned guard lives.
fn write_temp(data: &[u8], ext: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("in.{ext}"));
    std::fs::write(&path, data).unwrap();
    (dir, path)
}

/// A PNG signature, an IHDR chunk claiming `width × height` RGB pixels and IEND: no pixel
/// data at all, so anything that tried to decode it would fail differently.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = common::crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IEND", &[]);
    out
}

/// A page text longer than `page_content` may be: 60 numbered lines of 60 characters.
fn long_page_text() -> String {
    (1..=60)
        .map(|i| format!("{i:02} {}", "abcdefghij".repeat(6).get(..57).unwrap()))
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------------------
// What ffprobe says, read independently of `media::probe`

/// ffprobe's report on some bytes, and the API values it implies under the rules
/// `src/media/probe.rs` documents: bit rates in kbit/s rounded half up, durations in whole
/// seconds rounded half up (a clip under half a second counts as 1), frame rates with at most
/// two decimals, width and height as displayed. The fixtures are far inside the seed's
/// ranges, so no value here needs clamping.
struct Probed {
    report: Value,
    size: usize,
}

fn kbps(bits: u64) -> u64 {
    (bits + 500) / 1000
}

fn whole_seconds(secs: f64) -> i64 {
    if secs <= 0.0 {
        0
    } else {
        secs.round().max(1.0) as i64
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
    .filter(|n: &f64| n.is_finite() && *n > 0.0)
}

impl Probed {
    fn of(data: &[u8], ext: &str) -> Self {
        Probed {
            report: common::ffprobe(data, ext),
            size: data.len(),
        }
    }

    fn stream(&self, kind: &str) -> Option<&Value> {
        self.report["streams"].as_array()?.iter().find(|s| {
            s["codec_type"] == kind && s["disposition"]["attached_pic"].as_i64() != Some(1)
        })
    }

    fn bit_rate(stream: &Value) -> Option<u64> {
        number(&stream["bit_rate"])
            .or_else(|| number(&stream["tags"]["BPS"]))
            .or_else(|| number(&stream["tags"]["BPS-eng"]))
            .map(|b| b.round() as u64)
    }

    fn container_bit_rate(&self) -> Option<u64> {
        number(&self.report["format"]["bit_rate"]).map(|b| b.round() as u64)
    }

    fn duration(&self) -> Option<i64> {
        number(&self.report["format"]["duration"])
            .or_else(|| {
                self.report["streams"]
                    .as_array()?
                    .iter()
                    .filter_map(|s| number(&s["duration"]))
                    .reduce(f64::max)
            })
            .map(whole_seconds)
    }

    fn frame_rate(stream: &Value) -> Option<String> {
        ["avg_frame_rate", "r_frame_rate"].iter().find_map(|k| {
            let (n, d) = stream[*k].as_str()?.split_once('/')?;
            let (n, d): (f64, f64) = (n.parse().ok()?, d.parse().ok()?);
            (n > 0.0 && d > 0.0).then(|| {
                let s = format!("{:.2}", n / d);
                s.trim_end_matches('0').trim_end_matches('.').to_owned()
            })
        })
    }

    /// Width and height as displayed (a 90° or 270° rotation swaps them).
    fn display_size(stream: &Value) -> (u64, u64) {
        let (w, h) = (
            stream["width"].as_u64().unwrap(),
            stream["height"].as_u64().unwrap(),
        );
        let rotation = stream["side_data_list"]
            .as_array()
            .and_then(|l| l.iter().find_map(|d| d["rotation"].as_f64()))
            .unwrap_or(0.0);
        if (rotation / 90.0).round() as i64 % 2 != 0 {
            (h, w)
        } else {
            (w, h)
        }
    }

    fn mode(w: u64, h: u64) -> &'static str {
        if w >= h {
            "Horizontal"
        } else {
            "Vertical"
        }
    }

    fn video_meta(&self) -> Value {
        let video = self.stream("video").expect("a video stream");
        let audio = self.stream("audio");
        let (w, h) = Self::display_size(video);
        let audio_bits = audio.and_then(Self::bit_rate);
        let video_bits = Self::bit_rate(video).or_else(|| {
            self.container_bit_rate()
                .map(|total| total.saturating_sub(audio_bits.unwrap_or(0)))
                .filter(|b| *b > 0)
        });
        let mut meta = json!({
            "video_codec": video["codec_name"],
            "width": w,
            "height": h,
            "frame_rate": Self::frame_rate(video),
            "video_bit_rate": video_bits.map(kbps),
            "duration": self.duration(),
            "mode": Self::mode(w, h),
        });
        if let Some(a) = audio {
            let m = meta.as_object_mut().unwrap();
            m.insert("audio_codec".into(), a["codec_name"].clone());
            m.insert("audio_bit_rate".into(), json!(audio_bits.map(kbps)));
            m.insert("audio_channels".into(), a["channels"].clone());
            m.insert(
                "sample".into(),
                json!(number(&a["sample_rate"]).map(|s| s as u64)),
            );
        }
        without_nulls(meta)
    }

    fn audio_meta(&self) -> Value {
        let audio = self.stream("audio").expect("an audio stream");
        let bits = Self::bit_rate(audio).or_else(|| {
            self.stream("video")
                .is_none()
                .then(|| self.container_bit_rate())
                .flatten()
        });
        without_nulls(json!({
            "duration": self.duration(),
            "audio_codec": audio["codec_name"],
            "audio_bit_rate": bits.map(kbps),
            "audio_channels": audio["channels"],
            "sample": number(&audio["sample_rate"]).map(|s| s as u64),
        }))
    }

    fn image_meta(&self) -> Value {
        let image = self.stream("video").expect("an image stream");
        let (w, h) = Self::display_size(image);
        let codec = match image["codec_name"].as_str().unwrap() {
            "mjpeg" => "jpeg",
            other => other,
        };
        json!({
            "codec": codec,
            "width": w,
            "height": h,
            "size": self.size,
            "mode": Self::mode(w, h),
        })
    }
}

fn without_nulls(v: Value) -> Value {
    Value::Object(
        v.as_object()
            .unwrap()
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Map<_, _>>(),
    )
}

/// Asserts that `meta` carries exactly the values of `expected`, ignoring the processing
/// fields (`video_transcoding_status`, `error_info`) that ffprobe knows nothing about.
#[track_caller]
fn assert_meta(meta: &Value, expected: &Value, what: &str) {
    let ours: Map<String, Value> = meta
        .as_object()
        .unwrap_or_else(|| panic!("{what}: no meta in {meta}"))
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "video_transcoding_status" | "error_info"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(
        Value::Object(ours),
        *expected,
        "{what}: metadata disagrees with ffprobe"
    );
}

// ---------------------------------------------------------------------------------------
// The HTTP flow

async fn new_asset(c: &Client, asset_type: &str, extra: Value) -> String {
    let mut body = json!({"asset_name": "media-test", "asset_type": asset_type});
    if let Some(extra) = extra.as_object() {
        body.as_object_mut().unwrap().extend(extra.clone());
    }
    c.create_asset(&body).await
}

/// A new asset with `data` uploaded and confirmed as its MAIN file: (asset id, file id).
async fn upload_main(
    c: &Client,
    asset_type: &str,
    name: &str,
    data: &[u8],
    extra: Value,
) -> (String, String) {
    let asset_id = new_asset(c, asset_type, extra).await;
    let file_id = c.upload(&asset_id, name, "MAIN", data).await;
    (asset_id, file_id)
}

/// Polls `show_asset` until the asset has left CREATING; bounded by [`SETTLE`].
async fn settled(c: &Client, asset_id: &str) -> Value {
    let deadline = Instant::now() + SETTLE;
    loop {
        let shown = c.show(asset_id).await;
        if shown["asset_state"] != "CREATING" {
            return shown;
        }
        assert!(
            Instant::now() < deadline,
            "asset {asset_id} still CREATING after {SETTLE:?}: {shown}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn actived(c: &Client, asset_id: &str) -> Value {
    let shown = settled(c, asset_id).await;
    assert_eq!(shown["asset_state"], "ACTIVED", "{shown}");
    shown
}

/// Waits for FAILED and returns the asset and its reason.
async fn failed(c: &Client, asset_id: &str) -> (Value, String) {
    let shown = settled(c, asset_id).await;
    assert_eq!(shown["asset_state"], "FAILED", "{shown}");
    let reason = shown["reason"]
        .as_str()
        .expect("a FAILED asset has a reason");
    assert!(!reason.is_empty());
    let reason = reason.to_owned();
    (shown, reason)
}

fn files<'a>(shown: &'a Value, category: &str) -> Vec<&'a Value> {
    shown["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["asset_file_category"] == category)
        .collect()
}

#[track_caller]
fn main_file(shown: &Value) -> &Value {
    let mains = files(shown, "MAIN");
    assert_eq!(mains.len(), 1, "one MAIN file: {shown}");
    mains[0]
}

async fn download(c: &Client, url: &str) -> Vec<u8> {
    let got = c.fetch(url, None).await;
    assert_eq!(got.status, 200, "GET {url}: {}", got.json);
    got.bytes
}

async fn download_file(c: &Client, file: &Value) -> Vec<u8> {
    let url = file["download_url"]
        .as_str()
        .unwrap_or_else(|| panic!("no download_url: {file}"));
    let bytes = download(c, url).await;
    assert_eq!(
        Some(bytes.len() as u64),
        file["file_size"].as_u64(),
        "{file}"
    );
    bytes
}

async fn summary(c: &Client, asset_id: &str) -> Value {
    let reply = c
        .post(
            "/digital-assets/summarys",
            &json!({"asset_ids": [asset_id]}),
        )
        .await;
    let list = reply.ok()["asset_list"].as_array().unwrap().clone();
    assert_eq!(list.len(), 1, "{list:?}");
    list[0].clone()
}

/// Decodes `bytes`, which must be a complete JPEG.
#[track_caller]
fn jpeg(bytes: &[u8], what: &str) -> image::DynamicImage {
    assert!(
        bytes.starts_with(&[0xFF, 0xD8, 0xFF]) && bytes.ends_with(&[0xFF, 0xD9]),
        "{what} is not a JPEG ({} bytes)",
        bytes.len()
    );
    image::load_from_memory_with_format(bytes, image::ImageFormat::Jpeg)
        .unwrap_or_else(|e| panic!("{what} does not decode: {e}"))
}

fn mean_luma(img: &image::DynamicImage) -> f64 {
    let luma = img.to_luma8();
    luma.pixels().map(|p| f64::from(p.0[0])).sum::<f64>() / f64::from(luma.width() * luma.height())
}

/// `(w, h)` fitted into a `side × side` box, aspect kept, never enlarged.
fn fit(w: u64, h: u64, side: u64) -> (u32, u32) {
    let long = w.max(h);
    if long <= side {
        return (w as u32, h as u32);
    }
    let scale = |v: u64| ((v * side + long / 2) / long).max(1) as u32;
    (scale(w), scale(h))
}

/// Downloads the summary's thumbnail and checks it is a JPEG of the source fitted to 320.
async fn assert_thumbnail(c: &Client, asset_id: &str, source: (u64, u64), what: &str) {
    let s = summary(c, asset_id).await;
    let url = s["thumbnail_url"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: no thumbnail_url in {s}"));
    let thumb = jpeg(&download(c, url).await, &format!("{what} thumbnail"));
    assert_eq!(
        (thumb.width(), thumb.height()),
        fit(source.0, source.1, 320),
        "{what} thumbnail size"
    );
}

/// Checks a rendition: H.264 (8-bit 4:2:0) and AAC in an MP4 with the index up front, as
/// long as its source, fitting `limits` (long side, short side, fps) with the source's
/// aspect.
fn assert_web_rendition(bytes: &[u8], source: &Probed, limits: (u64, u64, f64), what: &str) {
    assert_eq!(&bytes[4..8], b"ftyp", "{what}: not an MP4");
    let moov = bytes.windows(4).position(|w| w == b"moov").unwrap();
    let mdat = bytes.windows(4).position(|w| w == b"mdat").unwrap();
    assert!(moov < mdat, "{what}: the index is not at the front");
    let r = Probed::of(bytes, "mp4");
    assert!(
        r.report["format"]["format_name"]
            .as_str()
            .unwrap()
            .contains("mp4"),
        "{what}"
    );
    let video = r.stream("video").expect("rendition has video");
    assert_eq!(video["codec_name"], "h264", "{what}");
    assert_eq!(video["pix_fmt"], "yuv420p", "{what}");
    if source.stream("audio").is_some() {
        assert_eq!(
            r.stream("audio").expect("rendition has audio")["codec_name"],
            "aac"
        );
    }
    let (sw, sh) = Probed::display_size(source.stream("video").unwrap());
    let (w, h) = Probed::display_size(video);
    let (long, short) = (w.max(h), w.min(h));
    assert!(long <= limits.0 && short <= limits.1, "{what}: {w}×{h}");
    assert!(w % 2 == 0 && h % 2 == 0, "{what}: {w}×{h}");
    let aspect = |a: u64, b: u64| a as f64 / b as f64;
    assert!(
        (aspect(w, h) - aspect(sw, sh)).abs() < 0.03,
        "{what}: {w}×{h} from {sw}×{sh}"
    );
    let fps: f64 = Probed::frame_rate(video).unwrap().parse().unwrap();
    assert!(fps <= limits.2 + 0.01, "{what}: {fps} fps");
    let (d, sd) = (
        number(&r.report["format"]["duration"]).unwrap(),
        number(&source.report["format"]["duration"]).unwrap(),
    );
    assert!((d - sd).abs() < 0.5, "{what}: {d} s from {sd} s");
}

const DEFAULT_WEB: (u64, u64, f64) = (1920, 1080, 60.0);

/// Pids of processes whose working directory is under `dir` (tools run in their job's
/// directory; a deleted one reads as "<path> (deleted)").
fn processes_under(dir: &Path) -> Vec<u32> {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    procs
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let cwd = std::fs::read_link(e.path().join("cwd")).ok()?;
            cwd.starts_with(dir).then_some(pid)
        })
        .collect()
}

/// Waits (at most 5 s: a killed process takes a moment to exit) until no process works under
/// `dir`.
async fn assert_no_processes_under(dir: &Path, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let pids = processes_under(dir);
        if pids.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: {pids:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Asserts that the server's job scratch space is empty and no tool still runs in it.
async fn assert_no_leftovers(server: &TestServer) {
    server.jobs_idle().await;
    assert_eq!(
        server.work_leftovers(),
        Vec::<String>::new(),
        "job directories left under work/"
    );
    let work = server.data_dir().join("work");
    assert_no_processes_under(&work, "tools still running").await;
}

// ---------------------------------------------------------------------------------------
// Every format of the seed's tables

#[tokio::test]
async fn every_video_format_ends_actived_with_video_meta_that_agrees_with_ffprobe() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let formats = [
        Media::Mp4,
        Media::Mov,
        Media::M4v,
        Media::ThreeGp,
        Media::Mkv,
        Media::Webm,
        Media::Flv,
        Media::Avi,
        Media::Wmv,
    ];
    let mut uploads = Vec::new();
    for kind in formats {
        let data = fixture(kind);
        let ids = upload_main(c, "VIDEO", &kind.file_name(), &data, json!({})).await;
        uploads.push((kind, data, ids));
    }
    for (kind, data, (asset_id, file_id)) in &uploads {
        let what = kind.ext();
        let shown = actived(c, asset_id).await;
        let probed = Probed::of(data, what);
        let meta = &shown["asset_extra_meta"]["video_meta"];
        assert_meta(meta, &probed.video_meta(), what);
        assert_eq!(meta["video_transcoding_status"], "SUCCEEDED", "{what}");
        assert!(meta["error_info"].is_null(), "{what}: {meta}");

        let main = main_file(&shown);
        assert_eq!(main["file_id"], **file_id);
        assert_eq!(main["state"], "CREATED", "{what}");
        assert_eq!(
            main["file_extra_meta"]["video_transcoding_status"], "SUCCEEDED",
            "{what}"
        );
        assert!(
            download_file(c, main).await == *data,
            "{what}: MAIN changed"
        );

        // H.264 + AAC in MP4/M4V is served as it is; everything else gets a rendition.
        let renditions = files(&shown, "OTHER");
        if matches!(kind, Media::Mp4 | Media::M4v) {
            assert!(renditions.is_empty(), "{what} was re-encoded: {shown}");
        } else {
            assert_eq!(renditions.len(), 1, "{what}: {shown}");
            let rendition = renditions[0];
            assert_eq!(rendition["state"], "CREATED", "{what}");
            assert_eq!(rendition["file_type"], "mp4", "{what}");
            assert_eq!(
                rendition["file_extra_meta"]["video_transcoding_status"], "SUCCEEDED",
                "{what}"
            );
            assert!(
                rendition["file_name"]
                    .as_str()
                    .unwrap()
                    .ends_with(".web.mp4"),
                "{rendition}"
            );
            let bytes = download_file(c, rendition).await;
            assert_web_rendition(&bytes, &probed, DEFAULT_WEB, what);
        }
        assert!(files(&shown, "COVER").is_empty(), "no cover was asked for");
        let size = Probed::display_size(probed.stream("video").unwrap());
        assert_thumbnail(c, asset_id, size, what).await;
        assert!(summary(c, asset_id).await["cover_url"].is_null());
    }
    assert_no_leftovers(&server).await;
    server.assert_jobs_settled().await;
}

#[tokio::test]
async fn every_audio_format_ends_actived_with_audio_meta_that_agrees_with_ffprobe() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let mut uploads = Vec::new();
    for asset_type in ["AUDIO", "MUSIC"] {
        for kind in [Media::Wav, Media::Mp3, Media::M4a] {
            let data = fixture(kind);
            let ids = upload_main(c, asset_type, &kind.file_name(), &data, json!({})).await;
            uploads.push((asset_type, kind, data, ids));
        }
    }
    for (asset_type, kind, data, (asset_id, _)) in &uploads {
        let what = format!("{asset_type} {}", kind.ext());
        let shown = actived(c, asset_id).await;
        let extra = shown["asset_extra_meta"].as_object().unwrap();
        assert_eq!(
            extra.keys().collect::<Vec<_>>(),
            ["audio_meta"],
            "{what}: {shown}"
        );
        let probed = Probed::of(data, kind.ext());
        assert_meta(&extra["audio_meta"], &probed.audio_meta(), &what);
        assert_eq!(shown["files"].as_array().unwrap().len(), 1, "{what}");
        assert!(download_file(c, main_file(&shown)).await == *data, "{what}");
        let s = summary(c, asset_id).await;
        assert!(
            s["thumbnail_url"].is_null() && s["cover_url"].is_null(),
            "{what}: {s}"
        );
    }
    assert_no_leftovers(&server).await;
    server.assert_jobs_settled().await;
}

#[tokio::test]
async fn every_image_format_ends_actived_with_header_meta_and_a_small_thumbnail() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("photo.jpg", fixture(Media::Jpeg)),
        ("photo.JPEG", fixture(Media::Jpeg)),
        ("big.jpg", big_jpeg()),
        ("picture.png", fixture(Media::Png)),
        ("anim.gif", fixture(Media::Gif)),
        ("portrait.bmp", fixture(Media::Bmp)),
    ];
    let mut uploads = Vec::new();
    for (name, data) in &cases {
        uploads.push(upload_main(c, "IMAGE", name, data, json!({})).await);
    }
    for ((name, data), (asset_id, _)) in cases.iter().zip(&uploads) {
        let shown = actived(c, asset_id).await;
        let ext = name.rsplit('.').next().unwrap().to_lowercase();
        let probed = Probed::of(data, &ext);
        let expected = probed.image_meta();
        assert_meta(&shown["asset_extra_meta"]["image_meta"], &expected, name);
        // The thumbnail is the summary's, not one of the files.
        assert_eq!(shown["files"].as_array().unwrap().len(), 1, "{shown}");
        let size = (
            expected["width"].as_u64().unwrap(),
            expected["height"].as_u64().unwrap(),
        );
        assert_thumbnail(c, asset_id, size, name).await;
        assert!(summary(c, asset_id).await["cover_url"].is_null());
    }
    let portrait = &c.show(&uploads[5].0).await["asset_extra_meta"]["image_meta"];
    assert_eq!(portrait["mode"], "Vertical", "{portrait}");
    assert_no_leftovers(&server).await;
    server.assert_jobs_settled().await;
}

// ---------------------------------------------------------------------------------------
// Images: decompression bombs

#[tokio::test]
async fn a_pixel_bomb_ends_failed_from_its_header_without_being_decoded() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    // 2.5 gigapixels claimed in 57 bytes: decoding it would fail on the missing data (or
    // run out of memory), so a reason about the pixel count shows nothing was decoded.
    let bomb = png_claiming(50_000, 50_000);
    let (asset_id, file_id) = upload_main(c, "IMAGE", "bomb.png", &bomb, json!({})).await;
    let (shown, reason) = failed(c, &asset_id).await;
    assert!(
        reason.contains("50000×50000") && reason.contains("100000000 allowed"),
        "{reason}"
    );
    let main = main_file(&shown);
    assert_eq!(main["file_id"], file_id);
    assert_eq!(main["state"], "FAILED");
    assert!(main["reason"].as_str().unwrap().contains("50000×50000"));
    assert!(summary(c, &asset_id).await["thumbnail_url"].is_null());
    assert_no_leftovers(&server).await;
    assert_eq!(server.jobs_idle().await.failed, 1);
}

#[tokio::test]
async fn the_pixel_cap_is_configurable() {
    let server = TestServer::spawn_with(|config| config.max_image_pixels = 50_000).await;
    let c = &server.client;
    let (over, _) = upload_main(c, "IMAGE", "a.png", &fixture(Media::Png), json!({})).await;
    let (under, _) = upload_main(c, "IMAGE", "b.png", &common::png(200, 200), json!({})).await;
    let (_, reason) = failed(c, &over).await;
    assert!(
        reason.contains("320×240") && reason.contains("50000 allowed"),
        "{reason}"
    );
    let shown = actived(c, &under).await;
    assert_eq!(shown["asset_extra_meta"]["image_meta"]["width"], 200);
    assert_no_leftovers(&server).await;
    assert_eq!(server.jobs_idle().await.failed, 1);
}

// ---------------------------------------------------------------------------------------
// Covers and thumbnails

#[tokio::test]
async fn a_generated_cover_is_a_representative_frame_not_the_black_first_one() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let data = black_start_mp4();
    // The fixture really starts black.
    let (_guard, input) = write_temp(&data, "mp4");
    let first = common::ffmpeg(
        &format!("-i {} -frames:v 1 -f image2 -c:v mjpeg", input.display()),
        "jpg",
    );
    assert!(mean_luma(&jpeg(&first, "first frame")) < 20.0);

    let cover = json!({"is_need_generate_cover": true});
    let (asset_id, _) = upload_main(c, "VIDEO", "intro.mp4", &data, cover).await;
    let (plain_id, _) = upload_main(c, "VIDEO", "plain.mp4", &data, json!({})).await;
    let shown = actived(c, &asset_id).await;
    let covers = files(&shown, "COVER");
    assert_eq!(covers.len(), 1, "{shown}");
    assert_eq!(covers[0]["state"], "CREATED");
    assert_eq!(covers[0]["file_type"], "jpg");
    let bytes = download_file(c, covers[0]).await;
    let img = jpeg(&bytes, "cover");
    assert_eq!((img.width(), img.height()), (320, 240));
    let luma = mean_luma(&img);
    assert!(
        luma >= 20.0,
        "the cover is near-black (mean luma {luma:.1})"
    );

    let s = summary(c, &asset_id).await;
    let cover_url = s["cover_url"].as_str().expect("cover_url");
    assert!(
        download(c, cover_url).await == bytes,
        "cover_url serves the cover"
    );
    assert_thumbnail(c, &asset_id, (320, 240), "covered video").await;

    // Without is_need_generate_cover there is no cover, but still a thumbnail.
    let plain = actived(c, &plain_id).await;
    assert!(files(&plain, "COVER").is_empty(), "{plain}");
    assert!(summary(c, &plain_id).await["cover_url"].is_null());
    assert_thumbnail(c, &plain_id, (320, 240), "plain video").await;
    assert_no_leftovers(&server).await;
    server.assert_jobs_settled().await;
}

#[tokio::test]
async fn an_uploaded_cover_is_kept_and_no_second_one_is_generated() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let asset_id = new_asset(c, "VIDEO", json!({"is_need_generate_cover": true})).await;
    let own = fixture(Media::Jpeg);
    let own_id = c.upload(&asset_id, "mine.jpg", "COVER", &own).await;
    c.upload(&asset_id, "clip.mp4", "MAIN", &fixture(Media::Mp4))
        .await;
    let shown = actived(c, &asset_id).await;
    let covers = files(&shown, "COVER");
    assert_eq!(covers.len(), 1, "{shown}");
    assert_eq!(covers[0]["file_id"], own_id);
    let s = summary(c, &asset_id).await;
    assert!(download(c, s["cover_url"].as_str().unwrap()).await == own);
    server.assert_jobs_settled().await;
}

#[tokio::test]
async fn replacing_the_main_file_replaces_what_was_made_from_it() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let cover = json!({"is_need_generate_cover": true});
    let (asset_id, first) = upload_main(c, "VIDEO", "a.mp4", &fixture(Media::Mp4), cover).await;
    let shown = actived(c, &asset_id).await;
    assert_eq!(files(&shown, "COVER").len(), 1, "{shown}");

    c.delete(&format!("/files/{first}")).await.ok();
    let shown = c.show(&asset_id).await;
    assert_eq!(shown["asset_state"], "CREATING");
    assert_eq!(
        shown["files"],
        json!([]),
        "derived files go with their MAIN"
    );
    let s = summary(c, &asset_id).await;
    assert!(
        s["cover_url"].is_null() && s["thumbnail_url"].is_null(),
        "{s}"
    );

    let second = c
        .upload(&asset_id, "b.mov", "MAIN", &fixture(Media::Mov))
        .await;
    let shown = actived(c, &asset_id).await;
    assert_eq!(main_file(&shown)["file_id"], second);
    let covers = files(&shown, "COVER");
    assert_eq!(covers.len(), 1, "one cover, from the new MAIN: {shown}");
    assert!(covers[0]["file_name"].as_str().unwrap().starts_with("b."));
    let renditions = files(&shown, "OTHER");
    assert_eq!(renditions.len(), 1, "{shown}");
    let probed = Probed::of(&fixture(Media::Mov), "mov");
    assert_meta(
        &shown["asset_extra_meta"]["video_meta"],
        &probed.video_meta(),
        "mov",
    );
    server.assert_jobs_settled().await;
}

// ---------------------------------------------------------------------------------------
// Transcoding

#[tokio::test]
async fn web_limits_are_configurable_and_renditions_respect_them() {
    let server = TestServer::spawn_with(|config| {
        config.web_max_width = 256;
        config.web_max_height = 144;
        config.web_max_fps = 15.0;
    })
    .await;
    let c = &server.client;
    let big = fixture(Media::Mp4);
    let small = small_mp4();
    let (big_id, _) = upload_main(c, "VIDEO", "big.mp4", &big, json!({})).await;
    let (small_id, _) = upload_main(c, "VIDEO", "small.mp4", &small, json!({})).await;

    // 320×240 at 25 fps is over both limits: H.264/AAC in MP4, and still re-encoded.
    let shown = actived(c, &big_id).await;
    let renditions = files(&shown, "OTHER");
    assert_eq!(renditions.len(), 1, "{shown}");
    let bytes = download_file(c, renditions[0]).await;
    assert_web_rendition(&bytes, &Probed::of(&big, "mp4"), (256, 144, 15.0), "big");

    let shown = actived(c, &small_id).await;
    assert!(files(&shown, "OTHER").is_empty(), "{shown}");
    assert_eq!(
        shown["asset_extra_meta"]["video_meta"]["video_transcoding_status"],
        "SUCCEEDED"
    );
    assert_no_leftovers(&server).await;
    server.assert_jobs_settled().await;
}

#[tokio::test]
async fn a_transcode_past_the_tool_timeout_is_killed_and_reported_failed() {
    let server = TestServer::spawn_with(|config| config.tool_timeout_secs = 1).await;
    let c = &server.client;
    let data = long_webm();
    let (asset_id, file_id) = upload_main(c, "VIDEO", "long.webm", &data, json!({})).await;
    // Right after the confirmation both statuses wait; probing and the cover come first.
    let shown = c.show(&asset_id).await;
    assert_eq!(
        shown["asset_extra_meta"]["video_meta"]["video_transcoding_status"], "WAITING",
        "{shown}"
    );
    assert_eq!(
        main_file(&shown)["file_extra_meta"]["video_transcoding_status"],
        "WAITING"
    );
    assert_eq!(main_file(&shown)["state"], "UPLOADED");

    // The original stays usable: the asset is ACTIVED, only the rendition failed.
    let shown = actived(c, &asset_id).await;
    let meta = &shown["asset_extra_meta"]["video_meta"];
    assert_eq!(meta["video_transcoding_status"], "FAILED", "{meta}");
    let msg = meta["error_info"]["error_msg"].as_str().unwrap_or_default();
    assert!(msg.contains("did not finish within 1s"), "{meta}");
    assert_meta(meta, &Probed::of(&data, "webm").video_meta(), "long webm");
    let main = main_file(&shown);
    assert_eq!(main["file_id"], file_id);
    assert_eq!(
        main["file_extra_meta"]["video_transcoding_status"],
        "FAILED"
    );
    assert!(files(&shown, "OTHER").is_empty(), "{shown}");
    assert_no_leftovers(&server).await;
    server.assert_jobs_settled().await;
}

#[tokio::test]
async fn a_truncated_video_ends_failed_with_ffprobes_reason() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let whole = fixture(Media::Mp4);
    let cut = &whole[..whole.len() / 3];
    let (asset_id, file_id) = upload_main(c, "VIDEO", "cut.mp4", cut, json!({})).await;
    let (shown, reason) = failed(c, &asset_id).await;
    assert!(reason.contains("moov atom not found"), "{reason}");
    let main = main_file(&shown);
    assert_eq!(main["file_id"], file_id);
    assert_eq!(main["state"], "FAILED");
    assert!(main["reason"]
        .as_str()
        .unwrap()
        .contains("moov atom not found"));
    assert_eq!(
        main["file_extra_meta"]["video_transcoding_status"],
        "FAILED"
    );
    assert_eq!(
        shown["asset_extra_meta"]["video_meta"]["video_transcoding_status"],
        "FAILED"
    );
    assert_eq!(shown["files"].as_array().unwrap().len(), 1, "{shown}");
    assert_no_leftovers(&server).await;
    assert_eq!(server.jobs_idle().await.failed, 1);
}

// ---------------------------------------------------------------------------------------
// Slides

fn ppt_meta(shown: &Value) -> &Value {
    &shown["asset_extra_meta"]["ppt_meta"]
}

/// Checks `ppt_meta.pages` against `texts` (page k's text) and downloads every page image:
/// a JPEG whose long side is `long_side`, listed among the files as a PAGE.
async fn assert_pages(c: &Client, shown: &Value, texts: &[String], long_side: u32) {
    let pages = ppt_meta(shown)["pages"].as_array().expect("pages").clone();
    assert_eq!(pages.len(), texts.len(), "{}", ppt_meta(shown));
    let page_files = files(shown, "PAGE");
    assert_eq!(page_files.len(), texts.len());
    for (i, (page, text)) in pages.iter().zip(texts).enumerate() {
        assert_eq!(page["page_no"], i + 1, "{page}");
        assert_eq!(page["page_content"], text.as_str(), "page {}", i + 1);
        let file = page_files
            .iter()
            .find(|f| f["file_id"] == page["file_id"])
            .unwrap_or_else(|| panic!("page {} has no PAGE file: {page}", i + 1));
        assert_eq!(file["state"], "CREATED");
        let img = jpeg(&download_file(c, file).await, &format!("page {}", i + 1));
        assert_eq!(img.width().max(img.height()), long_side, "page {}", i + 1);
    }
}

#[tokio::test]
async fn a_55_page_pdf_renders_its_first_50_pages_with_their_text() {
    let server = TestServer::spawn_with(|config| config.page_long_side = 200).await;
    let c = &server.client;
    let long = long_page_text();
    let texts: Vec<String> = (1..=55)
        .map(|k| {
            if k == 2 {
                long.clone()
            } else {
                format!("Page {k}")
            }
        })
        .collect();
    let pdf = common::pdf_pages(&texts.iter().map(String::as_str).collect::<Vec<_>>());
    let analyse = json!({"asset_extra_meta": {"ppt_meta": {"auto_analysis": true}}});
    let (asset_id, _) = upload_main(c, "PPT", "deck.pdf", &pdf, analyse).await;
    let shown = actived(c, &asset_id).await;
    let meta = ppt_meta(&shown);
    assert_eq!(meta["ppt_analysis_status"], "SUCCEEDED", "{meta}");
    assert_eq!(meta["auto_analysis"], true);
    assert_eq!(meta["page_count"], 55);
    assert!(meta["error_info"].is_null(), "{meta}");
    // page_content is at most 2,048 characters: page 2's text is cut.
    let mut expected: Vec<String> = texts[..50].to_vec();
    assert!(long.chars().count() > 2048);
    expected[1] = long.chars().take(2048).collect();
    assert_pages(c, &shown, &expected, 200).await;
    assert_no_leftovers(&server).await;
    server.assert_jobs_settled().await;
}

#[tokio::test]
async fn pptx_and_ppt_decks_go_through_libreoffice_to_page_images() {
    let server = TestServer::spawn_with(|config| config.page_long_side = 320).await;
    let c = &server.client;
    let analyse = json!({"asset_extra_meta": {"ppt_meta": {"auto_analysis": true}}});
    let mut uploads = Vec::new();
    for kind in [Media::Pptx, Media::Ppt] {
        let ids = upload_main(c, "PPT", &kind.file_name(), &fixture(kind), analyse.clone()).await;
        let status = ppt_meta(&c.show(&ids.0).await)["ppt_analysis_status"].clone();
        assert!(
            matches!(
                status.as_str(),
                Some("WAITING" | "CONVERTING" | "SUCCEEDED")
            ),
            "{status}"
        );
        uploads.push((kind, ids));
    }
    let texts: Vec<String> = [
        "Hello from slide one",
        "Slide two says hi",
        "Goodbye from slide three",
    ]
    .map(String::from)
    .to_vec();
    for (kind, (asset_id, _)) in &uploads {
        let shown = actived(c, asset_id).await;
        let meta = ppt_meta(&shown);
        assert_eq!(meta["ppt_analysis_status"], "SUCCEEDED", "{kind:?}: {meta}");
        assert_eq!(meta["page_count"], 3, "{kind:?}");
        assert_pages(c, &shown, &texts, 320).await;
    }
    // A deck without auto_analysis is not converted.
    let (plain, _) = upload_main(c, "PPT", "plain.pptx", &fixture(Media::Pptx), json!({})).await;
    let shown = actived(c, &plain).await;
    assert!(ppt_meta(&shown)["pages"].is_null(), "{shown}");
    assert!(files(&shown, "PAGE").is_empty());
    assert_no_leftovers(&server).await;
    server.assert_jobs_settled().await;
}

#[tokio::test]
async fn a_corrupt_pptx_ends_failed_with_error_info() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let whole = fixture(Media::Pptx);
    let corrupt = &whole[..whole.len() / 2];
    let analyse = json!({"asset_extra_meta": {"ppt_meta": {"auto_analysis": true}}});
    let (asset_id, _) = upload_main(c, "PPT", "broken.pptx", corrupt, analyse).await;
    let (shown, reason) = failed(c, &asset_id).await;
    assert!(
        reason.contains("LibreOffice could not open the deck"),
        "{reason}"
    );
    let meta = ppt_meta(&shown);
    assert_eq!(meta["ppt_analysis_status"], "FAILED", "{meta}");
    let info = &meta["error_info"];
    assert!(!info["error_code"].as_str().unwrap_or_default().is_empty());
    assert!(
        info["error_msg"]
            .as_str()
            .unwrap_or_default()
            .contains("LibreOffice could not open the deck"),
        "{info}"
    );
    assert_eq!(main_file(&shown)["state"], "FAILED");
    assert!(files(&shown, "PAGE").is_empty());
    assert_no_leftovers(&server).await;
    assert_eq!(server.jobs_idle().await.failed, 1);
}

#[tokio::test]
async fn deleting_a_deck_while_it_converts_cancels_the_analysis() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let analyse = json!({"asset_extra_meta": {"ppt_meta": {"auto_analysis": true}}});
    let (asset_id, _) = upload_main(c, "PPT", "deck.pptx", &fixture(Media::Pptx), analyse).await;
    // LibreOffice takes seconds; the recycle bin takes a request.
    c.delete(&format!("/digital-assets/{asset_id}")).await.ok();
    let deadline = Instant::now() + SETTLE;
    let shown = loop {
        let shown = c.show(&asset_id).await;
        let status = ppt_meta(&shown)["ppt_analysis_status"].clone();
        if !matches!(status.as_str(), Some("WAITING" | "CONVERTING")) {
            break shown;
        }
        assert!(Instant::now() < deadline, "still {status}: {shown}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(shown["asset_state"], "DELETING", "{shown}");
    assert_eq!(
        ppt_meta(&shown)["ppt_analysis_status"],
        "CANCELED",
        "{shown}"
    );
    // Restored, the asset is as usable as the processed deck made it.
    c.post(&format!("/digital-assets/{asset_id}/restore"), &json!({}))
        .await
        .ok();
    assert_eq!(c.show(&asset_id).await["asset_state"], "ACTIVED");
    assert_no_leftovers(&server).await;
    server.assert_jobs_settled().await;
}

// ---------------------------------------------------------------------------------------
// kill -9 in the middle of a job

const PROJECT: &str = "media-crash-project";
const AK: &str = "MEDIACRASHACCESSKEY1";
const SK: &str = "media-crash-secret-key-0123456789";

fn dir_entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A MAIN file whose job a server was SIGKILLed in the middle of, and the restarted server.
struct Crashed {
    _dir: tempfile::TempDir,
    work: PathBuf,
    server: ChildServer,
    client: Client,
    asset_id: String,
    file_id: String,
}

/// Starts assetd on a fresh data directory (job lease 3 s, so the restart reclaims the job
/// quickly), uploads `data` as the MAIN file of a new asset, SIGKILLs the server once
/// `in_progress(shown asset, job dir)` holds and restarts it on the same directory. When
/// `tool_dies_with_server`, the running tool (a direct child) must be gone before the restart.
/// The restarted server's sweep must remove the killed job's directory and stop whatever
/// still ran in it.
async fn kill_9_mid_job(
    asset: Value,
    name: &str,
    data: &[u8],
    tool_dies_with_server: bool,
    in_progress: impl Fn(&Value, &Path) -> bool,
) -> Crashed {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let work = data_dir.join("work");
    let config = dir.path().join("assetd.toml");
    std::fs::write(&config, "job_lease_secs = 3\n").unwrap();
    let created = assetd_on(&data_dir)
        .args(["credentials", "create", "--project-id", PROJECT])
        .args(["--access-key", AK, "--secret-key", SK])
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");

    let mut first_run = ChildServer::start(
        &data_dir,
        Some(&config),
        data_dir.with_file_name("serve-1.log"),
    )
    .await;
    let c = Client::connect(&first_run.base, PROJECT, AK, SK);
    let asset_id = c.create_asset(&asset).await;
    let file_id = c.upload(&asset_id, name, "MAIN", data).await;
    let deadline = Instant::now() + SETTLE;
    let job = loop {
        let shown = c.show(&asset_id).await;
        assert_eq!(
            shown["asset_state"], "CREATING",
            "finished too early: {shown}"
        );
        let busy = dir_entries(&work)
            .into_iter()
            .map(|job| work.join(job))
            .find(|job| in_progress(&shown, job));
        if let Some(job) = busy {
            break job;
        }
        assert!(
            Instant::now() < deadline,
            "the job never got going: {shown}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    first_run.kill_9();
    assert!(
        job.exists(),
        "the killed job's directory stays until the restart"
    );
    if tool_dies_with_server {
        assert_no_processes_under(&job, "the tool outlived the server").await;
    }

    let second_run = ChildServer::start(
        &data_dir,
        Some(&config),
        data_dir.with_file_name("serve-2.log"),
    )
    .await;
    assert!(
        !job.exists(),
        "the restart sweeps the killed job's directory"
    );
    assert_no_processes_under(&job, "tools of the killed run survived the restart").await;
    let client = Client::connect(&second_run.base, PROJECT, AK, SK);
    Crashed {
        _dir: dir,
        work,
        server: second_run,
        client,
        asset_id,
        file_id,
    }
}

impl Crashed {
    /// Waits until the restarted server has cleaned up after its own job too.
    async fn assert_no_leftovers(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !dir_entries(&self.work).is_empty() || !processes_under(&self.work).is_empty() {
            assert!(
                Instant::now() < deadline,
                "left under work/: {:?}, tools running there: {:?}\n{}",
                dir_entries(&self.work),
                processes_under(&self.work),
                self.server.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_mid_transcode_is_finished_by_the_restarted_server() {
    let data = long_webm();
    let status = |shown: &Value| {
        shown["asset_extra_meta"]["video_meta"]["video_transcoding_status"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    // Killed once ffmpeg has written part of the rendition. ffmpeg, the server's child,
    // dies with it: it is gone before the restart.
    let asset = json!({"asset_name": "long", "asset_type": "VIDEO"});
    let crashed = kill_9_mid_job(asset, "long.webm", &data, true, |shown, job| {
        status(shown) == "TRANSCODING"
            && main_file(shown)["file_extra_meta"]["video_transcoding_status"] == "TRANSCODING"
            && std::fs::metadata(job.join("web.mp4")).is_ok_and(|m| m.len() > 0)
    })
    .await;
    let c = &crashed.client;
    let shown = actived(c, &crashed.asset_id).await;
    assert_eq!(status(&shown), "SUCCEEDED", "{shown}");
    let main = main_file(&shown);
    assert_eq!(main["file_id"], crashed.file_id);
    assert_eq!(main["state"], "CREATED");
    assert_eq!(
        main["file_extra_meta"]["video_transcoding_status"],
        "SUCCEEDED"
    );
    assert!(download_file(c, main).await == data);
    assert_meta(
        &shown["asset_extra_meta"]["video_meta"],
        &Probed::of(&data, "webm").video_meta(),
        "long webm",
    );
    let renditions = files(&shown, "OTHER");
    assert_eq!(renditions.len(), 1, "{shown}");
    let bytes = download_file(c, renditions[0]).await;
    assert_web_rendition(&bytes, &Probed::of(&data, "webm"), DEFAULT_WEB, "long");
    crashed.assert_no_leftovers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_mid_conversion_is_finished_by_the_restarted_server() {
    let data = fixture(Media::Pptx);
    // Killed while LibreOffice converts. Its soffice.bin is a grandchild of the server and
    // outlives it; the restart's sweep stops it.
    let asset = json!({"asset_name": "deck", "asset_type": "PPT",
                       "asset_extra_meta": {"ppt_meta": {"auto_analysis": true}}});
    let crashed = kill_9_mid_job(asset, "deck.pptx", &data, false, |shown, job| {
        ppt_meta(shown)["ppt_analysis_status"] == "CONVERTING"
            && job.join("lo-profile").exists()
            && !processes_under(job).is_empty()
    })
    .await;
    let c = &crashed.client;
    let shown = actived(c, &crashed.asset_id).await;
    let meta = ppt_meta(&shown);
    assert_eq!(meta["ppt_analysis_status"], "SUCCEEDED", "{meta}");
    assert_eq!(meta["page_count"], 3);
    let texts = [
        "Hello from slide one",
        "Slide two says hi",
        "Goodbye from slide three",
    ]
    .map(String::from);
    assert_pages(c, &shown, &texts, 1920).await;
    assert_eq!(main_file(&shown)["file_id"], crashed.file_id);
    crashed.assert_no_leftovers().await;
}
