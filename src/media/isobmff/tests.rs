//! The in-process parser against ffprobe on files generated with ffmpeg, and on hostile
//! input (truncated, corrupted and hand-made boxes).

use std::io::Cursor;
use std::path::Path;

use super::*;
use crate::media::probe::tests::{ffmpeg_make, scratch, tools_installed};
use crate::media::probe::{probe, probe_with_ffprobe};
use crate::media::runner::Runner;

const H264: &str = "-c:v libx264 -preset ultrafast -pix_fmt yuv420p";

/// A file made by `ffmpeg <args> <file>`, then `ffmpeg -i <it> -c copy <post> <file>` if
/// `post` is not empty.
struct Case {
    name: &'static str,
    file: &'static str,
    args: String,
    post: &'static str,
}

fn case(name: &'static str, file: &'static str, args: &str) -> Case {
    Case {
        name,
        file,
        args: args.to_owned(),
        post: "",
    }
}

fn av(size: &str, rate: &str, secs: u32, audio: &str) -> String {
    format!(
        "-f lavfi -i testsrc2=size={size}:rate={rate} -f lavfi -i sine=frequency=440:sample_rate=44100 \
         -t {secs} {H264} {audio}"
    )
}

async fn make(runner: &Runner, dir: &Path, case: &Case) -> std::path::PathBuf {
    if case.post.is_empty() {
        return ffmpeg_make(runner, dir, case.file, &case.args).await;
    }
    let first_name = format!("first-{}", case.file);
    let first = ffmpeg_make(runner, dir, &first_name, &case.args).await;
    let args = format!("-i {} -map 0 -c copy {}", first.display(), case.post);
    ffmpeg_make(runner, dir, case.file, &args).await
}

/// Files the parser must answer exactly as ffprobe does.
fn understood_cases() -> Vec<Case> {
    let aac = "-c:a aac";
    vec![
        case(
            "mp4_320x240_25",
            "a.mp4",
            &av("320x240", "25", 2, "-c:a aac -b:a 96k"),
        ),
        case(
            "mp4_1280x720_29_97",
            "a.mp4",
            &av("1280x720", "30000/1001", 3, aac),
        ),
        case(
            "mp4_portrait_23_976",
            "a.mp4",
            &av("720x1280", "24000/1001", 2, aac),
        ),
        case("mp4_60fps", "a.mp4", &av("640x360", "60", 2, aac)),
        case("mp4_12_5fps", "a.mp4", &av("320x240", "25/2", 2, aac)),
        case("mp4_cropped_322x242", "a.mp4", &av("322x242", "25", 1, aac)),
        case(
            "mp4_full_range",
            "a.mp4",
            "-f lavfi -i testsrc2=size=320x240:rate=25 -t 1 -c:v libx264 -preset ultrafast \
             -pix_fmt yuvj420p",
        ),
        case(
            "mp4_1080p_30_like_the_benchmark",
            "a.mp4",
            "-f lavfi -i testsrc2=size=1920x1080:rate=30:duration=3 \
             -f lavfi -i sine=frequency=440:sample_rate=48000:duration=3 \
             -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest",
        ),
        case(
            "mp4_audio_longer_than_video",
            "a.mp4",
            "-f lavfi -i testsrc2=size=320x240:rate=25:duration=1 \
             -f lavfi -i sine=sample_rate=44100:duration=2 \
             -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac",
        ),
        case(
            "mp4_baseline_no_b_frames",
            "a.mp4",
            &av("320x240", "25", 1, "-profile:v baseline -bf 0 -c:a aac"),
        ),
        case(
            "mp4_anamorphic_sar",
            "a.mp4",
            &av("352x288", "25", 1, "-vf setsar=12/11 -c:a aac"),
        ),
        case(
            "mp4_no_audio",
            "a.mp4",
            &format!("-f lavfi -i testsrc2=size=640x480:rate=25 -t 2 {H264}"),
        ),
        case(
            "mp4_stereo_48k_and_5_1",
            "a.mp4",
            "-f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine=sample_rate=48000 \
             -t 2 -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -ac 6",
        ),
        case(
            "mp4_faststart",
            "a.mp4",
            &format!("{} -movflags +faststart", av("320x240", "25", 2, aac)),
        ),
        Case {
            post: "-metadata:s:v:0 rotate=90",
            ..case("mp4_rotated_90", "a.mp4", &av("640x360", "25", 1, aac))
        },
        Case {
            post: "-metadata:s:v:0 rotate=180",
            ..case("mp4_rotated_180", "a.mp4", &av("640x360", "25", 1, aac))
        },
        Case {
            post: "-metadata:s:v:0 rotate=270",
            ..case("mp4_rotated_270", "a.mp4", &av("640x360", "25", 1, aac))
        },
        case("mov_h264_aac", "a.mov", &av("320x240", "25", 2, aac)),
        case(
            "3gp_h263_aac",
            "a.3gp",
            "-f lavfi -i testsrc2=size=176x144:rate=15 -f lavfi -i sine=sample_rate=8000 \
             -t 2 -c:v h263 -c:a aac -ac 1 -ar 8000",
        ),
        case(
            "m4v_mpeg4_aac",
            "a.m4v",
            "-f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine=sample_rate=22050 \
             -t 2 -c:v mpeg4 -c:a aac",
        ),
        case(
            "m4a_aac",
            "a.m4a",
            "-f lavfi -i sine=frequency=440:sample_rate=44100 -t 2 -c:a aac -b:a 128k",
        ),
        case(
            "mp4_hevc_8bit",
            "a.mp4",
            "-f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine -t 1 -c:v libx265 \
             -preset ultrafast -x265-params log-level=error -tag:v hvc1 -c:a aac",
        ),
        case(
            "mp4_hevc_10bit",
            "a.mp4",
            "-f lavfi -i testsrc2=size=320x240:rate=25 -t 1 -c:v libx265 -preset ultrafast \
             -x265-params log-level=error -pix_fmt yuv420p10le",
        ),
    ]
}

