//! Uploads and storage (API.md §2.11–2.14, §4.2, §5, §6) through real HTTP: create-file
//! rules, signed upload URLs, verified PUTs, content sniffing, confirmation states, large-file
//! parts, downloads with ranges, and the abandoned-upload sweeper.

mod common;

use std::time::{Duration, Instant};

use assetd::catalog::Write;
use assetd::model::AssetState;
use bytes::Bytes;
use common::{fixture, md5_b64, png, Client, Media, Reply, TestServer};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------
// Fixtures: bare headers of each format, generated here, for the checks that only sniff the
// first bytes (covers, content mismatches). MAIN files that processing must accept are real
// media from `common::fixture`.

fn jpeg() -> Vec<u8> {
    let mut out = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00".to_vec();
    // A comment segment as filler, then end of image.
    let comment = b"assetd test jpeg";
    out.extend_from_slice(&[0xFF, 0xFE, 0x00, (comment.len() + 2) as u8]);
    out.extend_from_slice(comment);
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

/// An ISO-BMFF file of exactly `len` bytes: an `ftyp` box and an `mdat` box of filler. Not
/// playable (no `moov`): only for uploads that are refused before processing.
fn mp4(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&24u32.to_be_bytes());
    out.extend_from_slice(b"ftypisom\x00\x00\x02\x00isommp41");
    let rest = len - out.len();
    out.extend_from_slice(&(rest as u32).to_be_bytes());
    out.extend_from_slice(b"mdat");
    out.extend((0..rest - 8).map(|i| (i % 251) as u8));
    out
}

/// A PCM WAV file with `samples` 16-bit mono samples.
fn wav(samples: u32) -> Vec<u8> {
    let data_len = samples * 2;
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&8000u32.to_le_bytes());
    out.extend_from_slice(&16000u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    out.extend((0..data_len).map(|i| (i % 7) as u8));
    out
}

/// A real H.264/AAC MP4 (web-standard, so it is not re-encoded) of more than 5 MiB: four
/// seconds of noise, which does not compress.
fn big_video() -> Vec<u8> {
    let data = common::cached("big-noise-mp4", || {
        common::ffmpeg(
            "-f lavfi -i nullsrc=s=320x240:r=25,geq=lum='random(1)*255':cb=128:cr=128 \
             -f lavfi -i sine=frequency=440:sample_rate=44100 -t 4 \
             -c:v libx264 -preset ultrafast -crf 8 -pix_fmt yuv420p -c:a aac -f mp4",
            "mp4",
        )
    });
    assert!(data.len() > 5 * 1024 * 1024, "{} bytes", data.len());
    data
}

fn text() -> Vec<u8> {
    b"hello, this is plain text and not an image at all\n".to_vec()
}

// ---------------------------------------------------------------------------------------
// Helpers

async fn new_asset(c: &Client, asset_type: &str) -> String {
    c.create_asset(&json!({"asset_name": "files-test", "asset_type": asset_type}))
        .await
}

fn file_body(asset_id: &str, name: &str, category: &str, size: u64, md5: &str) -> Value {
    json!({
        "asset_id": asset_id,
        "file_name": name,
        "file_md5": md5,
        "file_size": size,
        "file_type": name.rsplit('.').next().unwrap_or_default(),
        "asset_file_category": category,
    })
}

