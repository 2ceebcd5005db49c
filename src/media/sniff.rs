//! Content sniffing: which container family the first bytes of a file belong to, and whether
//! that agrees with the declared file type. Uses the `infer` crate where its matchers cover a
//! whole family; ISO-BMFF, MPEG audio and PPTX are recognised by their structure here because
//! `infer` only knows some of their brands.

/// A container family recognisable from the first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// JPEG image.
    Jpeg,
    /// PNG image.
    Png,
    /// GIF image.
    Gif,
    /// Windows bitmap.
    Bmp,
    /// ISO base media (MP4, M4V, MOV, 3GP, M4A).
    IsoBmff,
    /// Matroska (MKV, WebM).
    Matroska,
    /// Flash video.
    Flv,
    /// RIFF AVI.
    Avi,
    /// ASF (WMV, WMA).
    Asf,
    /// RIFF WAVE.
    Wav,
    /// MPEG audio (MP3), with or without an ID3 tag.
    Mp3,
    /// PDF document.
    Pdf,
    /// OLE compound file (legacy PPT).
    Cfb,
    /// Office Open XML presentation (PPTX).
    Pptx,
}

impl Family {
    /// A short human name for reasons.
    pub fn name(self) -> &'static str {
        match self {
            Self::Jpeg => "JPEG",
            Self::Png => "PNG",
            Self::Gif => "GIF",
            Self::Bmp => "BMP",
            Self::IsoBmff => "MP4/MOV/3GP",
            Self::Matroska => "MKV/WebM",
            Self::Flv => "FLV",
            Self::Avi => "AVI",
            Self::Asf => "WMV/ASF",
            Self::Wav => "WAV",
            Self::Mp3 => "MP3",
            Self::Pdf => "PDF",
            Self::Cfb => "PPT (OLE)",
            Self::Pptx => "PPTX",
        }
    }

    /// The family a declared file type must have, if it is one we check.
    pub fn expected_for(file_type: &str) -> Option<Self> {
        Some(match file_type.to_ascii_lowercase().as_str() {
            "jpg" | "jpeg" => Self::Jpeg,
            "png" => Self::Png,
            "gif" => Self::Gif,
            "bmp" => Self::Bmp,
            "mp4" | "m4v" | "mov" | "3gp" | "m4a" => Self::IsoBmff,
            "mkv" | "webm" => Self::Matroska,
            "flv" => Self::Flv,
            "avi" => Self::Avi,
            "wmv" => Self::Asf,
            "wav" => Self::Wav,
            "mp3" => Self::Mp3,
            "pdf" => Self::Pdf,
            "ppt" => Self::Cfb,
            "pptx" => Self::Pptx,
            _ => return None,
        })
    }
}

/// How many leading bytes [`sniff`] wants to see.
pub const SNIFF_BYTES: usize = 64 * 1024;

fn is_iso_bmff(buf: &[u8]) -> bool {
    buf.len() >= 12
        && matches!(
            &buf[4..8],
            b"ftyp" | b"moov" | b"mdat" | b"free" | b"wide" | b"skip"
        )
}

/// An MPEG audio frame header: 11 sync bits, a valid version, layer and bitrate index.
fn is_mpeg_audio_frame(buf: &[u8]) -> bool {
    buf.len() >= 4
        && buf[0] == 0xFF
        && buf[1] & 0xE0 == 0xE0
        && (buf[1] >> 3) & 0x03 != 0x01
        && (buf[1] >> 1) & 0x03 != 0x00
        && (buf[2] >> 4) != 0x0F
        && (buf[2] >> 2) & 0x03 != 0x03
}

fn is_pptx(buf: &[u8]) -> bool {
    buf.starts_with(b"PK\x03\x04")
        && (infer::doc::is_pptx(buf) || buf.windows(4).any(|w| w == b"ppt/"))
}

