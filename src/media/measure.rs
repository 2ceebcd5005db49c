//! What a media file really holds, as opposed to what its header says: headers can lie (a WAV
//! whose sizes and byte rate claim 1 s over 10 s of samples) or outlive the data (a fast-start
//! MP4 cut short keeps its whole `moov`). [`present_duration`] demuxes every packet of one
//! stream with ffmpeg (no decoding, so it costs about a read of the file) and returns where
//! the last one ends; [`wav_pcm_duration`] counts the PCM bytes a WAV file actually holds.

use std::ffi::OsString;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::Duration;

use super::runner::{input_path_arg, Runner, Tool, ToolError};

/// Which stream [`present_duration`] measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// The first video stream.
    Video,
    /// The first audio stream.
    Audio,
}

/// How far the packets of the first `kind` stream of `input` reach, in seconds: ffmpeg reads
/// them all (`-c copy` into the null muxer) and reports the end through `-progress`. `None`
/// when ffmpeg reported no time at all.
pub async fn present_duration(
    runner: &Runner,
    input: &Path,
    kind: StreamKind,
    cwd: &Path,
    timeout: Duration,
) -> Result<Option<f64>, ToolError> {
    let map = match kind {
        StreamKind::Video => "0:v:0",
        StreamKind::Audio => "0:a:0",
    };
    let mut args: Vec<OsString> = [
        "-nostdin",
        "-v",
        "error",
        "-nostats",
        "-protocol_whitelist",
        "file",
        "-i",
    ]
    .into_iter()
    .map(OsString::from)
    .collect();
    args.push(input_path_arg(input)?);
    args.extend(
        [
            "-map",
            map,
            "-c",
            "copy",
            "-f",
            "null",
            "-progress",
            "pipe:1",
            "-",
        ]
        .into_iter()
        .map(OsString::from),
    );
    let out = runner.run(Tool::Ffmpeg, &args, cwd, timeout).await?;
    Ok(last_out_time(&String::from_utf8_lossy(&out.stdout)))
}

/// The last `out_time_us` of ffmpeg's `-progress` report, in seconds.
fn last_out_time(progress: &str) -> Option<f64> {
    progress
        .lines()
        .rev()
        .filter_map(|l| l.strip_prefix("out_time_us="))
        .filter_map(|v| v.trim().parse::<i64>().ok())
        .find(|us| *us >= 0)
        .map(|us| us as f64 / 1e6)
}

/// Whether `present` seconds of data fall short of the `declared` duration by more than
/// packet and frame rounding explains (2 s or a tenth, whichever is more).
pub fn falls_short(present: f64, declared: f64) -> bool {
    present + (declared / 10.0).max(2.0) < declared
}

/// The duration of a PCM WAV file computed from the sample bytes it holds, ignoring its byte
/// rate and believing its data size only when the bytes after the data chunk are chunks.
/// `None` when the file is not a WAV with integer or float PCM (others go to ffmpeg).
pub fn wav_pcm_duration(path: &Path) -> std::io::Result<Option<f64>> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let mut riff = [0u8; 12];
    if file.read_exact(&mut riff).is_err() || &riff[..4] != b"RIFF" || &riff[8..] != b"WAVE" {
        return Ok(None);
    }
    let mut pos = 12u64;
    let mut format: Option<(u16, u16, u32, u16)> = None;
    let mut chunks = 0;
    while pos + 8 <= len && chunks < 1024 {
        chunks += 1;
        file.seek(SeekFrom::Start(pos))?;
        let mut head = [0u8; 8];
        file.read_exact(&mut head)?;
        let size = u64::from(u32::from_le_bytes([head[4], head[5], head[6], head[7]]));
        let body = pos + 8;
        match &head[..4] {
            b"fmt " => {
                let mut fmt = [0u8; 16];
                if size < 16 || file.read_exact(&mut fmt).is_err() {
                    return Ok(None);
                }
                let tag = u16::from_le_bytes([fmt[0], fmt[1]]);
                let channels = u16::from_le_bytes([fmt[2], fmt[3]]);
                let rate = u32::from_le_bytes([fmt[4], fmt[5], fmt[6], fmt[7]]);
                let bits = u16::from_le_bytes([fmt[14], fmt[15]]);
                format = Some((tag, channels, rate, bits));
            }
            b"data" => {
                let Some((tag, channels, rate, bits)) = format else {
                    return Ok(None);
                };
                // 1: integer PCM, 3: float PCM, 0xFFFE: extensible (PCM in practice).
                if !matches!(tag, 1 | 3 | 0xFFFE) || channels == 0 || rate == 0 || bits == 0 {
                    return Ok(None);
                }
                let frame = u64::from(channels) * u64::from(bits).div_ceil(8);
                let to_end = len - body;
                let declared_end = body.saturating_add(size).saturating_add(size & 1);
                let bytes = if size <= to_end && only_chunks_from(&mut file, declared_end, len)? {
                    size
                } else {
                    to_end
                };
                return Ok(Some((bytes / frame) as f64 / f64::from(rate)));
            }
            _ => {}
        }
        pos = body.saturating_add(size).saturating_add(size & 1);
    }
    Ok(None)
}