/// The files of an asset as `show_asset` reports them.
async fn files_of(c: &Client, asset_id: &str) -> Vec<Value> {
    c.show(asset_id).await["files"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn file_of(c: &Client, asset_id: &str, file_id: &str) -> Value {
    files_of(c, asset_id)
        .await
        .into_iter()
        .find(|f| f["file_id"] == file_id)
        .unwrap_or_else(|| panic!("file {file_id} not in asset {asset_id}"))
}

/// Asserts the asset has no file records at all.
#[track_caller]
fn assert_no_files(files: &[Value]) {
    assert!(files.is_empty(), "nothing should be stored: {files:?}");
}

/// Asserts that a refused PUT left nothing: no bytes for the file and nothing stray in the
/// blob store (no unrecorded object, no staging file).
async fn assert_nothing_stored(server: &TestServer, file_id: &str) {
    assert_eq!(
        server.blob_key(file_id).await,
        None,
        "no blob may be stored for {file_id}"
    );
    assert_eq!(server.stray_objects().await, Vec::<String>::new());
}

/// Waits until the bytes at `key` are removed from the blob store.
async fn assert_removed(server: &TestServer, key: &str) {
    server
        .eventually("the bytes to be removed", 30, || async {
            !server.objects("content").await.contains(&key.to_owned())
        })
        .await;
}

/// Asserts that no part of `file_id`'s upload is stored any more.
async fn assert_no_parts(server: &TestServer, file_id: &str) {
    let parts = server.objects(&format!("parts/{file_id}")).await;
    assert_eq!(parts, Vec::<String>::new(), "parts are removed");
}

/// `url` with one query parameter replaced.
fn with_param(url: &str, key: &str, value: &str) -> String {
    let (base, query) = url.split_once('?').expect("URL has a query");
    let query: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k == key => format!("{k}={value}"),
            _ => kv.to_owned(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

fn param(url: &str, key: &str) -> String {
    url.split_once('?')
        .expect("URL has a query")
        .1
        .split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("{key} in {url}"))
        .to_owned()
}

/// Flips the last hex digit of the URL's signature.
fn tampered_signature(url: &str) -> String {
    let mut sig = param(url, "signature");
    let last = sig.pop().unwrap();
    sig.push(if last == '0' { '1' } else { '0' });
    with_param(url, "signature", &sig)
}

async fn head(c: &Client, url: &str) -> Reply {
    Reply::read(c.http().head(url).send().await.unwrap()).await
}

/// Polls `show_asset` until the asset is in `want` (confirmation may hand the main file to
/// background processing), returning the asset; bounded.
async fn wait_asset_state(c: &Client, asset_id: &str, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let shown = c.show(asset_id).await;
        if shown["asset_state"] == want {
            return shown;
        }
        let settled = !matches!(shown["asset_state"].as_str(), Some("CREATING"));
        assert!(
            !settled && Instant::now() < deadline,
            "asset {asset_id} should become {want}: {shown}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls until the file is in `want`, passing through states that mean "still being
/// processed" (CREATING after a confirmation, UPLOADED, REVIEW); bounded.
async fn wait_file_state(c: &Client, asset_id: &str, file_id: &str, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let file = file_of(c, asset_id, file_id).await;
        if file["state"] == want {
            return file;
        }
        let pending = matches!(
            file["state"].as_str(),
            Some("CREATING" | "UPLOADED" | "REVIEW")
        );
        assert!(
            pending && Instant::now() < deadline,
            "file {file_id} should become {want}: {file}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Creates an asset of `asset_type` with one confirmed MAIN file; returns both ids once the
/// asset has settled out of CREATING.
async fn uploaded(c: &Client, asset_type: &str, name: &str, data: &[u8]) -> (String, String) {
    let asset_id = new_asset(c, asset_type).await;
    let file_id = c.upload(&asset_id, name, "MAIN", data).await;
    settle(c, &asset_id).await;
    (asset_id, file_id)
}

/// Polls until the asset has left CREATING; bounded.
async fn settle(c: &Client, asset_id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let shown = c.show(asset_id).await;
        if shown["asset_state"] != "CREATING" {
            return shown;
        }
        assert!(Instant::now() < deadline, "asset {asset_id} stuck: {shown}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn download_url(file: &Value) -> String {
    file["download_url"]
        .as_str()
        .unwrap_or_else(|| panic!("file has a download_url: {file}"))
        .to_owned()
}

// ---------------------------------------------------------------------------------------
// The happy path

#[tokio::test]
async fn a_png_upload_is_confirmed_and_the_asset_becomes_actived() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let asset_id = new_asset(c, "IMAGE").await;
    let data = png(40, 30);

    let created = c
        .post(
            "/files",
            &file_body(
                &asset_id,
                "Face.png",
                "MAIN",
                data.len() as u64,
                &md5_b64(&data),
            ),
        )
        .await;
    let json = created.ok();
    let file_id = json["file_id"].as_str().unwrap().to_owned();
    let url = json["upload_url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&format!("{}/", server.base)), "{url}");
    assert!(created.headers.contains_key("x-request-id"));

    let file = file_of(c, &asset_id, &file_id).await;
    assert_eq!(file["state"], "CREATING");
    assert!(file.get("download_url").is_none(), "{file}");

    assert_eq!(head(c, &url).await.status, 404, "nothing uploaded yet");
    let put = c.put_upload(&url, &data, Some(&md5_b64(&data))).await;
    assert_eq!(put.status, 200, "{}", put.json);
    assert!(put.headers.contains_key("etag"));
    let stored = head(c, &url).await;
    assert_eq!(stored.status, 200, "HEAD tells the upload is stored");
    assert_eq!(
        stored.headers["content-length"].to_str().unwrap(),
        data.len().to_string()
    );
    assert_eq!(server.stored(&file_id).await.unwrap(), data);
    assert_eq!(c.show(&asset_id).await["asset_state"], "CREATING");

    c.confirm(&file_id, "CREATED").await.ok();
    wait_asset_state(c, &asset_id, "ACTIVED").await;
    let file = file_of(c, &asset_id, &file_id).await;
    assert_eq!(file["state"], "CREATED");
    assert_eq!(file["file_name"], "Face.png");
    assert_eq!(file["file_md5"], md5_b64(&data));
    assert_eq!(file["file_size"], data.len());
    assert_eq!(file["file_type"], "png");
    assert_eq!(file["asset_file_category"], "MAIN");

    let got = c.fetch(&download_url(&file), None).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.bytes, data);
    assert_eq!(got.headers["content-type"], "image/png");
    let disposition = got.headers["content-disposition"].to_str().unwrap();
    assert!(disposition.contains("Face.png"), "{disposition}");

    // Confirming again is harmless.
    c.confirm(&file_id, "CREATED").await.ok();
    wait_asset_state(c, &asset_id, "ACTIVED").await;
    assert_eq!(server.stray_objects().await, Vec::<String>::new());
}

#[tokio::test]
async fn a_multi_megabyte_video_streams_through_and_downloads_identically() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    // Larger than axum's default 2 MiB body limit and than one 1 MiB hashing batch.
    let data = big_video();
    let (asset_id, file_id) = uploaded(c, "VIDEO", "clip.mp4", &data).await;
    wait_asset_state(c, &asset_id, "ACTIVED").await;
    let file = file_of(c, &asset_id, &file_id).await;
    let got = c.fetch(&download_url(&file), None).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.headers["content-type"], "video/mp4");
    assert!(got.bytes == data, "downloaded bytes differ");
}

#[tokio::test]
async fn real_headers_of_every_checked_format_end_actived() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    // Real files of every format, with names in varied case.
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        ("IMAGE", "photo.JPG", fixture(Media::Jpeg)),
        ("IMAGE", "photo.jpeg", fixture(Media::Jpeg)),
        ("IMAGE", "anim.gif", fixture(Media::Gif)),
        ("IMAGE", "bitmap.bmp", fixture(Media::Bmp)),
        ("IMAGE", "pic.PNG", fixture(Media::Png)),
        ("VIDEO", "clip.mp4", fixture(Media::Mp4)),
        ("VIDEO", "clip.MOV", fixture(Media::Mov)),
        ("VIDEO", "clip.m4v", fixture(Media::M4v)),
        ("VIDEO", "clip.3GP", fixture(Media::ThreeGp)),
        ("VIDEO", "clip.mkv", fixture(Media::Mkv)),
        ("VIDEO", "clip.WebM", fixture(Media::Webm)),
        ("VIDEO", "clip.flv", fixture(Media::Flv)),
        ("VIDEO", "clip.avi", fixture(Media::Avi)),
        ("VIDEO", "clip.WMV", fixture(Media::Wmv)),
        ("AUDIO", "voice.wav", fixture(Media::Wav)),
        ("AUDIO", "voice.mp3", fixture(Media::Mp3)),
        ("MUSIC", "song.m4a", fixture(Media::M4a)),
        ("PPT", "deck.pdf", fixture(Media::Pdf)),
        ("PPT", "deck.PPTX", fixture(Media::Pptx)),
    ];
    let mut uploads = Vec::new();
    for (asset_type, name, data) in &cases {
        let asset_id = new_asset(c, asset_type).await;
        let file_id = c.upload(&asset_id, name, "MAIN", data).await;
        uploads.push((asset_id, file_id));
    }
    for ((_, name, data), (asset_id, file_id)) in cases.iter().zip(&uploads) {
        wait_asset_state(c, asset_id, "ACTIVED").await;
        let file = file_of(c, asset_id, file_id).await;
        assert_eq!(file["state"], "CREATED", "{name}");
        assert!(
            c.fetch(&download_url(&file), None).await.bytes == *data,
            "{name} downloads byte-identical"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Content, not names

#[tokio::test]
async fn text_named_png_ends_failed_with_reason() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let data = text();
    let (asset_id, file_id) = uploaded(c, "IMAGE", "sneaky.png", &data).await;

    let shown = wait_asset_state(c, &asset_id, "FAILED").await;
    let asset_reason = shown["reason"].as_str().expect("asset has a reason");
    assert!(asset_reason.contains("PNG"), "{asset_reason}");
    let file = wait_file_state(c, &asset_id, &file_id, "FAILED").await;
    let reason = file["reason"].as_str().expect("file has a reason");
    assert!(reason.contains("PNG"), "{reason}");
    assert!(
        file.get("download_url").is_none(),
        "a failed file is not served"
    );

    // A retried confirmation (e.g. after a lost reply) gets the same answer, not an error.
    c.confirm(&file_id, "CREATED").await.ok();
    wait_asset_state(c, &asset_id, "FAILED").await;

    // A real PNG as the new main file recovers the asset.
    let good = png(8, 8);
    let replacement = c.upload(&asset_id, "real.png", "MAIN", &good).await;
    wait_asset_state(c, &asset_id, "ACTIVED").await;
    assert_eq!(
        file_of(c, &asset_id, &replacement).await["state"],
        "CREATED"
    );
}

#[tokio::test]
async fn content_of_another_format_ends_failed_and_names_both_formats() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    for (asset_type, name, data, found) in [
        ("IMAGE", "photo.gif", jpeg(), "JPEG"),
        ("VIDEO", "clip.mp4", wav(100), "WAV"),
        ("AUDIO", "song.mp3", png(2, 2), "PNG"),
        ("PPT", "deck.pdf", text(), "PDF"),
    ] {
        let (asset_id, file_id) = uploaded(c, asset_type, name, &data).await;
        wait_asset_state(c, &asset_id, "FAILED").await;
        let file = wait_file_state(c, &asset_id, &file_id, "FAILED").await;
        let reason = file["reason"].as_str().unwrap();
        assert!(reason.contains(found), "{name}: {reason}");
    }
}

#[tokio::test]
async fn a_cover_whose_bytes_are_not_an_image_ends_failed_without_failing_the_asset() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let (asset_id, _) = uploaded(c, "VIDEO", "clip.mp4", &fixture(Media::Mp4)).await;
    let cover = c.upload(&asset_id, "cover.png", "COVER", &text()).await;
    let file = wait_file_state(c, &asset_id, &cover, "FAILED").await;
    assert!(file["reason"].as_str().unwrap().contains("PNG"), "{file}");
    assert!(file.get("download_url").is_none());
    wait_asset_state(c, &asset_id, "ACTIVED").await;
    // The failed cover does not block a real one.
    let real = c.upload(&asset_id, "cover.jpg", "COVER", &jpeg()).await;
    wait_file_state(c, &asset_id, &real, "CREATED").await;
}

// ---------------------------------------------------------------------------------------
// Rules at create-file

#[tokio::test]
async fn main_file_formats_follow_the_asset_type_case_insensitively() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let allowed: [(&str, &[&str]); 5] = [
        (
            "VIDEO",
            &[
                "mp4", "M4V", "mkv", "MOV", "flv", "3gp", "WMV", "avi", "WebM",
            ],
        ),
        ("IMAGE", &["JPEG", "jpg", "Png", "bmp", "GIF"]),
        ("MUSIC", &["wav", "MP3", "m4a"]),
        ("AUDIO", &["WAV", "mp3", "M4A"]),
        ("PPT", &["ppt", "PPTX", "Pdf"]),
    ];
    for (asset_type, formats) in allowed {
        for ext in formats {
            let asset_id = new_asset(c, asset_type).await;
            let name = format!("main.{ext}");
            let reply = c
                .post(
                    "/files",
                    &file_body(&asset_id, &name, "MAIN", 10, &md5_b64(b"x")),
                )
                .await;
            assert_eq!(reply.status, 200, "{asset_type} {name}: {}", reply.json);
        }
    }
    let refused = [
        ("VIDEO", "main.png"),
        ("VIDEO", "main.mp3"),
        ("IMAGE", "main.mp4"),
        ("IMAGE", "main.webp"),
        ("IMAGE", "main.tiff"),
        ("MUSIC", "main.flac"),
        ("AUDIO", "main.ogg"),
        ("AUDIO", "main.mp4"),
        ("PPT", "main.docx"),
        ("PPT", "main.key"),
    ];
    for (asset_type, name) in refused {
        let asset_id = new_asset(c, asset_type).await;
        let reply = c
            .post(
                "/files",
                &file_body(&asset_id, name, "MAIN", 10, &md5_b64(b"x")),
            )
            .await;
        let msg = reply.expect_error(400, "MSS.00000003");
        assert!(msg.contains("file_"), "{asset_type} {name}: {msg}");
        assert_no_files(&files_of(c, &asset_id).await);
    }
    // The name's extension counts too, not only the declared file_type.
    let asset_id = new_asset(c, "IMAGE").await;
    let mut body = file_body(&asset_id, "main.txt", "MAIN", 10, &md5_b64(b"x"));
    body["file_type"] = json!("png");
    c.post("/files", &body)
        .await
        .expect_error(400, "MSS.00000003");
    assert_no_files(&files_of(c, &asset_id).await);
}

#[tokio::test]
async fn main_file_size_limits_are_exact_byte_boundaries() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    for (asset_type, name, limit) in [
        ("IMAGE", "a.png", 52_428_800u64),
        ("MUSIC", "a.mp3", 104_857_600),
        ("AUDIO", "a.wav", 104_857_600),
        ("PPT", "a.pptx", 104_857_600),
        ("VIDEO", "a.mp4", 5_368_709_120),
    ] {
        let ok = new_asset(c, asset_type).await;
        c.post(
            "/files",
            &file_body(&ok, name, "MAIN", limit, &md5_b64(b"x")),
        )
        .await
        .ok();
        let over = new_asset(c, asset_type).await;
        let reply = c
            .post(
                "/files",
                &file_body(&over, name, "MAIN", limit + 1, &md5_b64(b"x")),
            )
            .await;
        let msg = reply.expect_error(400, "MSS.00000003");
        assert!(msg.contains("file_size"), "{asset_type}: {msg}");
        assert_no_files(&files_of(c, &over).await);
    }
    // Sizes outside 1~5368709120 are refused whatever the type.
    let asset_id = new_asset(c, "COMMON_FILE").await;
    for size in [0i64, -1, 5_368_709_121] {
        let mut body = file_body(&asset_id, "a.bin", "MAIN", 1, &md5_b64(b"x"));
        body["file_size"] = json!(size);
        c.post("/files", &body)
            .await
            .expect_error(400, "MSS.00000003");
    }
    assert_no_files(&files_of(c, &asset_id).await);
}

#[tokio::test]
async fn file_md5_must_be_rfc_1864_base64_and_a_hex_md5_is_refused() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let asset_id = new_asset(c, "IMAGE").await;
    let data = png(2, 2);
    let hex_md5 = {
        use md5::Digest;
        hex::encode(md5::Md5::digest(&data))
    };
    for bad in [
        hex_md5.as_str(),
        "",
        "AAAAAAAAAAAAAAAAAAAAAA==AA",   // 26 characters
        "AAAAAAAAAAAAAAAAAAAAAAA=",     // 24 characters but 17 bytes
        "!!!!!!!!!!!!!!!!!!!!!!==",     // not base64
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAA", // 28 characters
    ] {
        let reply = c
            .post(
                "/files",
                &file_body(&asset_id, "a.png", "MAIN", data.len() as u64, bad),
            )
            .await;
        let msg = reply.expect_error(400, "MSS.00000003");
        assert!(msg.contains("file_md5"), "{bad:?}: {msg}");
    }
    assert_no_files(&files_of(c, &asset_id).await);
    c.post(
        "/files",
        &file_body(
            &asset_id,
            "a.png",
            "MAIN",
            data.len() as u64,
            &md5_b64(&data),
        ),
    )
    .await
    .ok();
}

