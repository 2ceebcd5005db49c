//! Parser tests on recorded ffprobe output (`src/media/testdata/*.json`), a check that the
//! parser agrees with ffprobe on freshly generated files, and the lavfi fixtures shared with
//! the video tests.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::*;
use crate::media::runner::{available, JobDir, TOOL_PATH};

/// A media file generated with `ffmpeg -nostdin -v error -y <args> <file>`.
pub(crate) struct Fixture {
    /// Name of the recorded report, `testdata/<name>.json`.
    pub name: &'static str,
    /// Output file name; the extension picks the muxer.
    pub file: &'static str,
    /// ffmpeg arguments before the output, separated by spaces (none contains one).
    pub args: &'static str,
    /// Arguments of a second, stream-copy pass (`-i <first> -c copy <post> <file>`).
    pub post: &'static str,
    /// Keep only the first third of the file.
    pub truncate: bool,
}

const fn fixture(name: &'static str, file: &'static str, args: &'static str) -> Fixture {
    Fixture {
        name,
        file,
        args,
        post: "",
        truncate: false,
    }
}

/// Every container and codec family the API accepts, plus the awkward cases.
#[rustfmt::skip]
pub(crate) const FIXTURES: &[Fixture] = &[
    fixture("mp4_h264_aac", "in.mp4",
        "-f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine=frequency=440:sample_rate=44100 \
         -t 2 -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -b:a 96k"),
    fixture("mov_h264_aac", "in.mov",
        "-f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine=frequency=440:sample_rate=44100 \
         -t 2 -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac"),
    fixture("mkv_h264_vorbis", "in.mkv",
        "-f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine=frequency=440:sample_rate=44100 \
         -t 2 -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a libvorbis"),
    fixture("webm_vp8_vorbis", "in.webm",
        "-f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine=frequency=440:sample_rate=44100 \
         -t 2 -c:v libvpx -b:v 300k -c:a libvorbis"),
    fixture("webm_vp9_opus", "in.webm",
        "-f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine=frequency=440:sample_rate=48000 \
         -t 2 -c:v libvpx-vp9 -b:v 300k -deadline realtime -cpu-used 8 -c:a libopus"),
    fixture("flv_flv1_mp3", "in.flv",
        "-f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine=frequency=440:sample_rate=44100 \
         -t 2 -c:v flv -c:a libmp3lame"),
    fixture("avi_mpeg4_mp3", "in.avi",
        "-f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine=frequency=440:sample_rate=44100 \
         -t 2 -c:v mpeg4 -c:a libmp3lame"),
    fixture("3gp_h263_aac", "in.3gp",
        "-f lavfi -i testsrc2=size=176x144:rate=15 -f lavfi -i sine=frequency=440:sample_rate=8000 \
         -t 2 -c:v h263 -c:a aac -ac 1 -ar 8000"),
    fixture("wmv_wmv2_wmav2", "in.wmv",
        "-f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine=frequency=440:sample_rate=44100 \
         -t 2 -c:v wmv2 -c:a wmav2"),
    fixture("mp3", "in.mp3",
        "-f lavfi -i sine=frequency=440:sample_rate=44100 -t 2 -c:a libmp3lame -b:a 128k"),
    fixture("mp3_with_cover_art", "in.mp3",
        "-f lavfi -i sine=frequency=440:sample_rate=44100 -f lavfi -i testsrc2=size=64x64:rate=1 \
         -map 0:a -map 1:v -t 2 -c:a libmp3lame -c:v png -frames:v 1 -disposition:v:0 attached_pic"),
    fixture("wav_pcm", "in.wav",
        "-f lavfi -i sine=frequency=440:sample_rate=44100 -t 2 -c:a pcm_s16le -ac 2"),
    fixture("m4a_aac", "in.m4a",
        "-f lavfi -i sine=frequency=440:sample_rate=44100 -t 2 -c:a aac -b:a 128k"),
    fixture("image_png", "in.png", "-f lavfi -i testsrc2=size=640x480 -frames:v 1"),
    fixture("image_jpeg", "in.jpg", "-f lavfi -i testsrc2=size=640x480 -frames:v 1"),
    fixture("image_gif_animated", "in.gif", "-f lavfi -i testsrc2=size=320x240:rate=10 -t 1"),
    fixture("image_bmp_portrait", "in.bmp", "-f lavfi -i testsrc2=size=480x640 -frames:v 1"),
    fixture("portrait_h264_aac_29_97", "in.mp4",
        "-f lavfi -i testsrc2=size=720x1280:rate=30000/1001 \
         -f lavfi -i sine=frequency=440:sample_rate=44100 \
         -t 2 -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac"),
    Fixture {
        post: "-metadata:s:v:0 rotate=90",
        ..fixture("rotated_portrait_h264", "in.mp4",
            "-f lavfi -i testsrc2=size=640x360:rate=25 -f lavfi -i sine=frequency=440:sample_rate=44100 \
             -t 2 -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac")
    },
    Fixture {
        truncate: true,
        ..fixture("truncated_mp4", "in.mp4",
            "-f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine=frequency=440:sample_rate=44100 \
             -t 2 -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac")
    },
];