/// Whether the bytes from `pos` to `len` are well-formed RIFF chunks (as `LIST` or `id3 `
/// chunks after the samples are), rather than more samples behind a data size that lies.
fn only_chunks_from(file: &mut std::fs::File, mut pos: u64, len: u64) -> std::io::Result<bool> {
    for _ in 0..1024 {
        if pos >= len {
            return Ok(true);
        }
        if len - pos < 8 {
            return Ok(false);
        }
        file.seek(SeekFrom::Start(pos))?;
        let mut head = [0u8; 8];
        file.read_exact(&mut head)?;
        let id_ok = head[..4]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b' ');
        let size = u64::from(u32::from_le_bytes([head[4], head[5], head[6], head[7]]));
        if !id_ok || size > len - pos - 8 {
            return Ok(false);
        }
        pos += 8 + size + (size & 1);
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 16-bit stereo 44.1 kHz WAV with `seconds` of silence and the given header values.
    fn wav(seconds: u32, data_size: u32, byte_rate: u32, trailer: &[u8]) -> Vec<u8> {
        let mut out = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
        out.extend_from_slice(&16u32.to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&44_100u32.to_le_bytes());
        out.extend_from_slice(&byte_rate.to_le_bytes());
        out.extend_from_slice(&4u16.to_le_bytes());
        out.extend_from_slice(&16u16.to_le_bytes());
        out.extend_from_slice(b"data");
        out.extend_from_slice(&data_size.to_le_bytes());
        out.extend(std::iter::repeat_n(0u8, 44_100 * 4 * seconds as usize));
        out.extend_from_slice(trailer);
        let riff = (out.len() - 8) as u32;
        out[4..8].copy_from_slice(&riff.to_le_bytes());
        out
    }

    fn duration_of(data: &[u8]) -> Option<f64> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.wav");
        std::fs::write(&path, data).unwrap();
        wav_pcm_duration(&path).unwrap()
    }

    const SECOND: u32 = 44_100 * 4;

    #[test]
    fn an_honest_wav_lasts_what_its_samples_last() {
        assert_eq!(duration_of(&wav(3, 3 * SECOND, SECOND, b"")), Some(3.0));
        let list = b"LIST\x04\0\0\0INFO";
        assert_eq!(duration_of(&wav(3, 3 * SECOND, SECOND, list)), Some(3.0));
    }

    #[test]
    fn a_wav_whose_header_lies_lasts_what_its_samples_last() {
        // Sizes and byte rate claim one second; ten seconds of samples follow.
        assert_eq!(duration_of(&wav(10, SECOND, 10 * SECOND, b"")), Some(10.0));
        // A data size far past the end of the file, and a byte rate claiming hours.
        assert_eq!(duration_of(&wav(2, u32::MAX - 1, 11, b"")), Some(2.0));
    }

    #[test]
    fn other_files_are_left_to_ffmpeg() {
        assert_eq!(duration_of(b"ID3\x04 not a wav at all"), None);
        let mut adpcm = wav(1, SECOND, SECOND, b"");
        adpcm[20] = 2; // format tag 2: MS ADPCM
        assert_eq!(duration_of(&adpcm), None);
    }

    #[test]
    fn progress_reports_are_read_to_their_last_time() {
        let report = "frame=1\nout_time_us=500000\nprogress=continue\nout_time_us=N/A\n\
                      out_time_us=3720078\nprogress=end\n";
        assert_eq!(last_out_time(report), Some(3.720078));
        assert_eq!(last_out_time("progress=end\n"), None);
        assert!(falls_short(3.7, 10.0));
        assert!(!falls_short(9.88, 10.0));
        assert!(!falls_short(1.9, 2.0));
        assert!(falls_short(80.0, 100.0));
    }
}
