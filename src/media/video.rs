//! Video work through ffmpeg: picking a representative cover frame ([`extract_cover`]) and
//! transcoding to a browser-friendly H.264/AAC MP4 ([`transcode_web`]).
//!
//! Both read local files only (`-protocol_whitelist file`) and run through the bounded
//! [`Runner`].

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::probe::WebLimits;
use super::runner::{input_path_arg, output_path_arg, Runner, Tool, ToolError};

/// How long one cover-frame grab may take.
pub const COVER_TIMEOUT: Duration = Duration::from_secs(120);

/// Covers wider than this are scaled down, keeping the aspect ratio.
pub const COVER_MAX_WIDTH: u32 = 1920;

/// A frame whose average full-range luma (0–255) is below this counts as near-black.
pub const NEAR_BLACK_LUMA: f64 = 20.0;

/// JPEG quality for covers on ffmpeg's `-q:v` scale (2 best, 31 worst).
const COVER_QUALITY: u8 = 3;

/// Long and short side of the box a web transcode must fit in (turned for portrait video).
pub const WEB_MAX_SIZE: (u32, u32) = (1920, 1080);

/// Highest frame rate of a web transcode; faster inputs are reduced to it.
pub const WEB_MAX_FPS: u32 = 60;

/// H.264 constant rate factor of a web transcode.
const WEB_CRF: u8 = 23;

/// AAC bit rate of a web transcode.
const WEB_AUDIO_BIT_RATE: &str = "128k";

/// libx264 speed/size trade-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum X264Preset {
    VeryFast,
}

impl X264Preset {
    fn as_str(self) -> &'static str {
        match self {
            X264Preset::VeryFast => "veryfast",
        }
    }
}

/// Where to look for a cover, in seconds, best guess first.
///
/// Very short or unknown-length videos start at the first frame; longer ones skip intros and
/// fades at 10% (at least 1 s) and fall forward to 30% and 50% when that frame is black.
fn cover_seek_points(duration_secs: Option<f64>) -> Vec<f64> {
    match duration_secs.filter(|d| d.is_finite() && *d > 0.0) {
        None => vec![1.0, 0.0],
        Some(d) if d <= 2.0 => vec![0.0, d * 0.5],
        Some(d) => {
            let mut points = vec![(d * 0.1).max(1.0)];
            for later in [d * 0.3, d * 0.5] {
                if points.last().is_some_and(|p| later > *p) {
                    points.push(later);
                }
            }
            points
        }
    }
}

/// Writes a representative frame of `input` to `out` as JPEG (`out` must be an absolute
/// path ending in `.jpg`), no wider than [`COVER_MAX_WIDTH`].
///
/// The common case is one ffmpeg run: the frame at 10% of `duration_secs` (at least 1 s for
/// videos longer than 2 s; the first frame for very short ones), with its mean luma measured
/// in the same pass by `signalstats`. Only when that frame is near-black are later points
/// tried; if every point is dark, the brightest frame found is kept.
pub async fn extract_cover(
    runner: &Runner,
    input: &Path,
    duration_secs: Option<f64>,
    out: &Path,
    cwd: &Path,
) -> Result<(), ToolError> {
    let input = input_path_arg(input)?;
    output_path_arg(out)?;

    let mut tried = Vec::new();
    let mut points = cover_seek_points(duration_secs);
    let mut i = 0;
    while let Some(&at) = points.get(i) {
        let target = if i == 0 {
            out.to_owned()
        } else {
            sibling(out, i)
        };
        if let Some(luma) = grab_frame(runner, &input, at, &target, cwd).await? {
            if luma >= NEAR_BLACK_LUMA {
                return keep(&target, out, &tried).await;
            }
            tried.push((luma, target));
        } else if tried.is_empty() && i + 1 == points.len() && !points.contains(&0.0) {
            // Nothing decodes at the guessed points (the duration was wrong): try the start.
            points.push(0.0);
        }
        i += 1;
    }
    let Some((_, brightest)) = tried.iter().max_by(|a, b| a.0.total_cmp(&b.0)) else {
        return Err(ToolError::NoOutput {
            tool: Tool::Ffmpeg,
            what: "video frame",
        });
    };
    let brightest = brightest.clone();
    keep(&brightest, out, &tried).await
}