#[tokio::test]
async fn categories_are_checked_against_the_asset_type() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let admin = server.new_client(true).await;
    let md5 = md5_b64(b"x");
    let cases: [(&Client, &str, &str, &str, bool); 14] = [
        (c, "IMAGE", "COVER", "c.png", false),
        (c, "IMAGE", "PAGE", "p.png", false),
        (c, "IMAGE", "OTHER", "o.png", false),
        (c, "VIDEO", "COVER", "c.png", true),
        (c, "VIDEO", "PAGE", "p.png", false),
        (c, "VIDEO", "SAMPLE", "s.mp4", false),
        (c, "PPT", "PAGE", "p.png", true),
        (c, "PPT", "COVER", "c.jpg", true),
        (c, "PPT", "SAMPLE", "s.png", false),
        (c, "AUDIO", "SAMPLE", "s.wav", false),
        (c, "AUDIO", "OTHER", "o.txt", true),
        (&admin, "VOICE_MODEL", "SAMPLE", "s.wav", true),
        (&admin, "VOICE_MODEL", "COVER", "c.png", false),
        (&admin, "HUMAN_MODEL_2D", "SAMPLE", "s.mp4", true),
    ];
    for (client, asset_type, category, name, ok) in cases {
        let asset_id = new_asset(client, asset_type).await;
        let reply = client
            .post("/files", &file_body(&asset_id, name, category, 1, &md5))
            .await;
        if ok {
            assert_eq!(reply.status, 200, "{asset_type}/{category}: {}", reply.json);
        } else {
            let msg = reply.expect_error(400, "MSS.00000003");
            assert!(msg.contains("asset_file_category"), "{msg}");
            assert_no_files(&files_of(client, &asset_id).await);
        }
    }
    let asset_id = new_asset(c, "VIDEO").await;
    c.post("/files", &file_body(&asset_id, "x.png", "BANNER", 1, &md5))
        .await
        .expect_error(400, "MSS.00000003");
    assert_no_files(&files_of(c, &asset_id).await);
}