/// Whether ffmpeg and ffprobe are installed; prints why a test is skipped when not.
pub(crate) fn tools_installed() -> bool {
    let ok = available(Tool::Ffmpeg) && available(Tool::Ffprobe);
    if !ok {
        eprintln!("skipping: ffmpeg/ffprobe are not installed in {TOOL_PATH}");
    }
    ok
}

/// A fresh scratch directory for one test.
pub(crate) fn scratch() -> JobDir {
    JobDir::new(&std::env::temp_dir().join("assetd-media-tests")).unwrap()
}

/// Runs `ffmpeg -nostdin -v error -y <args> <dir>/<file>` and returns the output path.
/// `args` are separated by whitespace.
pub(crate) async fn ffmpeg_make(runner: &Runner, dir: &Path, file: &str, args: &str) -> PathBuf {
    let out = dir.join(file);
    let mut argv: Vec<&std::ffi::OsStr> = ["-nostdin", "-v", "error", "-y"]
        .into_iter()
        .chain(args.split_whitespace())
        .map(|a| a.as_ref())
        .collect();
    argv.push(out.as_os_str());
    runner
        .run(Tool::Ffmpeg, &argv, dir, Duration::from_secs(120))
        .await
        .unwrap_or_else(|e| panic!("generating {file}: {e}"));
    out
}

/// Generates `fixture` inside `dir`.
pub(crate) async fn make_fixture(runner: &Runner, dir: &Path, fixture: &Fixture) -> PathBuf {
    if fixture.post.is_empty() {
        let out = ffmpeg_make(runner, dir, fixture.file, fixture.args).await;
        if fixture.truncate {
            let bytes = std::fs::read(&out).unwrap();
            std::fs::write(&out, &bytes[..bytes.len() / 3]).unwrap();
        }
        return out;
    }
    let first_name = format!("first-{}", fixture.file);
    let first = ffmpeg_make(runner, dir, &first_name, fixture.args).await;
    let args = format!("-i {} -c copy {}", first.display(), fixture.post);
    let out = ffmpeg_make(runner, dir, fixture.file, &args).await;
    std::fs::remove_file(&first).unwrap();
    out
}