/// `cover.jpg` → `cover.try1.jpg`.
fn sibling(out: &Path, attempt: usize) -> PathBuf {
    let stem = out.file_stem().unwrap_or_default().to_string_lossy();
    out.with_file_name(format!("{stem}.try{attempt}.jpg"))
}

/// Moves `chosen` to `out` and removes the other attempts.
async fn keep(chosen: &Path, out: &Path, tried: &[(f64, PathBuf)]) -> Result<(), ToolError> {
    let io = |source| ToolError::Io {
        tool: Tool::Ffmpeg,
        source,
    };
    if chosen != out {
        tokio::fs::rename(chosen, out).await.map_err(io)?;
    }
    for (_, path) in tried {
        if path != out && path != chosen {
            let _ = tokio::fs::remove_file(path).await;
        }
    }
    Ok(())
}

/// Grabs the frame at `at` seconds into `target` and returns its mean luma, or `None` when
/// no frame decodes there (past the end).
async fn grab_frame(
    runner: &Runner,
    input: &OsString,
    at: f64,
    target: &Path,
    cwd: &Path,
) -> Result<Option<f64>, ToolError> {
    // The luma is measured on a 64×64 copy in a side branch, so the common case costs about
    // what a plain `-ss … -frames:v 1` grab does and the JPEG is byte-identical to one.
    let filters = format!(
        "scale=w='min(iw,{COVER_MAX_WIDTH})':h=-2,split[cover][probe];\
         [probe]scale=64:64,format=yuvj420p,signalstats,\
         metadata=mode=print:key=lavfi.signalstats.YAVG:file=-,nullsink;\
         [cover]null"
    );
    let args: Vec<OsString> = [
        "-nostdin",
        "-hide_banner",
        "-v",
        "error",
        "-protocol_whitelist",
        "file",
        "-ss",
        &format!("{at:.3}"),
        "-i",
    ]
    .into_iter()
    .map(OsString::from)
    .chain([input.clone()])
    .chain(
        [
            "-map",
            "0:V:0",
            "-frames:v",
            "1",
            "-vf",
            &filters,
            "-q:v",
            &COVER_QUALITY.to_string(),
            "-f",
            "image2",
            "-update",
            "1",
            "-y",
        ]
        .into_iter()
        .map(OsString::from),
    )
    .chain([target.as_os_str().to_owned()])
    .collect();
    let _ = tokio::fs::remove_file(target).await;
    let output = runner.run(Tool::Ffmpeg, &args, cwd, COVER_TIMEOUT).await?;
    let written = tokio::fs::metadata(target).await.is_ok_and(|m| m.len() > 0);
    if !written {
        return Ok(None);
    }
    // A frame was written; if its luma line is missing, treat it as bright enough.
    Ok(Some(parse_yavg(&output.stdout).unwrap_or(f64::MAX)))
}

/// The first `lavfi.signalstats.YAVG=` value printed by ffmpeg's `metadata` filter.
fn parse_yavg(stdout: &[u8]) -> Option<f64> {
    String::from_utf8_lossy(stdout)
        .lines()
        .find_map(|l| l.trim().strip_prefix("lavfi.signalstats.YAVG="))
        .and_then(|v| v.trim().parse().ok())
}

/// Transcodes `input` to a web-playable MP4 at `out` (an absolute path): H.264 (libx264
/// `veryfast`, CRF 23, 8-bit 4:2:0, even dimensions, at most 1920×1080 — 1080×1920 for
/// portrait — keeping the aspect ratio and never upscaling, at most 60 fps) and AAC 128 kbit/s,
/// with the index at the front (`+faststart`). Tighter `limits` shrink the box and the frame
/// rate further, so the rendition is itself within them. Takes the first video stream that is
/// not cover art and the first audio stream, if any. Reads local files only. A failed run may
/// leave a partial `out`; discard it with the job directory.
pub async fn transcode_web(
    runner: &Runner,
    input: &Path,
    out: &Path,
    limits: &WebLimits,
    cwd: &Path,
    timeout: Duration,
) -> Result<(), ToolError> {
    transcode(runner, input, out, limits, cwd, timeout, None).await
}