#[tokio::test]
async fn a_second_main_file_is_refused_with_mss_10001008() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let asset_id = new_asset(c, "IMAGE").await;
    let data = png(4, 4);
    let (first, url) = c.create_file(&asset_id, "one.png", "MAIN", &data).await;

    let second = file_body(&asset_id, "two.png", "MAIN", 10, &md5_b64(b"x"));
    c.post("/files", &second)
        .await
        .expect_error(400, "MSS.10001008");
    assert_eq!(files_of(c, &asset_id).await.len(), 1);

    c.put_upload(&url, &data, None).await.ok();
    c.confirm(&first, "CREATED").await.ok();
    c.post("/files", &second)
        .await
        .expect_error(400, "MSS.10001008");
    c.post(
        "/large-files",
        &json!({"asset_id": asset_id, "file_name": "big.png", "file_type": "png",
                "asset_file_category": "MAIN"}),
    )
    .await
    .expect_error(400, "MSS.10001008");
    assert_eq!(files_of(c, &asset_id).await.len(), 1);

    // A cancelled main file makes room for a new one.
    let other = new_asset(c, "IMAGE").await;
    let (cancelled, _) = c.create_file(&other, "one.png", "MAIN", &data).await;
    c.confirm(&cancelled, "CANCELLED").await.ok();
    c.create_file(&other, "two.png", "MAIN", &data).await;
}

#[tokio::test]
async fn a_second_cover_is_refused_with_mss_10001009() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let asset_id = new_asset(c, "VIDEO").await;
    let cover = png(4, 4);
    c.create_file(&asset_id, "cover.png", "COVER", &cover).await;
    let reply = c
        .post(
            "/files",
            &file_body(&asset_id, "cover2.png", "COVER", 10, &md5_b64(b"x")),
        )
        .await;
    reply.expect_error(400, "MSS.10001009");
    let files = files_of(c, &asset_id).await;
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["file_name"], "cover.png");
}

#[tokio::test]
async fn an_unknown_or_foreign_asset_is_refused_with_mss_10001001() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let stranger = server.new_client(false).await;
    let foreign = new_asset(&stranger, "IMAGE").await;
    let md5 = md5_b64(b"x");
    for asset_id in ["no-such-asset", foreign.as_str()] {
        c.post("/files", &file_body(asset_id, "a.png", "MAIN", 1, &md5))
            .await
            .expect_error(404, "MSS.10001001");
        c.post(
            "/large-files",
            &json!({"asset_id": asset_id, "file_name": "a.mp4", "file_type": "mp4",
                    "asset_file_category": "MAIN"}),
        )
        .await
        .expect_error(404, "MSS.10001001");
    }
    assert_no_files(&files_of(&stranger, &foreign).await);
}

#[tokio::test]
async fn file_names_with_paths_dot_dot_or_control_characters_are_refused() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let asset_id = new_asset(c, "IMAGE").await;
    let md5 = md5_b64(b"x");
    let long = format!("{}.png", "x".repeat(253));
    for name in [
        "dir/a.png",
        "/etc/a.png",
        "dir\\a.png",
        "..\\a.png",
        "../a.png",
        "a..png",
        "a\u{0}.png",
        "a\n.png",
        "a\u{7}.png",
        "a\u{7f}.png",
        "",
        long.as_str(),
    ] {
        let reply = c
            .post("/files", &file_body(&asset_id, name, "MAIN", 1, &md5))
            .await;
        let msg = reply.expect_error(400, "MSS.00000003");
        assert!(msg.contains("file_name"), "{name:?}: {msg}");
        let large = c
            .post(
                "/large-files",
                &json!({"asset_id": asset_id, "file_name": name, "file_type": "png",
                        "asset_file_category": "MAIN"}),
            )
            .await;
        large.expect_error(400, "MSS.00000003");
    }
    assert_no_files(&files_of(c, &asset_id).await);
    assert_eq!(server.objects("content").await, Vec::<String>::new());
}

#[tokio::test]
async fn files_cannot_be_added_to_a_deleted_asset() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let asset_id = new_asset(c, "IMAGE").await;
    c.delete(&format!("/digital-assets/{asset_id}")).await.ok();
    c.post(
        "/files",
        &file_body(&asset_id, "a.png", "MAIN", 1, &md5_b64(b"x")),
    )
    .await
    .expect_error(400, "MSS.00000003");
    c.post(&format!("/digital-assets/{asset_id}/restore"), &json!({}))
        .await
        .ok();
    assert_no_files(&files_of(c, &asset_id).await);
}

// ---------------------------------------------------------------------------------------
// The upload URL

#[tokio::test]
async fn an_upload_url_expires() {
    let server = TestServer::spawn_with(|config| config.upload_url_ttl_secs = 1).await;
    let c = &server.client;
    let asset_id = new_asset(c, "IMAGE").await;
    let data = png(3, 3);
    let (file_id, url) = c.create_file(&asset_id, "a.png", "MAIN", &data).await;
    assert_eq!(head(c, &url).await.status, 404, "the fresh URL is valid");
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(head(c, &url).await.status, 403);
    let reply = c.put_upload(&url, &data, Some(&md5_b64(&data))).await;
    let msg = reply.expect_error(403, "MSS.00010008");
    assert!(msg.contains("expired"), "{msg}");
    assert_nothing_stored(&server, &file_id).await;
    assert_eq!(file_of(c, &asset_id, &file_id).await["state"], "CREATING");
}