/// Files the parser must decline, leaving them to ffprobe.
fn declined_cases() -> Vec<Case> {
    vec![
        case(
            "mp4_fragmented",
            "a.mp4",
            &format!(
                "{} -movflags frag_keyframe+empty_moov",
                av("320x240", "25", 2, "-c:a aac")
            ),
        ),
        case(
            "mp4_h264_10bit",
            "a.mp4",
            "-f lavfi -i testsrc2=size=320x240:rate=25 -t 1 -c:v libx264 -preset ultrafast \
             -pix_fmt yuv420p10le",
        ),
        case(
            "mov_alac",
            "a.mov",
            "-f lavfi -i sine=sample_rate=44100 -t 1 -c:a alac",
        ),
        case(
            "mp4_two_video_tracks",
            "a.mp4",
            &format!(
                "-f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i testsrc2=size=160x120:rate=25 \
                 -map 0 -map 1 -t 1 {H264}"
            ),
        ),
        case(
            "mp4_delayed_audio_has_an_empty_edit",
            "a.mp4",
            &format!(
                "-f lavfi -i testsrc2=size=320x240:rate=25 -itsoffset 0.5 -f lavfi -i sine \
                 -t 2 {H264} -c:a aac"
            ),
        ),
        case(
            "mp4_mp3_audio",
            "a.mp4",
            "-f lavfi -i sine=sample_rate=44100 -t 1 -c:a libmp3lame",
        ),
    ]
}