/// [`transcode_web`], with ffmpeg writing its `-progress` reports (`key=value` lines, a block
/// about twice a second) to `progress`; read them with [`read_progress`].
pub async fn transcode_web_reporting(
    runner: &Runner,
    input: &Path,
    out: &Path,
    limits: &WebLimits,
    cwd: &Path,
    timeout: Duration,
    progress: &Path,
) -> Result<(), ToolError> {
    let progress = output_path_arg(progress)?;
    transcode(runner, input, out, limits, cwd, timeout, Some(progress)).await
}

/// How far an ffmpeg run that reports with `-progress` has come.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TranscodeProgress {
    /// Output time written so far.
    pub out_time: Duration,
    /// ffmpeg said `progress=end`: it is done.
    pub ended: bool,
}

/// Parses the last report of an ffmpeg `-progress` file; `None` before the first report with
/// a known output time.
pub fn read_progress(text: &str) -> Option<TranscodeProgress> {
    let mut out_time_us = None;
    let mut ended = false;
    for line in text.lines() {
        match line.split_once('=') {
            Some(("out_time_us", v)) => {
                if let Ok(us) = v.trim().parse::<i64>() {
                    out_time_us = Some(us.max(0) as u64);
                }
            }
            Some(("progress", v)) => ended = v.trim() == "end",
            _ => {}
        }
    }
    out_time_us.map(|us| TranscodeProgress {
        out_time: Duration::from_micros(us),
        ended,
    })
}