#[tokio::test]
async fn an_upload_url_is_useless_for_any_other_file() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let a = new_asset(c, "IMAGE").await;
    let b = new_asset(c, "IMAGE").await;
    let data = png(5, 5);
    let (file_a, url_a) = c.create_file(&a, "a.png", "MAIN", &data).await;
    let (file_b, _) = c.create_file(&b, "b.png", "MAIN", &data).await;
    let swapped = url_a.replace(&file_a, &file_b);
    assert_ne!(swapped, url_a);
    let reply = c.put_upload(&swapped, &data, Some(&md5_b64(&data))).await;
    reply.expect_error(403, "MSS.00010008");
    assert_eq!(head(c, &swapped).await.status, 403);
    assert_nothing_stored(&server, &file_b).await;
    assert_nothing_stored(&server, &file_a).await;
    // Nor can it address a part that was never issued.
    let part = with_param(&url_a, "part", "1");
    c.put_upload(&part, &data, None)
        .await
        .expect_error(403, "MSS.00010008");
    assert_nothing_stored(&server, &file_a).await;
}

#[tokio::test]
async fn a_tampered_upload_url_is_refused() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let asset_id = new_asset(c, "IMAGE").await;
    let data = png(6, 6);
    let (file_id, url) = c.create_file(&asset_id, "a.png", "MAIN", &data).await;
    let expires: i64 = param(&url, "expires").parse().unwrap();
    for bad in [
        tampered_signature(&url),
        with_param(&url, "size", &(data.len() + 1).to_string()),
        with_param(&url, "size", "-1"),
        with_param(&url, "expires", &(expires + 3600).to_string()),
        with_param(&url, "signature", "not-hex"),
    ] {
        let reply = c.put_upload(&bad, &data, Some(&md5_b64(&data))).await;
        reply.expect_error(403, "MSS.00010008");
    }
    let unsigned = url.split_once('?').unwrap().0;
    c.put_upload(unsigned, &data, None)
        .await
        .expect_error(403, "MSS.00010008");
    assert_nothing_stored(&server, &file_id).await;
    // The genuine URL still works.
    c.put_upload(&url, &data, None).await.ok();
}

// ---------------------------------------------------------------------------------------
// The PUT verifies size and MD5

#[tokio::test]
async fn a_put_of_the_wrong_size_stores_nothing_and_can_be_retried() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let asset_id = new_asset(c, "IMAGE").await;
    let data = png(20, 20);
    let (file_id, url) = c.create_file(&asset_id, "a.png", "MAIN", &data).await;

    // Too short, announced by Content-Length.
    let reply = c.put_upload(&url, &data[..data.len() - 1], None).await;
    let msg = reply.expect_error(400, "MSS.10001010");
    assert!(msg.contains("declared"), "{msg}");
    assert_nothing_stored(&server, &file_id).await;

    // Too long and too short, streamed without Content-Length.
    for body in [
        [data.clone(), b"extra".to_vec()].concat(),
        data[..data.len() / 2].to_vec(),
    ] {
        let chunks: Vec<Result<Bytes, std::io::Error>> = body
            .chunks(100)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let response = c
            .http()
            .put(&url)
            .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
            .send()
            .await
            .unwrap();
        let reply = Reply::read(response).await;
        reply.expect_error(400, "MSS.10001010");
        assert_nothing_stored(&server, &file_id).await;
    }
    c.confirm(&file_id, "CREATED")
        .await
        .expect_error(400, "MSS.00000003");

    c.put_upload(&url, &data, Some(&md5_b64(&data))).await.ok();
    c.confirm(&file_id, "CREATED").await.ok();
    wait_asset_state(c, &asset_id, "ACTIVED").await;
}

#[tokio::test]
async fn a_put_whose_bytes_do_not_match_the_declared_md5_stores_nothing_and_can_be_retried() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let asset_id = new_asset(c, "IMAGE").await;
    let data = png(10, 10);
    let (file_id, url) = c.create_file(&asset_id, "a.png", "MAIN", &data).await;
    let mut other = data.clone();
    let last = other.len() - 20;
    other[last] ^= 0xFF;

    // Same size, different bytes: without Content-MD5, and with a Content-MD5 that matches
    // the (wrong) bytes but not the declared file_md5.
    for content_md5 in [None, Some(md5_b64(&other))] {
        let reply = c.put_upload(&url, &other, content_md5.as_deref()).await;
        let msg = reply.expect_error(400, "MSS.10001010");
        assert!(msg.to_lowercase().contains("md5"), "{msg}");
        assert_nothing_stored(&server, &file_id).await;
    }
    // Right bytes, wrong Content-MD5 header.
    let reply = c.put_upload(&url, &data, Some(&md5_b64(b"else"))).await;
    reply.expect_error(400, "MSS.10001010");
    assert_nothing_stored(&server, &file_id).await;
    // A Content-MD5 that is not RFC 1864.
    let hex_md5 = {
        use md5::Digest;
        hex::encode(md5::Md5::digest(&data))
    };
    let reply = c.put_upload(&url, &data, Some(&hex_md5)).await;
    let msg = reply.expect_error(400, "MSS.00000003");
    assert!(msg.contains("Content-MD5"), "{msg}");
    assert_nothing_stored(&server, &file_id).await;
    assert_eq!(file_of(c, &asset_id, &file_id).await["state"], "CREATING");

    let put = c.put_upload(&url, &data, Some(&md5_b64(&data))).await;
    put.ok();
    assert_eq!(server.stored(&file_id).await.unwrap(), data);
    c.confirm(&file_id, "CREATED").await.ok();
    wait_asset_state(c, &asset_id, "ACTIVED").await;
}

// ---------------------------------------------------------------------------------------
// Confirmation states

#[tokio::test]
async fn confirm_created_before_the_put_is_refused() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let asset_id = new_asset(c, "IMAGE").await;
    let data = png(3, 3);
    let (file_id, url) = c.create_file(&asset_id, "a.png", "MAIN", &data).await;
    let msg = c
        .confirm(&file_id, "CREATED")
        .await
        .expect_error(400, "MSS.00000003")
        .to_owned();
    assert!(msg.contains("upload"), "{msg}");
    assert_eq!(file_of(c, &asset_id, &file_id).await["state"], "CREATING");
    assert_eq!(c.show(&asset_id).await["asset_state"], "CREATING");
    // The upload can still go ahead.
    c.put_upload(&url, &data, None).await.ok();
    c.confirm(&file_id, "CREATED").await.ok();
    wait_asset_state(c, &asset_id, "ACTIVED").await;
}