fn recorded(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/media/testdata")
        .join(format!("{name}.json"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parse_recorded(name: &str) -> Probe {
    parse_ffprobe(&recorded(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Regenerates `src/media/testdata` from [`FIXTURES`] with the installed ffmpeg:
/// `cargo test --lib media::probe::tests::regenerate_recorded_ffprobe_output -- --ignored`.
/// Paths in the reports are reduced to the file name.
#[tokio::test]
#[ignore = "rewrites src/media/testdata; run by hand after an ffmpeg upgrade"]
async fn regenerate_recorded_ffprobe_output() {
    assert!(tools_installed());
    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/media/testdata");
    std::fs::create_dir_all(&out_dir).unwrap();
    let runner = Runner::new(2);
    for fixture in FIXTURES {
        let job = scratch();
        let input = make_fixture(&runner, job.path(), fixture).await;
        let prefix = format!("{}/", job.path().display());
        let strip = |b: &[u8]| String::from_utf8_lossy(b).replace(&prefix, "");
        if fixture.truncate {
            // The runner keeps no stdout for failed runs; record all three parts here.
            let out = std::process::Command::new(Tool::Ffprobe.resolve().unwrap())
                .args([
                    "-v",
                    "error",
                    "-protocol_whitelist",
                    "file",
                    "-print_format",
                    "json",
                ])
                .args(["-show_format", "-show_streams"])
                .arg(&input)
                .output()
                .unwrap();
            let name = fixture.name;
            std::fs::write(out_dir.join(format!("{name}.json")), strip(&out.stdout)).unwrap();
            let stderr = format!("{}\n{}", out.status, strip(&out.stderr));
            std::fs::write(out_dir.join(format!("{name}.stderr.txt")), stderr).unwrap();
            continue;
        }
        let json = run_ffprobe(&runner, &input, job.path()).await.unwrap();
        std::fs::write(out_dir.join(format!("{}.json", fixture.name)), strip(&json)).unwrap();
    }
}

/// Reads the same values as the parser straight from ffprobe's JSON.
struct Independent<'a> {
    report: &'a Value,
}

impl<'a> Independent<'a> {
    fn format(&self, key: &str) -> Option<&'a str> {
        self.report["format"][key].as_str()
    }

    fn stream(&self, kind: &str) -> Option<&'a Value> {
        self.report["streams"].as_array()?.iter().find(|s| {
            s["codec_type"] == kind && s["disposition"]["attached_pic"].as_i64() != Some(1)
        })
    }

    fn num(v: &Value) -> Option<f64> {
        v.as_str()?.parse().ok()
    }

    fn rate(s: &Value) -> Option<f64> {
        ["avg_frame_rate", "r_frame_rate"].iter().find_map(|k| {
            let (n, d) = s[*k].as_str()?.split_once('/')?;
            let (n, d): (f64, f64) = (n.parse().ok()?, d.parse().ok()?);
            (n > 0.0 && d > 0.0).then(|| n / d)
        })
    }
}

#[tokio::test]
async fn parsed_values_agree_with_ffprobe_for_every_format() {
    if !tools_installed() {
        return;
    }
    let runner = Runner::new(2);
    let job = scratch();
    for fixture in FIXTURES {
        let name = fixture.name;
        let dir = job.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let input = make_fixture(&runner, &dir, fixture).await;
        if fixture.truncate {
            let err = probe(&runner, &input, &dir).await.unwrap_err();
            let ProbeError::Tool(ToolError::Failed { stderr_tail, .. }) = &err else {
                panic!("{name}: expected ffprobe to fail, got {err:?}");
            };
            assert!(stderr_tail.contains("moov atom not found"), "{stderr_tail}");
            assert!(err.is_permanent());
            continue;
        }
        let json = run_ffprobe(&runner, &input, &dir).await.unwrap();
        let p = parse_ffprobe(&json).unwrap_or_else(|e| panic!("{name}: {e}"));
        let report: Value = serde_json::from_slice(&json).unwrap();
        let ind = Independent { report: &report };

        assert_eq!(
            Some(p.format_name.as_str()),
            ind.format("format_name"),
            "{name}"
        );
        assert_eq!(
            p.duration_secs,
            ind.format("duration").and_then(|d| d.parse().ok()),
            "{name} duration"
        );
        assert_eq!(
            p.size_bytes,
            Some(std::fs::metadata(&input).unwrap().len()),
            "{name} size"
        );
        assert_eq!(
            p.bit_rate,
            ind.format("bit_rate").and_then(|b| b.parse().ok()),
            "{name} bit_rate"
        );

        match (&p.video, ind.stream("video")) {
            (None, None) => {}
            (Some(v), Some(s)) => {
                assert_eq!(s["codec_name"].as_str(), Some(v.codec.as_str()), "{name}");
                assert_eq!(s["width"].as_u64(), Some(u64::from(v.width)), "{name}");
                assert_eq!(s["height"].as_u64(), Some(u64::from(v.height)), "{name}");
                let fps = Independent::rate(s).unwrap();
                assert_eq!(v.fps, Some(fps), "{name} fps");
                let shown: f64 = v.frame_rate.as_deref().unwrap().parse().unwrap();
                assert!((shown - fps).abs() <= 0.005, "{name}: {shown} vs {fps}");
                assert_eq!(
                    v.bit_rate,
                    Independent::num(&s["bit_rate"]).map(|b| b as u64),
                    "{name} video bit_rate"
                );
                let rotation = s["side_data_list"][0]["rotation"].as_i64().unwrap_or(0);
                assert_eq!(i64::from(v.rotation), rotation.rem_euclid(360), "{name}");
                let meta = p.video_meta();
                let (w, h) = v.display_size();
                assert_eq!(meta.mode.unwrap() == Orientation::Vertical, w < h, "{name}");
                assert_eq!(meta.width, Some(w as i32), "{name}");
            }
            (ours, theirs) => panic!("{name}: video {ours:?} vs {theirs:?}"),
        }

        match (&p.audio, ind.stream("audio")) {
            (None, None) => {}
            (Some(a), Some(s)) => {
                assert_eq!(s["codec_name"].as_str(), Some(a.codec.as_str()), "{name}");
                assert_eq!(s["channels"].as_u64(), a.channels.map(u64::from), "{name}");
                assert_eq!(
                    Independent::num(&s["sample_rate"]),
                    a.sample_rate.map(f64::from),
                    "{name}"
                );
                assert_eq!(
                    a.bit_rate,
                    Independent::num(&s["bit_rate"]).map(|b| b as u64),
                    "{name} audio bit_rate"
                );
                let meta = p.audio_meta();
                assert_eq!(meta.sample, a.sample_rate.map(|s| s as i32), "{name}");
                let duration = ind.format("duration").and_then(|d| d.parse::<f64>().ok());
                assert_eq!(meta.duration, duration.map(|d| d.round() as i32), "{name}");
            }
            (ours, theirs) => panic!("{name}: audio {ours:?} vs {theirs:?}"),
        }
    }
}

#[test]
fn every_fixture_has_a_recorded_report() {
    for fixture in FIXTURES {
        let json = recorded(fixture.name);
        assert!(json.len() < 8 * 1024, "{} is not small", fixture.name);
        if !fixture.truncate {
            parse_recorded(fixture.name);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn video(
    codec: &str,
    (width, height): (i32, i32),
    frame_rate: &str,
    video_kbps: i32,
    duration: i32,
    audio: Option<(&str, i32, i32, i32)>,
    mode: Orientation,
) -> VideoAssetMeta {
    VideoAssetMeta {
        video_codec: Some(codec.to_owned()),
        width: Some(width),
        height: Some(height),
        frame_rate: Some(frame_rate.to_owned()),
        video_bit_rate: (video_kbps > 0).then_some(video_kbps),
        duration: Some(duration),
        audio_codec: audio.map(|a| a.0.to_owned()),
        audio_bit_rate: audio.map(|a| a.1).filter(|k| *k > 0),
        audio_channels: audio.map(|a| a.2),
        sample: audio.map(|a| a.3),
        mode: Some(mode),
        ..VideoAssetMeta::default()
    }
}

#[test]
fn recorded_videos_fill_every_video_field() {
    use Orientation::{Horizontal, Vertical};
    let cases = [
        (
            "mp4_h264_aac",
            video(
                "h264",
                (320, 240),
                "25",
                262,
                2,
                Some(("aac", 97, 1, 44100)),
                Horizontal,
            ),
        ),
        (
            "mov_h264_aac",
            video(
                "h264",
                (320, 240),
                "25",
                262,
                2,
                Some(("aac", 70, 1, 44100)),
                Horizontal,
            ),
        ),
        // Matroska has no per-stream bit rates: video gets the container's, audio none.
        (
            "mkv_h264_vorbis",
            video(
                "h264",
                (320, 240),
                "25",
                295,
                2,
                Some(("vorbis", 0, 1, 44100)),
                Horizontal,
            ),
        ),
        (
            "webm_vp8_vorbis",
            video(
                "vp8",
                (320, 240),
                "25",
                335,
                2,
                Some(("vorbis", 0, 1, 44100)),
                Horizontal,
            ),
        ),
        (
            "webm_vp9_opus",
            video(
                "vp9",
                (320, 240),
                "25",
                346,
                2,
                Some(("opus", 0, 1, 48000)),
                Horizontal,
            ),
        ),
        (
            "flv_flv1_mp3",
            video(
                "flv1",
                (320, 240),
                "25",
                200,
                2,
                Some(("mp3", 64, 1, 44100)),
                Horizontal,
            ),
        ),
        (
            "avi_mpeg4_mp3",
            video(
                "mpeg4",
                (320, 240),
                "25",
                480,
                2,
                Some(("mp3", 65, 1, 44100)),
                Horizontal,
            ),
        ),
        (
            "3gp_h263_aac",
            video(
                "h263",
                (176, 144),
                "15",
                421,
                2,
                Some(("aac", 27, 1, 8000)),
                Horizontal,
            ),
        ),
        // ASF: container 627560 bit/s minus audio 128000 bit/s.
        (
            "wmv_wmv2_wmav2",
            video(
                "wmv2",
                (320, 240),
                "25",
                500,
                2,
                Some(("wmav2", 128, 1, 44100)),
                Horizontal,
            ),
        ),
        (
            "portrait_h264_aac_29_97",
            video(
                "h264",
                (720, 1280),
                "29.97",
                2715,
                2,
                Some(("aac", 70, 1, 44100)),
                Vertical,
            ),
        ),
        // Coded 640x360 with a 90° display matrix: shown as 360x640.
        (
            "rotated_portrait_h264",
            video(
                "h264",
                (360, 640),
                "25",
                656,
                2,
                Some(("aac", 70, 1, 44100)),
                Vertical,
            ),
        ),
    ];
    for (name, expected) in cases {
        assert_eq!(parse_recorded(name).video_meta(), expected, "{name}");
    }
}

#[test]
fn recorded_audio_fills_every_audio_field() {
    let audio = |duration, codec: &str, kbps, channels, sample| AudioAssetMeta {
        duration: Some(duration),
        audio_codec: Some(codec.to_owned()),
        audio_bit_rate: Some(kbps),
        audio_channels: Some(channels),
        sample: Some(sample),
        error_info: None,
    };
    let cases = [
        ("mp3", audio(2, "mp3", 128, 1, 44100)),
        ("wav_pcm", audio(2, "pcm_s16le", 1411, 2, 44100)),
        ("m4a_aac", audio(2, "aac", 123, 1, 44100)),
        ("mp3_with_cover_art", audio(2, "mp3", 64, 1, 44100)),
    ];
    for (name, expected) in cases {
        let p = parse_recorded(name);
        assert_eq!(p.audio_meta(), expected, "{name}");
    }
}

#[test]
fn cover_art_in_an_mp3_is_not_a_video() {
    let p = parse_recorded("mp3_with_cover_art");
    assert_eq!(p.video, None);
    assert!(!p.is_web_standard(&WebLimits::default()));
}

#[test]
fn recorded_images_fill_every_image_field() {
    let image = |codec: &str, w, h, size, mode| ImageAssetMeta {
        codec: Some(codec.to_owned()),
        width: Some(w),
        height: Some(h),
        size: Some(size),
        mode: Some(mode),
        ..ImageAssetMeta::default()
    };
    use Orientation::{Horizontal, Vertical};
    let cases = [
        ("image_png", image("png", 640, 480, 39358, Horizontal)),
        ("image_jpeg", image("jpeg", 640, 480, 21739, Horizontal)),
        (
            "image_bmp_portrait",
            image("bmp", 480, 640, 921654, Vertical),
        ),
        (
            "image_gif_animated",
            ImageAssetMeta {
                frame_rate: Some("10".to_owned()),
                duration: Some(1),
                ..image("gif", 320, 240, 61730, Horizontal)
            },
        ),
    ];
    for (name, expected) in cases {
        assert_eq!(parse_recorded(name).image_meta(), expected, "{name}");
    }
}

#[test]
fn a_truncated_mp4_fails_in_ffprobe_with_a_reason_and_prints_an_empty_report() {
    let stderr = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src/media/testdata/truncated_mp4.stderr.txt"),
    )
    .unwrap();
    assert!(stderr.starts_with("exit status: 1\n"), "{stderr}");
    assert!(stderr.contains("moov atom not found"), "{stderr}");
    assert!(matches!(
        parse_ffprobe(&recorded("truncated_mp4")),
        Err(ProbeError::NoStreams)
    ));
    assert!(matches!(
        parse_ffprobe(b"not json"),
        Err(ProbeError::Json(_))
    ));
}

#[test]
fn only_h264_aac_in_a_plain_mp4_within_limits_is_web_standard() {
    let limits = WebLimits::default();
    for name in [
        "mp4_h264_aac",
        "portrait_h264_aac_29_97",
        "rotated_portrait_h264",
    ] {
        assert!(parse_recorded(name).is_web_standard(&limits), "{name}");
    }
    // MOV and 3GP share ffprobe's format name with MP4; the ftyp brand tells them apart.
    for name in [
        "mov_h264_aac",
        "3gp_h263_aac",
        "mkv_h264_vorbis",
        "webm_vp8_vorbis",
        "webm_vp9_opus",
        "flv_flv1_mp3",
        "avi_mpeg4_mp3",
        "wmv_wmv2_wmav2",
        "m4a_aac",
        "mp3",
        "image_png",
    ] {
        assert!(!parse_recorded(name).is_web_standard(&limits), "{name}");
    }

    let mp4 = parse_recorded("mp4_h264_aac");
    let small = WebLimits {
        max_width: 300,
        max_height: 300,
        max_fps: 60.0,
    };
    assert!(!mp4.is_web_standard(&small));
    let slow = WebLimits {
        max_fps: 24.0,
        ..limits
    };
    assert!(!mp4.is_web_standard(&slow));
    let ntsc = parse_recorded("portrait_h264_aac_29_97");
    let thirty = WebLimits {
        max_fps: 30.0,
        ..limits
    };
    assert!(ntsc.is_web_standard(&thirty));
    // A portrait video is measured against the limits turned on their side.
    let portrait_box = WebLimits {
        max_width: 1280,
        max_height: 720,
        max_fps: 60.0,
    };
    assert!(ntsc.is_web_standard(&portrait_box));

    let mut ten_bit = mp4.clone();
    ten_bit.video.as_mut().unwrap().pix_fmt = Some("yuv420p10le".to_owned());
    assert!(!ten_bit.is_web_standard(&limits));
    let mut silent = mp4;
    silent.audio = None;
    assert!(silent.is_web_standard(&limits));
}

#[test]
fn frame_rates_render_as_short_decimals() {
    assert_eq!(ratio("30000/1001").map(decimal).as_deref(), Some("29.97"));
    assert_eq!(ratio("24000/1001").map(decimal).as_deref(), Some("23.98"));
    assert_eq!(ratio("60000/1001").map(decimal).as_deref(), Some("59.94"));
    assert_eq!(ratio("25/1").map(decimal).as_deref(), Some("25"));
    assert_eq!(ratio("25/2").map(decimal).as_deref(), Some("12.5"));
    assert_eq!(ratio("30").map(decimal).as_deref(), Some("30"));
    assert_eq!(ratio("0/0"), None);
    assert_eq!(ratio("1/0"), None);
    assert_eq!(ratio("junk"), None);
}

#[test]
fn durations_round_to_the_nearest_second_and_clips_never_read_as_empty() {
    assert_eq!(whole_seconds(2.037551), 2);
    assert_eq!(whole_seconds(2.5), 3);
    assert_eq!(whole_seconds(2.49), 2);
    assert_eq!(whole_seconds(0.04), 1);
    assert_eq!(whole_seconds(0.0), 0);
    assert_eq!(whole_seconds(f64::NAN), 0);
    assert_eq!(whole_seconds(-3.0), 0);
    assert_eq!(whole_seconds(1e12), 86_400);
    assert_eq!(kbps(96_705), 97);
    assert_eq!(kbps(96_499), 96);
    assert_eq!(kbps(u64::MAX), i64::try_from(u64::MAX / 1000).unwrap());
}

#[test]
fn out_of_range_values_are_clamped_to_the_seed_ranges() {
    let p = Probe {
        format_name: "matroska,webm".to_owned(),
        duration_secs: Some(200_000.0),
        video: Some(VideoStream {
            codec: "a_codec_name_much_longer_than_thirty_two_characters".to_owned(),
            width: 16_384,
            height: 100,
            bit_rate: Some(u64::MAX),
            fps: Some(1000.0),
            frame_rate: Some("1000".to_owned()),
            ..VideoStream::default()
        }),
        audio: Some(AudioStream {
            codec: "pcm_f64le".to_owned(),
            bit_rate: Some(50_000_000),
            channels: Some(255),
            sample_rate: Some(384_000),
        }),
        ..Probe::default()
    };
    let meta = p.video_meta();
    assert_eq!(meta.width, Some(8196));
    assert_eq!(meta.duration, Some(86_400));
    assert_eq!(meta.video_bit_rate, Some(104_857_600));
    assert_eq!(meta.audio_bit_rate, Some(16_384));
    assert_eq!(meta.audio_channels, Some(100));
    assert_eq!(meta.sample, Some(100_000));
    assert_eq!(meta.video_codec.unwrap().chars().count(), 32);
}

#[test]
fn numbers_where_ffprobe_usually_prints_strings_and_n_a_are_tolerated() {
    let json = br#"{
        "streams": [{
            "codec_type": "video", "codec_name": "h264", "width": 1920, "height": 1080,
            "pix_fmt": "yuv420p", "avg_frame_rate": "0/0", "r_frame_rate": "24000/1001",
            "bit_rate": "N/A", "tags": {"BPS-eng": "4000000", "rotate": "270"}
        }, {
            "codec_type": "audio", "codec_name": "aac", "sample_rate": 48000, "channels": 6,
            "bit_rate": 384000
        }],
        "format": {"format_name": "matroska,webm", "duration": 12.6, "size": "123",
                   "bit_rate": "N/A", "tags": {"major_brand": 7}}
    }"#;
    let p = parse_ffprobe(json).unwrap();
    let v = p.video.as_ref().unwrap();
    assert_eq!(v.frame_rate.as_deref(), Some("23.98"));
    assert_eq!(v.bit_rate, Some(4_000_000));
    assert_eq!(v.rotation, 270);
    assert_eq!(v.display_size(), (1080, 1920));
    assert_eq!(p.duration_secs, Some(12.6));
    assert_eq!(p.bit_rate, None);
    assert_eq!(p.size_bytes, Some(123));
    let a = p.audio.as_ref().unwrap();
    assert_eq!(
        (a.sample_rate, a.bit_rate, a.channels),
        (Some(48000), Some(384000), Some(6))
    );
    assert_eq!(p.video_meta().duration, Some(13));
    assert_eq!(p.video_meta().mode, Some(Orientation::Vertical));
}

#[tokio::test]
async fn probe_refuses_anything_but_a_local_file() {
    let job = scratch();
    let runner = Runner::new(1);
    for input in ["relative.mp4", "http://example.com/a.mp4", "/dev/zero"] {
        let err = probe(&runner, Path::new(input), job.path())
            .await
            .unwrap_err();
        assert!(
            matches!(err, ProbeError::Tool(ToolError::NotLocalFile(_))),
            "{input}: {err:?}"
        );
    }
}

#[tokio::test]
async fn a_truncated_mp4_fails_to_probe_with_ffprobes_reason() {
    if !tools_installed() {
        return;
    }
    let job = scratch();
    let runner = Runner::new(1);
    let fixture = FIXTURES.iter().find(|f| f.truncate).unwrap();
    let input = make_fixture(&runner, job.path(), fixture).await;
    let err = probe(&runner, &input, job.path()).await.unwrap_err();
    let message = err.to_string();
    let ProbeError::Tool(ToolError::Failed {
        tool: Tool::Ffprobe,
        stderr_tail,
        ..
    }) = err
    else {
        panic!("expected ffprobe to fail, got {err:?}");
    };
    assert!(stderr_tail.contains("moov atom not found"), "{stderr_tail}");
    assert!(
        message.starts_with("ffprobe failed (exit status: 1): ") && message.contains("moov"),
        "{message}"
    );
}