#[tokio::test]
async fn in_process_probe_agrees_with_ffprobe_field_by_field() {
    if !tools_installed() {
        return;
    }
    let runner = Runner::new(4);
    let job = scratch();
    let mut disagreements = Vec::new();
    for case in understood_cases() {
        let dir = job.path().join(case.name);
        std::fs::create_dir_all(&dir).unwrap();
        let input = make(&runner, &dir, &case).await;
        let theirs = probe_with_ffprobe(&runner, &input, &dir).await.unwrap();
        match probe_file(&input) {
            Ok(ours) if ours == theirs => {}
            ours => disagreements.push(format!(
                "{}:\n ours {ours:?}\n ffprobe {theirs:?}",
                case.name
            )),
        }
        assert_eq!(probe(&runner, &input, &dir).await.unwrap(), theirs);
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

#[tokio::test]
async fn files_outside_the_model_are_declined_and_probed_by_ffprobe() {
    if !tools_installed() {
        return;
    }
    let runner = Runner::new(4);
    let job = scratch();
    for case in declined_cases() {
        let dir = job.path().join(case.name);
        std::fs::create_dir_all(&dir).unwrap();
        let input = make(&runner, &dir, &case).await;
        let declined = probe_file(&input);
        assert!(declined.is_err(), "{}: {declined:?}", case.name);
        let theirs = probe_with_ffprobe(&runner, &input, &dir).await.unwrap();
        assert_eq!(
            probe(&runner, &input, &dir).await.unwrap(),
            theirs,
            "{}",
            case.name
        );
    }
}

/// A box: 32-bit size, type, payload.
fn bx(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(payload.len() + 8)
        .unwrap()
        .to_be_bytes()
        .to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(payload);
    out
}

fn parsed(bytes: &[u8]) -> Parsed<Probe> {
    parse(&mut Cursor::new(bytes))
}

#[test]
fn malformed_top_level_boxes_are_declined() {
    let ftyp = bx(b"ftyp", b"isom\0\0\x02\0isomiso2");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("shorter than a header", b"\0\0\0\x08fty".to_vec()),
        ("only ftyp", ftyp.clone()),
        (
            "size below the header",
            [&ftyp[..], b"\0\0\0\x04moov"].concat(),
        ),
        (
            "size beyond the file",
            [&ftyp[..], b"\xff\xff\xff\xffmoov\0\0\0\0"].concat(),
        ),
        (
            "64-bit size beyond the file",
            [&ftyp[..], b"\0\0\0\x01moov\xff\xff\xff\xff\xff\xff\xff\xff"].concat(),
        ),
        (
            "64-bit size below its header",
            [&ftyp[..], b"\0\0\0\x01moov\0\0\0\0\0\0\0\x08"].concat(),
        ),
        (
            "moov without mvhd",
            [ftyp.clone(), bx(b"moov", &[])].concat(),
        ),
        (
            "fragmented",
            [ftyp.clone(), bx(b"moof", &[]), bx(b"moov", &[])].concat(),
        ),
        (
            "truncated mvhd",
            [ftyp.clone(), bx(b"moov", &bx(b"mvhd", &[0; 10]))].concat(),
        ),
    ];
    for (name, bytes) in cases {
        assert!(parsed(&bytes).is_err(), "{name}");
    }
}

#[test]
fn box_nesting_and_counts_are_capped() {
    let mut mvhd = vec![0u8; 100];
    mvhd[12..16].copy_from_slice(&1000u32.to_be_bytes());
    mvhd[16..20].copy_from_slice(&1000u32.to_be_bytes());
    let mut nested = bx(b"stbl", &[]);
    for _ in 0..2000 {
        nested = bx(b"mdia", &nested);
    }
    let deep = [bx(b"mvhd", &mvhd), bx(b"trak", &nested)].concat();
    assert_eq!(
        parsed(&bx(b"moov", &deep)),
        Err(Declined("boxes nest too deeply"))
    );

    let many_tracks: Vec<u8> = std::iter::once(bx(b"mvhd", &mvhd))
        .chain((0..=MAX_TRACKS).map(|_| bx(b"trak", &[])))
        .flatten()
        .collect();
    assert_eq!(
        parsed(&bx(b"moov", &many_tracks)),
        Err(Declined("too many tracks"))
    );

    let many_boxes: Vec<u8> = (0..=MAX_BOXES).flat_map(|_| bx(b"free", &[])).collect();
    assert_eq!(
        parsed(&bx(b"moov", &many_boxes)),
        Err(Declined("too many boxes"))
    );

    // A table that claims four billion entries in a few bytes ends at the payload's end.
    let stts = bx(b"stts", &[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1]);
    let trak = bx(b"trak", &bx(b"mdia", &bx(b"minf", &bx(b"stbl", &stts))));
    let moov = bx(b"moov", &[bx(b"mvhd", &mvhd), trak].concat());
    assert!(parsed(&moov).is_err());
}

#[test]
fn hostile_exp_golomb_and_descriptor_lengths_are_declined() {
    assert!(parse_sps(&[0x64, 0, 0, 0, 0, 0, 0, 0]).is_err());
    assert!(parse_sps(&[]).is_err());
    assert!(parse_avcc(&[1, 0x64, 0, 0x1f, 0xff, 0xe1, 0xff, 0xff, 0x67]).is_err());
    assert!(parse_esds(&[0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0x7f]).is_err());
    assert!(parse_aac_config(&[]).is_err());
    // HE-AAC (object type 5) changes the output rate; left to ffprobe.
    assert!(parse_aac_config(&[0x2b, 0x92, 0x08, 0x00]).is_err());
    // AAC-LC, 44.1 kHz, mono, with ffmpeg's "no SBR" sync extension.
    assert_eq!(
        parse_aac_config(&[0x12, 0x08, 0x56, 0xe5, 0x00]),
        Ok((1, 44100))
    );
}

/// Every truncation of the movie header and every single-byte corruption of it must end in
/// an answer or a decline, never a panic; cutting into `moov` always declines.
#[tokio::test]
async fn truncated_and_corrupted_files_never_panic() {
    if !tools_installed() {
        return;
    }
    let runner = Runner::new(2);
    let job = scratch();
    for (name, extra) in [("end.mp4", ""), ("start.mp4", "-movflags +faststart")] {
        let args = format!("{} {extra}", av("160x120", "25", 1, "-c:a aac"));
        let input = ffmpeg_make(&runner, job.path(), name, &args).await;
        let bytes = std::fs::read(&input).unwrap();
        assert!(parsed(&bytes).is_ok(), "{name}");
        let moov_at = bytes.windows(4).position(|w| w == b"moov").unwrap() - 4;
        let moov_len = u32::from_be_bytes(bytes[moov_at..moov_at + 4].try_into().unwrap()) as usize;
        let moov = moov_at..moov_at + moov_len;

        for cut in moov.clone() {
            assert!(parsed(&bytes[..cut]).is_err(), "{name} cut at {cut}");
        }
        for cut in (0..bytes.len()).step_by(97) {
            let _ = parsed(&bytes[..cut]);
        }
        let mut corrupt = bytes.clone();
        for at in moov {
            let original = corrupt[at];
            for value in [0x00, 0xff, original.wrapping_add(1), original ^ 0x80] {
                corrupt[at] = value;
                let _ = parsed(&corrupt);
            }
            corrupt[at] = original;
        }
    }
}

/// Compares the parser with ffprobe on any local file:
/// `ISOBMFF_FILE=/abs/movie.mp4 cargo test --lib compare_a_local_file_with_ffprobe -- --ignored`.
#[tokio::test]
#[ignore = "needs ISOBMFF_FILE"]
async fn compare_a_local_file_with_ffprobe() {
    let input = std::path::PathBuf::from(std::env::var("ISOBMFF_FILE").unwrap());
    let job = scratch();
    let theirs = probe_with_ffprobe(&Runner::new(1), &input, job.path())
        .await
        .unwrap();
    match probe_file(&input) {
        Ok(ours) => assert_eq!(ours, theirs),
        Err(declined) => eprintln!("{declined}; ffprobe says {theirs:?}"),
    }
}

/// A fast-start file keeps its whole `moov` when cut short: every cut into the sample data
/// must decline (so nothing reports the duration the header promises), not only cuts before
/// the last chunk starts.
#[tokio::test]
async fn a_fast_start_file_cut_inside_its_sample_data_declines() {
    if !tools_installed() {
        return;
    }
    let runner = Runner::new(2);
    let job = scratch();
    let args = format!(
        "{} -movflags +faststart",
        av("160x120", "25", 2, "-c:a aac")
    );
    let input = ffmpeg_make(&runner, job.path(), "fast.mp4", &args).await;
    let bytes = std::fs::read(&input).unwrap();
    assert!(parsed(&bytes).is_ok());
    let mdat = bytes.windows(4).position(|w| w == b"mdat").unwrap() + 4;
    for cut in (mdat..bytes.len()).step_by(53).chain([bytes.len() - 1]) {
        assert!(
            parsed(&bytes[..cut]).is_err(),
            "cut at {cut} of {}",
            bytes.len()
        );
    }
}