#[tokio::test]
async fn confirm_failed_fails_the_file_and_the_asset_with_a_reason() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let asset_id = new_asset(c, "IMAGE").await;
    let data = png(3, 3);
    let (file_id, url) = c.create_file(&asset_id, "a.png", "MAIN", &data).await;
    c.confirm(&file_id, "FAILED").await.ok();
    let shown = wait_asset_state(c, &asset_id, "FAILED").await;
    assert!(
        !shown["reason"].as_str().unwrap_or_default().is_empty(),
        "{shown}"
    );
    let file = file_of(c, &asset_id, &file_id).await;
    assert_eq!(file["state"], "FAILED");
    assert!(
        !file["reason"].as_str().unwrap_or_default().is_empty(),
        "{file}"
    );

    c.confirm(&file_id, "FAILED").await.ok();
    c.confirm(&file_id, "CREATED")
        .await
        .expect_error(400, "MSS.00000003");
    c.confirm(&file_id, "CANCELLED")
        .await
        .expect_error(400, "MSS.00000003");
    c.put_upload(&url, &data, None)
        .await
        .expect_error(400, "MSS.00000003");
    assert_nothing_stored(&server, &file_id).await;
}

#[tokio::test]
async fn confirm_cancelled_cancels_the_file_and_removes_its_blob() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let asset_id = new_asset(c, "IMAGE").await;
    let data = png(3, 3);
    let (file_id, url) = c.create_file(&asset_id, "a.png", "MAIN", &data).await;
    c.put_upload(&url, &data, None).await.ok();
    assert_eq!(server.stored(&file_id).await.unwrap(), data);
    let key = server.blob_key(&file_id).await.unwrap();

    c.confirm(&file_id, "CANCELLED").await.ok();
    let file = file_of(c, &asset_id, &file_id).await;
    assert_eq!(file["state"], "CANCELLED");
    assert!(file.get("download_url").is_none());
    assert_removed(&server, &key).await;
    assert_eq!(c.show(&asset_id).await["asset_state"], "CREATING");

    c.confirm(&file_id, "CANCELLED").await.ok();
    c.confirm(&file_id, "CREATED")
        .await
        .expect_error(400, "MSS.00000003");
    c.put_upload(&url, &data, None)
        .await
        .expect_error(400, "MSS.00000003");
    assert_nothing_stored(&server, &file_id).await;
}

#[tokio::test]
async fn confirm_accepts_only_the_states_a_client_may_report() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let asset_id = new_asset(c, "IMAGE").await;
    let data = png(3, 3);
    let (file_id, url) = c.create_file(&asset_id, "a.png", "MAIN", &data).await;
    c.put_upload(&url, &data, None).await.ok();
    for state in ["UPLOADED", "REVIEW", "DELETED", "BLOCK", "created", "BOGUS"] {
        let reply = c.confirm(&file_id, state).await;
        assert_eq!(reply.status, 400, "{state}: {}", reply.json);
        assert!(reply.code().starts_with("MSS."), "{state}: {}", reply.json);
    }
    c.post(&format!("/files/{file_id}/complete"), &json!({}))
        .await
        .expect_error(400, "MSS.00000003");
    assert_eq!(file_of(c, &asset_id, &file_id).await["state"], "CREATING");
}

#[tokio::test]
async fn confirm_or_delete_of_an_unknown_or_foreign_file_is_refused_with_mss_10001004() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let stranger = server.new_client(false).await;
    let (asset_id, file_id) = uploaded(c, "IMAGE", "a.png", &png(2, 2)).await;
    for id in ["no-such-file", file_id.as_str()] {
        stranger
            .confirm(id, "CANCELLED")
            .await
            .expect_error(404, "MSS.10001004");
        stranger
            .delete(&format!("/files/{id}"))
            .await
            .expect_error(404, "MSS.10001004");
    }
    assert_eq!(file_of(c, &asset_id, &file_id).await["state"], "CREATED");
    assert!(server.stored(&file_id).await.is_some());
}

#[tokio::test]
async fn delete_file_removes_it_and_sends_the_asset_back_to_creating() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let data = png(7, 7);
    let (asset_id, file_id) = uploaded(c, "IMAGE", "a.png", &data).await;
    let url = download_url(&file_of(c, &asset_id, &file_id).await);
    let key = server.blob_key(&file_id).await.unwrap();

    c.delete(&format!("/files/{file_id}")).await.ok();
    assert_no_files(&files_of(c, &asset_id).await);
    assert_removed(&server, &key).await;
    assert_eq!(c.show(&asset_id).await["asset_state"], "CREATING");
    c.fetch(&url, None).await.expect_error(404, "MSS.10001004");
    c.delete(&format!("/files/{file_id}"))
        .await
        .expect_error(404, "MSS.10001004");
    c.confirm(&file_id, "CREATED")
        .await
        .expect_error(404, "MSS.10001004");

    // A new main file can be uploaded.
    c.upload(&asset_id, "b.png", "MAIN", &data).await;
    wait_asset_state(c, &asset_id, "ACTIVED").await;
}

// ---------------------------------------------------------------------------------------
// Large files

#[tokio::test]
async fn large_file_parts_upload_resume_and_assemble() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let asset_id = new_asset(c, "VIDEO").await;
    let data = big_video();
    let cut = [0, 1024 * 1024 + 5, 2 * 1024 * 1024 + 9, data.len()];
    let created = c
        .post(
            "/large-files",
            &json!({"asset_id": asset_id, "file_name": "movie.MP4", "file_type": "MP4",
                    "file_size": data.len(), "asset_file_category": "MAIN",
                    "file_multipart_count": 3}),
        )
        .await;
    let json = created.ok();
    let file_id = json["file_id"].as_str().unwrap().to_owned();
    let urls: Vec<String> = json["upload_urls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(urls.len(), 3);
    for (i, url) in urls.iter().enumerate() {
        assert_eq!(param(url, "part"), (i + 1).to_string());
        assert_eq!(head(c, url).await.status, 404);
    }

    let part = |i: usize| &data[cut[i]..cut[i + 1]];
    c.put_upload(&urls[0], part(0), Some(&md5_b64(part(0))))
        .await
        .ok();
    // A part with a wrong Content-MD5 is refused and not stored.
    c.put_upload(&urls[1], part(1), Some(&md5_b64(part(0))))
        .await
        .expect_error(400, "MSS.10001010");
    // Resume: HEAD says which parts are there.
    let heads: Vec<u16> = futures::future::join_all(urls.iter().map(|u| head(c, u)))
        .await
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(heads, [200, 404, 404]);
    // A part larger than the whole declared file is refused and not stored.
    let oversized = [&data[..], b"x"].concat();
    c.put_upload(&urls[1], &oversized, None)
        .await
        .expect_error(400, "MSS.10001010");
    assert_eq!(head(c, &urls[1]).await.status, 404);
    let stored = head(c, &urls[0]).await;
    assert_eq!(
        stored.headers["content-length"].to_str().unwrap(),
        part(0).len().to_string()
    );
    let msg = c
        .confirm(&file_id, "CREATED")
        .await
        .expect_error(400, "MSS.00000003")
        .to_owned();
    assert!(msg.contains("part 2"), "{msg}");
    assert_eq!(c.show(&asset_id).await["asset_state"], "CREATING");

    // Parts may arrive in any order.
    c.put_upload(&urls[2], part(2), None).await.ok();
    c.put_upload(&urls[1], part(1), None).await.ok();
    c.confirm(&file_id, "CREATED").await.ok();
    wait_asset_state(c, &asset_id, "ACTIVED").await;
    let file = file_of(c, &asset_id, &file_id).await;
    assert_eq!(file["state"], "CREATED");
    assert_eq!(file["file_size"], data.len());
    assert_eq!(file["file_md5"], md5_b64(&data));
    assert_eq!(file["file_type"], "mp4");
    let got = c.fetch(&download_url(&file), None).await;
    assert!(
        got.status == 200 && got.bytes == data,
        "assembled bytes differ"
    );
    assert_no_parts(&server, &file_id).await;
    c.confirm(&file_id, "CREATED").await.ok();
    assert_eq!(server.stray_objects().await, Vec::<String>::new());
}