async fn transcode(
    runner: &Runner,
    input: &Path,
    out: &Path,
    limits: &WebLimits,
    cwd: &Path,
    timeout: Duration,
    progress: Option<OsString>,
) -> Result<(), ToolError> {
    let input = input_path_arg(input)?;
    let out = output_path_arg(out)?;
    let long = WEB_MAX_SIZE
        .0
        .min(limits.max_width.max(limits.max_height))
        .max(2);
    let short = WEB_MAX_SIZE
        .1
        .min(limits.max_width.min(limits.max_height))
        .max(2);
    let fps = f64::from(WEB_MAX_FPS).min(limits.max_fps).max(1.0);
    // Quoted so the filter parser does not split the expressions at their commas.
    let scale = format!(
        "scale=w='if(gte(iw,ih),min(iw,{long}),min(iw,{short}))'\
         :h='if(gte(iw,ih),min(ih,{short}),min(ih,{long}))'\
         :force_original_aspect_ratio=decrease:force_divisible_by=2"
    );
    let args: Vec<OsString> = [
        "-nostdin",
        "-hide_banner",
        "-v",
        "error",
        "-protocol_whitelist",
        "file",
        "-i",
    ]
    .into_iter()
    .map(OsString::from)
    .chain([input])
    .chain(
        [
            "-map",
            "0:V:0",
            "-map",
            "0:a:0?",
            "-vf",
            &scale,
            "-c:v",
            "libx264",
            "-preset",
            X264Preset::VeryFast.as_str(),
            "-crf",
            &WEB_CRF.to_string(),
            "-pix_fmt",
            "yuv420p",
            "-fpsmax",
            &fps.to_string(),
            "-c:a",
            "aac",
            "-b:a",
            WEB_AUDIO_BIT_RATE,
            "-movflags",
            "+faststart",
            "-max_muxing_queue_size",
            "1024",
            "-f",
            "mp4",
            "-y",
        ]
        .into_iter()
        .map(OsString::from),
    )
    .chain([out])
    .collect();
    let args: Vec<OsString> = match progress {
        Some(path) => [OsString::from("-progress"), path]
            .into_iter()
            .chain(args)
            .collect(),
        None => args,
    };
    runner.run(Tool::Ffmpeg, &args, cwd, timeout).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::probe::tests::{ffmpeg_make, scratch, tools_installed};
    use crate::media::probe::{probe, WebLimits};

    /// Mean luma of an image, measured by a separate ffmpeg run.
    async fn luma_of(runner: &Runner, image: &Path, cwd: &Path) -> f64 {
        let args: Vec<OsString> = vec![
            "-nostdin".into(),
            "-v".into(),
            "error".into(),
            "-i".into(),
            image.as_os_str().into(),
            "-vf".into(),
            "format=yuvj420p,signalstats,metadata=mode=print:file=-".into(),
            "-f".into(),
            "null".into(),
            "-".into(),
        ];
        let out = runner
            .run(Tool::Ffmpeg, &args, cwd, Duration::from_secs(30))
            .await
            .unwrap();
        parse_yavg(&out.stdout).expect("signalstats printed YAVG")
    }

    async fn cover_of(input: &Path, dir: &Path) -> (PathBuf, f64, (u32, u32)) {
        let runner = Runner::new(2);
        let probed = probe(&runner, input, dir).await.unwrap();
        let out = dir.join("cover.jpg");
        extract_cover(&runner, input, probed.duration_secs, &out, dir)
            .await
            .unwrap();
        let cover = probe(&runner, &out, dir).await.unwrap();
        let v = cover.video.unwrap();
        assert_eq!(v.codec, "mjpeg");
        let luma = luma_of(&runner, &out, dir).await;
        (out, luma, (v.width, v.height))
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.contains(".try"))
            .collect()
    }

    const BLACK_THEN_PATTERN: &str = "-f lavfi -i color=black:size=320x240:rate=25:d=1 \
        -f lavfi -i testsrc2=size=320x240:rate=25:d=2 \
        -filter_complex [0:v][1:v]concat=n=2:v=1:a=0 -c:v libx264 -pix_fmt yuv420p";

    #[tokio::test]
    async fn a_video_whose_first_second_is_black_gets_a_non_black_cover() {
        if !tools_installed() {
            return;
        }
        let job = scratch();
        let runner = Runner::new(2);
        let input = ffmpeg_make(&runner, job.path(), "in.mp4", BLACK_THEN_PATTERN).await;

        // The control: the first frame really is black.
        let first = job.file("first.jpg");
        let luma = grab_frame(
            &runner,
            &input_path_arg(&input).unwrap(),
            0.0,
            &first,
            job.path(),
        )
        .await
        .unwrap()
        .unwrap();
        assert!(luma < NEAR_BLACK_LUMA, "first frame luma {luma}");

        let (_, luma, size) = cover_of(&input, job.path()).await;
        assert!(luma >= NEAR_BLACK_LUMA, "cover luma {luma}");
        assert_eq!(size, (320, 240));
        assert!(leftovers(job.path()).is_empty());
    }

    #[tokio::test]
    async fn a_black_frame_at_ten_percent_falls_forward_to_a_later_point() {
        if !tools_installed() {
            return;
        }
        let job = scratch();
        let runner = Runner::new(2);
        // 10 s: black until 5 s, so 10% (1 s) and 30% (3 s) are black and 50% is not.
        let args = "-f lavfi -i color=black:size=320x240:rate=25:d=5 \
            -f lavfi -i testsrc2=size=320x240:rate=25:d=5 \
            -filter_complex [0:v][1:v]concat=n=2:v=1:a=0 -c:v libx264 -pix_fmt yuv420p";
        let input = ffmpeg_make(&runner, job.path(), "in.mp4", args).await;
        let (_, luma, _) = cover_of(&input, job.path()).await;
        assert!(luma >= NEAR_BLACK_LUMA, "cover luma {luma}");
        assert!(
            leftovers(job.path()).is_empty(),
            "{:?}",
            leftovers(job.path())
        );
    }

    #[tokio::test]
    async fn an_all_black_video_still_gets_its_brightest_frame_as_cover() {
        if !tools_installed() {
            return;
        }
        let job = scratch();
        let runner = Runner::new(2);
        let args = "-f lavfi -i color=black:size=320x240:rate=25:d=4 -c:v libx264 -pix_fmt yuv420p";
        let input = ffmpeg_make(&runner, job.path(), "in.mp4", args).await;
        let (out, luma, _) = cover_of(&input, job.path()).await;
        assert!(out.exists());
        assert!(luma < NEAR_BLACK_LUMA);
        assert!(
            leftovers(job.path()).is_empty(),
            "{:?}",
            leftovers(job.path())
        );
    }

    #[tokio::test]
    async fn covers_are_at_most_1920_wide_and_very_short_videos_use_the_first_frame() {
        if !tools_installed() {
            return;
        }
        let job = scratch();
        let runner = Runner::new(2);
        let wide =
            "-f lavfi -i testsrc2=size=2560x1440:rate=25 -t 0.5 -c:v libx264 -pix_fmt yuv420p";
        let input = ffmpeg_make(&runner, job.path(), "wide.mp4", wide).await;
        let (_, _, size) = cover_of(&input, job.path()).await;
        assert_eq!(size, (1920, 1080));

        // A wrong (too long) duration still finds a frame by falling back to the start.
        let out = job.file("guess.jpg");
        extract_cover(&runner, &input, Some(600.0), &out, job.path())
            .await
            .unwrap();
        assert!(out.exists());
    }

    #[tokio::test]
    async fn an_audio_file_has_no_cover_frame() {
        if !tools_installed() {
            return;
        }
        let job = scratch();
        let runner = Runner::new(2);
        let args = "-f lavfi -i sine=sample_rate=44100 -t 2 -c:a aac";
        let input = ffmpeg_make(&runner, job.path(), "in.m4a", args).await;
        let err = extract_cover(&runner, &input, Some(2.0), &job.file("c.jpg"), job.path())
            .await
            .unwrap_err();
        // ffmpeg refuses the `0:V:0` map outright when there is no video stream at all.
        assert!(
            matches!(err, ToolError::Failed { .. } | ToolError::NoOutput { .. }),
            "{err:?}"
        );
        assert!(err.is_permanent());
    }

    #[tokio::test]
    async fn a_vp9_webm_transcodes_to_web_standard_h264_aac_mp4() {
        if !tools_installed() {
            return;
        }
        let job = scratch();
        let runner = Runner::new(2);
        let args = "-f lavfi -i testsrc2=size=320x240:rate=25 \
            -f lavfi -i sine=frequency=440:sample_rate=48000 -t 2 \
            -c:v libvpx-vp9 -b:v 300k -deadline realtime -cpu-used 8 -c:a libopus";
        let input = ffmpeg_make(&runner, job.path(), "in.webm", args).await;
        let out = job.file("web.mp4");
        transcode_web(
            &runner,
            &input,
            &out,
            &WebLimits::default(),
            job.path(),
            Duration::from_secs(120),
        )
        .await
        .unwrap();
        let p = probe(&runner, &out, job.path()).await.unwrap();
        let (v, a) = (p.video.as_ref().unwrap(), p.audio.as_ref().unwrap());
        assert_eq!((v.codec.as_str(), a.codec.as_str()), ("h264", "aac"));
        assert_eq!((v.width, v.height), (320, 240));
        assert_eq!(v.pix_fmt.as_deref(), Some("yuv420p"));
        assert_eq!(p.major_brand.as_deref(), Some("isom"));
        assert!(p.is_web_standard(&WebLimits::default()), "{p:?}");
        assert_eq!(p.video_meta().duration, Some(2));

        // +faststart: the movie header precedes the media data.
        let bytes = std::fs::read(&out).unwrap();
        let moov = bytes.windows(4).position(|w| w == b"moov").unwrap();
        let mdat = bytes.windows(4).position(|w| w == b"mdat").unwrap();
        assert!(moov < mdat);
    }

    #[tokio::test]
    async fn a_reporting_transcode_ends_with_a_final_report_at_the_full_duration() {
        if !tools_installed() {
            return;
        }
        let job = scratch();
        let runner = Runner::new(2);
        let args = "-f lavfi -i testsrc2=size=320x240:rate=25 -t 3 -c:v mpeg4";
        let input = ffmpeg_make(&runner, job.path(), "in.avi", args).await;
        let progress = job.file("progress.txt");
        transcode_web_reporting(
            &runner,
            &input,
            &job.file("web.mp4"),
            &WebLimits::default(),
            job.path(),
            Duration::from_secs(120),
            &progress,
        )
        .await
        .unwrap();
        let report = read_progress(&std::fs::read_to_string(&progress).unwrap()).unwrap();
        assert!(report.ended, "{report:?}");
        let secs = report.out_time.as_secs_f64();
        // The last frame starts one frame before the end; audio-less output ends there.
        assert!((2.5..=3.1).contains(&secs), "{report:?}");
    }

    #[test]
    fn progress_reports_are_read_from_the_last_block() {
        let text = "frame=10\nout_time_us=N/A\nprogress=continue\n\
                    frame=20\nout_time_us=1500000\nout_time=00:00:01.500000\nprogress=continue\n";
        let report = read_progress(text).unwrap();
        assert_eq!(report.out_time, Duration::from_millis(1500));
        assert!(!report.ended);
        assert_eq!(read_progress("frame=1\nout_time_us=N/A\n"), None);
        let done = read_progress(&format!("{text}out_time_us=2000000\nprogress=end\n")).unwrap();
        assert!(done.ended);
        assert_eq!(done.out_time, Duration::from_secs(2));
    }

    #[tokio::test]
    async fn transcodes_fit_the_box_for_their_orientation_with_even_sides() {
        if !tools_installed() {
            return;
        }
        let job = scratch();
        let runner = Runner::new(2);
        let cases = [
            ("2560x1440", (1920, 1080)),
            ("1080x1920", (1080, 1920)),
            ("1440x2560", (1080, 1920)),
            ("321x241", (320, 240)),
        ];
        for (size, expected) in cases {
            let args = format!(
                "-f lavfi -i testsrc2=size={size}:rate=120 -t 0.3 -c:v libx264 -pix_fmt yuv444p"
            );
            let input = ffmpeg_make(&runner, job.path(), &format!("{size}.mkv"), &args).await;
            let out = job.file(&format!("{size}.mp4"));
            transcode_web(
                &runner,
                &input,
                &out,
                &WebLimits::default(),
                job.path(),
                Duration::from_secs(120),
            )
            .await
            .unwrap();
            let p = probe(&runner, &out, job.path()).await.unwrap();
            let v = p.video.as_ref().unwrap();
            assert_eq!((v.width, v.height), expected, "{size}");
            assert_eq!(v.fps, Some(60.0), "{size}");
            assert_eq!(p.audio, None, "{size}");
            assert!(p.is_web_standard(&WebLimits::default()), "{size}: {p:?}");
        }
    }

    #[tokio::test]
    async fn a_transcode_past_its_timeout_is_killed() {
        if !tools_installed() {
            return;
        }
        let job = scratch();
        let runner = Runner::new(1);
        let args =
            "-f lavfi -i testsrc2=size=1280x720:rate=25 -t 20 -c:v libx264 -preset ultrafast";
        let input = ffmpeg_make(&runner, job.path(), "long.mp4", args).await;
        let err = transcode_web(
            &runner,
            &input,
            &job.file("web.mp4"),
            &WebLimits::default(),
            job.path(),
            Duration::from_millis(300),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, ToolError::TimedOut { .. }), "{err:?}");
    }

    #[test]
    fn cover_points_skip_intros_and_fall_forward() {
        assert_eq!(cover_seek_points(Some(1.5)), [0.0, 0.75]);
        assert_eq!(cover_seek_points(Some(3.0)), [1.0, 1.5]);
        assert_eq!(cover_seek_points(Some(100.0)), [10.0, 30.0, 50.0]);
        assert_eq!(cover_seek_points(None), [1.0, 0.0]);
        assert_eq!(cover_seek_points(Some(f64::NAN)), [1.0, 0.0]);
        assert_eq!(
            parse_yavg(b"frame:0 pts:0 pts_time:0\nlavfi.signalstats.YAVG=16.2\n"),
            Some(16.2)
        );
        assert_eq!(parse_yavg(b""), None);
    }
}