/// The family of a file from its first bytes (pass up to [`SNIFF_BYTES`]).
pub fn sniff(buf: &[u8]) -> Option<Family> {
    let family = if infer::image::is_jpeg(buf) {
        Family::Jpeg
    } else if infer::image::is_png(buf) {
        Family::Png
    } else if infer::image::is_gif(buf) {
        Family::Gif
    } else if infer::image::is_bmp(buf) {
        Family::Bmp
    } else if infer::video::is_mkv(buf)
        || infer::video::is_webm(buf)
        || buf.starts_with(&[0x1A, 0x45, 0xDF, 0xA3])
    {
        Family::Matroska
    } else if infer::video::is_flv(buf) {
        Family::Flv
    } else if infer::video::is_avi(buf) {
        Family::Avi
    } else if infer::audio::is_wav(buf) {
        Family::Wav
    } else if infer::video::is_wmv(buf) {
        Family::Asf
    } else if infer::archive::is_pdf(buf) {
        Family::Pdf
    } else if infer::archive::is_msi(buf)
        || buf.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1])
    {
        Family::Cfb
    } else if is_pptx(buf) {
        Family::Pptx
    } else if is_iso_bmff(buf) {
        Family::IsoBmff
    } else if buf.starts_with(b"ID3") || is_mpeg_audio_frame(buf) {
        Family::Mp3
    } else {
        return None;
    };
    Some(family)
}

/// Checks that `head` (the file's first bytes) is what `file_type` promises. `Ok` also when
/// the type is not one we check. The error is a reason a person can act on.
pub fn check(file_type: &str, head: &[u8]) -> Result<(), String> {
    let Some(expected) = Family::expected_for(file_type) else {
        return Ok(());
    };
    match sniff(head) {
        Some(found) if found == expected => Ok(()),
        Some(found) => Err(format!(
            "content is {} but the file is declared as {}",
            found.name(),
            file_type.to_ascii_uppercase()
        )),
        None if head.is_empty() => Err("the file is empty".to_owned()),
        None => Err(format!(
            "content is not a recognisable {} file",
            file_type.to_ascii_uppercase()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_signatures_are_recognised() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0\0\x10JFIF\0"), Some(Family::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some(Family::Png));
        assert_eq!(sniff(b"GIF89a\x01\0\x01\0"), Some(Family::Gif));
        assert_eq!(
            sniff(b"\0\0\0\x20ftypisom\0\0\x02\0"),
            Some(Family::IsoBmff)
        );
        assert_eq!(sniff(b"\0\0\0\x14ftyp3gp4\0\0\0\0"), Some(Family::IsoBmff));
        assert_eq!(sniff(b"\0\0\0\x14ftypqt  \0\0\0\0"), Some(Family::IsoBmff));
        assert_eq!(
            sniff(b"\x1A\x45\xDF\xA3\x9f\x42\x86\x81"),
            Some(Family::Matroska)
        );
        assert_eq!(sniff(b"FLV\x01\x05\0\0\0\x09"), Some(Family::Flv));
        assert_eq!(sniff(b"RIFF\0\0\0\0AVI LIST"), Some(Family::Avi));
        assert_eq!(sniff(b"RIFF\0\0\0\0WAVEfmt "), Some(Family::Wav));
        assert_eq!(sniff(b"ID3\x04\0\0\0\0\0\0"), Some(Family::Mp3));
        assert_eq!(sniff(&[0xFF, 0xFB, 0x90, 0x64]), Some(Family::Mp3));
        assert_eq!(sniff(&[0xFF, 0xF3, 0x64, 0xC4]), Some(Family::Mp3));
        assert_eq!(sniff(b"%PDF-1.7\n"), Some(Family::Pdf));
        assert_eq!(
            sniff(b"PK\x03\x04\x14\0\0\0\0\0ppt/slides/slide1.xml"),
            Some(Family::Pptx)
        );
        assert_eq!(
            sniff(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0]),
            Some(Family::Cfb)
        );
        let asf = [
            0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11, 0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62,
            0xCE, 0x6C,
        ];
        assert_eq!(sniff(&asf), Some(Family::Asf));
    }

    #[test]
    fn text_named_png_is_refused_with_a_reason() {
        let err = check("png", b"hello, this is plain text").unwrap_err();
        assert!(err.contains("PNG"), "{err}");
        assert!(check("PNG", b"\x89PNG\r\n\x1a\n\0\0").is_ok());
        assert!(check("png", b"").is_err());
    }

    #[test]
    fn a_jpeg_declared_as_mp4_names_both_formats() {
        let err = check("mp4", b"\xFF\xD8\xFF\xE0\0\x10JFIF\0").unwrap_err();
        assert!(err.contains("JPEG") && err.contains("MP4"), "{err}");
    }

    #[test]
    fn plain_zip_is_not_a_presentation_and_unknown_types_are_not_checked() {
        assert!(check("pptx", b"PK\x03\x04\x14\0\0\0\0\0word/document.xml").is_err());
        assert!(check("bin", b"anything").is_ok());
    }
}