#[tokio::test]
async fn a_large_file_whose_parts_do_not_add_up_to_its_size_is_refused() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let asset_id = new_asset(c, "VIDEO").await;
    let data = mp4(4000);
    let created = c
        .post(
            "/large-files",
            &json!({"asset_id": asset_id, "file_name": "m.mp4", "file_type": "mp4",
                    "file_size": data.len() + 1, "asset_file_category": "MAIN",
                    "file_multipart_count": 2}),
        )
        .await;
    let file_id = created.ok()["file_id"].as_str().unwrap().to_owned();
    let urls = created.json["upload_urls"].as_array().unwrap().clone();
    c.put_upload(urls[0].as_str().unwrap(), &data[..2000], None)
        .await
        .ok();
    c.put_upload(urls[1].as_str().unwrap(), &data[2000..], None)
        .await
        .ok();
    c.confirm(&file_id, "CREATED")
        .await
        .expect_error(400, "MSS.10001010");
    assert_nothing_stored(&server, &file_id).await;
    assert_eq!(file_of(c, &asset_id, &file_id).await["state"], "CREATING");
    c.confirm(&file_id, "CANCELLED").await.ok();
    assert_no_parts(&server, &file_id).await;
}

#[tokio::test]
async fn large_files_accept_only_main_other_or_package_and_up_to_100_parts() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let asset_id = new_asset(c, "VIDEO").await;
    let body = |category: &str, parts: i64| {
        json!({"asset_id": asset_id, "file_name": "m.mp4", "file_type": "mp4",
               "asset_file_category": category, "file_multipart_count": parts})
    };
    for (category, parts) in [("COVER", 1), ("TEMPORARY", 1), ("MAIN", 0), ("MAIN", 101)] {
        c.post("/large-files", &body(category, parts))
            .await
            .expect_error(400, "MSS.00000003");
    }
    assert_no_files(&files_of(c, &asset_id).await);
    let reply = c.post("/large-files", &body("MAIN", 100)).await;
    assert_eq!(reply.ok()["upload_urls"].as_array().unwrap().len(), 100);
    let package = c.post("/large-files", &body("PACKAGE", 1)).await;
    assert_eq!(package.ok()["upload_urls"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_large_main_file_without_a_declared_size_still_obeys_its_type_limit() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let asset_id = new_asset(c, "IMAGE").await;
    let created = c
        .post(
            "/large-files",
            &json!({"asset_id": asset_id, "file_name": "huge.png", "file_type": "png",
                    "asset_file_category": "MAIN", "file_multipart_count": 2}),
        )
        .await;
    let file_id = created.ok()["file_id"].as_str().unwrap().to_owned();
    let urls = created.json["upload_urls"].as_array().unwrap().clone();
    let (first, second) = (urls[0].as_str().unwrap(), urls[1].as_str().unwrap());
    let limit = 52_428_800usize;
    let mut head_part = png(1, 1);
    head_part.resize(limit / 2, 0);
    let tail_part = vec![1u8; limit - head_part.len() + 1];
    c.put_upload(first, &head_part, None).await.ok();
    c.put_upload(second, &tail_part, None).await.ok();

    let msg = c
        .confirm(&file_id, "CREATED")
        .await
        .expect_error(400, "MSS.00000003")
        .to_owned();
    assert!(
        msg.contains("file_size") && msg.contains("52428800"),
        "{msg}"
    );
    assert_nothing_stored(&server, &file_id).await;
    assert_eq!(file_of(c, &asset_id, &file_id).await["state"], "CREATING");
    assert_eq!(c.show(&asset_id).await["asset_state"], "CREATING");

    // One byte less is exactly the limit: re-sending the part replaces it.
    c.put_upload(second, &tail_part[1..], None).await.ok();
    c.confirm(&file_id, "CREATED").await.ok();
    wait_asset_state(c, &asset_id, "ACTIVED").await;
    assert_eq!(file_of(c, &asset_id, &file_id).await["file_size"], limit);
}

// ---------------------------------------------------------------------------------------
// Downloads

#[tokio::test]
async fn a_non_ascii_file_name_is_served_with_an_encoded_content_disposition() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let data = png(2, 2);
    let (asset_id, file_id) = uploaded(c, "IMAGE", "头像 \"1\".png", &data).await;
    let file = file_of(c, &asset_id, &file_id).await;
    assert_eq!(file["file_name"], "头像 \"1\".png");
    let got = c.fetch(&download_url(&file), None).await;
    assert_eq!(got.bytes, data);
    let disposition = got.headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.contains("filename*=UTF-8''%E5%A4%B4%E5%83%8F%20%221%22%2Epng"),
        "{disposition}"
    );
    assert!(
        disposition.contains("filename=\"__ _1_.png\""),
        "{disposition}"
    );
}

#[tokio::test]
async fn downloads_serve_ranges_with_content_range() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let data = fixture(Media::Mp4);
    let (asset_id, file_id) = uploaded(c, "VIDEO", "Clip One.mp4", &data).await;
    let url = download_url(&file_of(c, &asset_id, &file_id).await);
    let total = data.len();
    assert!(total > 10_000, "{total} bytes");

    let whole = c.fetch(&url, None).await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.headers["accept-ranges"], "bytes");
    assert_eq!(whole.headers["content-length"], total.to_string().as_str());
    let disposition = whole.headers["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(
        disposition.contains("filename=\"Clip One.mp4\""),
        "{disposition}"
    );

    for (range, start, end) in [
        ("bytes=0-99".to_owned(), 0, 100),
        ("bytes=100-199".to_owned(), 100, 200),
        (format!("bytes={}-", total - 10), total - 10, total),
        ("bytes=-10".to_owned(), total - 10, total),
        (format!("bytes=-{}", total + 99_999), 0, total),
        (
            format!("bytes={}-{}", total - 1000, total + 99_999),
            total - 1000,
            total,
        ),
    ] {
        let range = range.as_str();
        let got = c.fetch(&url, Some(range)).await;
        assert_eq!(got.status, 206, "{range}");
        assert_eq!(got.bytes, &data[start..end], "{range}");
        assert_eq!(
            got.headers["content-range"],
            format!("bytes {start}-{}/{total}", end - 1).as_str(),
            "{range}"
        );
        assert_eq!(got.headers["content-type"], "video/mp4");
    }
    for range in [
        format!("bytes={total}-"),
        format!("bytes={}-{}", total + 5, total + 10),
        "bytes=-0".to_owned(),
    ] {
        let got = c.fetch(&url, Some(&range)).await;
        assert_eq!(got.status, 416, "{range}");
        assert_eq!(
            got.headers["content-range"],
            format!("bytes */{total}").as_str(),
            "{range}"
        );
    }
}

#[tokio::test]
async fn download_urls_in_show_and_list_serve_the_same_bytes() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let main = fixture(Media::Mp4);
    let cover = jpeg();
    let (asset_id, main_id) = uploaded(c, "VIDEO", "clip.mp4", &main).await;
    let cover_id = c.upload(&asset_id, "cover.jpg", "COVER", &cover).await;
    wait_file_state(c, &asset_id, &cover_id, "CREATED").await;

    let listed = c
        .get(&format!("/digital-assets?asset_id={asset_id}"))
        .await
        .ok()
        .clone();
    let listed_files = listed["assets"][0]["files"].as_array().unwrap().clone();
    let shown_files = files_of(c, &asset_id).await;
    for files in [listed_files, shown_files] {
        assert_eq!(files.len(), 2);
        for (id, data, content_type) in [
            (&main_id, &main, "video/mp4"),
            (&cover_id, &cover, "image/jpeg"),
        ] {
            let file = files.iter().find(|f| f["file_id"] == **id).unwrap();
            let url = download_url(file);
            assert!(param(&url, "signature").len() >= 32, "{url}");
            assert!(param(&url, "expires").parse::<i64>().is_ok(), "{url}");
            let got = c.fetch(&url, None).await;
            assert_eq!(got.status, 200);
            assert_eq!(&got.bytes, data);
            assert_eq!(got.headers["content-type"], content_type);
        }
    }
}

#[tokio::test]
async fn a_tampered_download_url_is_refused() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let (a, file_a) = uploaded(c, "IMAGE", "a.png", &png(2, 2)).await;
    let (_, file_b) = uploaded(c, "IMAGE", "b.png", &png(3, 3)).await;
    let url = download_url(&file_of(c, &a, &file_a).await);
    let expires: i64 = param(&url, "expires").parse().unwrap();
    for bad in [
        tampered_signature(&url),
        url.replace(&file_a, &file_b),
        with_param(&url, "expires", &(expires + 1).to_string()),
        with_param(&url, "signature", ""),
        url.split_once('?').unwrap().0.to_owned(),
    ] {
        let got = c.fetch(&bad, None).await;
        got.expect_error(403, "MSS.00010008");
        assert!(!got.bytes.starts_with(b"\x89PNG"));
    }
}

#[tokio::test]
async fn a_download_url_expires() {
    let server = TestServer::spawn_with(|config| config.download_url_ttl_secs = 1).await;
    let c = &server.client;
    let (asset_id, file_id) = uploaded(c, "IMAGE", "a.png", &png(2, 2)).await;
    let url = download_url(&file_of(c, &asset_id, &file_id).await);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let msg = c
        .fetch(&url, None)
        .await
        .expect_error(403, "MSS.00010008")
        .to_owned();
    assert!(msg.contains("expired"), "{msg}");
    // A fresh show hands out a fresh URL.
    let fresh = download_url(&file_of(c, &asset_id, &file_id).await);
    assert_eq!(c.fetch(&fresh, None).await.status, 200);
}

#[tokio::test]
async fn files_of_a_deleted_asset_are_not_downloadable() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let data = png(4, 4);
    let (asset_id, file_id) = uploaded(c, "IMAGE", "a.png", &data).await;
    let url = download_url(&file_of(c, &asset_id, &file_id).await);
    assert_eq!(c.fetch(&url, None).await.status, 200);

    c.delete(&format!("/digital-assets/{asset_id}")).await.ok();
    assert_eq!(c.show(&asset_id).await["asset_state"], "DELETING");
    let got = c.fetch(&url, None).await;
    got.expect_error(403, "MSS.00000006");
    assert!(got.bytes != data);
    c.fetch(&url, Some("bytes=0-3"))
        .await
        .expect_error(403, "MSS.00000006");
    let file = file_of(c, &asset_id, &file_id).await;
    assert!(file.get("download_url").is_none(), "{file}");

    // Restored, the same URL works again.
    c.post(&format!("/digital-assets/{asset_id}/restore"), &json!({}))
        .await
        .ok();
    assert_eq!(c.fetch(&url, None).await.bytes, data);

    c.delete(&format!("/digital-assets/{asset_id}?mode=force"))
        .await
        .ok();
    c.fetch(&url, None).await.expect_error(403, "MSS.00000006");
}

#[tokio::test]
async fn files_of_a_blocked_asset_are_not_downloadable() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let data = png(4, 4);
    let (asset_id, file_id) = uploaded(c, "IMAGE", "a.png", &data).await;
    let url = download_url(&file_of(c, &asset_id, &file_id).await);

    // No API blocks an asset yet; an administrator's freeze is a catalogue write.
    let mut asset = server.app.catalog.asset(&asset_id).await.unwrap().unwrap();
    asset.state_before_block = Some(asset.asset_state);
    asset.asset_state = AssetState::Block;
    server
        .app
        .catalog
        .apply(Write {
            assets: vec![asset],
            ..Write::default()
        })
        .await
        .unwrap();

    c.fetch(&url, None).await.expect_error(403, "MSS.00000006");
    let shown = c.show(&asset_id).await;
    assert_eq!(shown["asset_state"], "BLOCK");
    let file = file_of(c, &asset_id, &file_id).await;
    assert!(file.get("download_url").is_none(), "{file}");
    let refused = c
        .post(
            "/files",
            &file_body(&asset_id, "t.png", "TEMPORARY", 1, &md5_b64(b"x")),
        )
        .await;
    let msg = refused.expect_error(400, "MSS.00000003");
    assert!(msg.contains("BLOCK"), "{msg}");
    assert_eq!(files_of(c, &asset_id).await.len(), 1, "nothing stored");
}

// ---------------------------------------------------------------------------------------
// The sweeper

#[tokio::test]
async fn an_abandoned_upload_is_cancelled_by_the_sweeper() {
    let server = TestServer::spawn_with(|config| config.abandoned_upload_secs = 1).await;
    let c = &server.client;
    let asset_id = new_asset(c, "IMAGE").await;
    let data = png(3, 3);
    let (file_id, url) = c.create_file(&asset_id, "a.png", "MAIN", &data).await;

    let deadline = Instant::now() + Duration::from_secs(15);
    let file = loop {
        let file = file_of(c, &asset_id, &file_id).await;
        if file["state"] != "CREATING" {
            break file;
        }
        assert!(
            Instant::now() < deadline,
            "the upload is still CREATING after 15 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(file["state"], "CANCELLED");
    assert!(
        !file["reason"].as_str().unwrap_or_default().is_empty(),
        "{file}"
    );
    c.put_upload(&url, &data, None)
        .await
        .expect_error(400, "MSS.00000003");
    assert_nothing_stored(&server, &file_id).await;
    assert_eq!(c.show(&asset_id).await["asset_state"], "CREATING");
    // The asset can take a new main file.
    c.create_file(&asset_id, "b.png", "MAIN", &data).await;
}
