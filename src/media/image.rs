//! Still images (JPEG, PNG, GIF, BMP), handled in-process without starting a tool:
//!
//! - [`read_header`] reads the codec and the stored dimensions from the header only;
//! - [`image_meta`] turns them into the seed's `ImageAssetMeta`;
//! - [`check_pixels`] refuses decompression bombs before any pixel is decoded;
//! - [`thumbnail`] makes a small JPEG, using DCT-domain shrink-on-load for JPEG sources.
//!
//! Codec names are ffprobe's `codec_name` with `mjpeg` reported as `jpeg` (`jpeg`, `png`,
//! `gif`, `bmp`), exactly as `probe::Probe::image_meta` reports them, so an image's `codec`
//! does not depend on which path extracted it. [`read_header`] gives the stored dimensions;
//! an image whose EXIF orientation turns it by 90° ([`exif_swaps_sides`]) is reported at its
//! displayed size and mode, as its thumbnail is drawn and as videos report rotation.
//!
//! Everything here is blocking and CPU-bound: call it from `spawn_blocking`. Decoders are
//! safe Rust; a panic inside one is caught and returned as [`ImageError::DecoderPanicked`].

use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::metadata::Orientation as ExifOrientation;
use image::{DynamicImage, GrayImage, ImageDecoder, ImageReader, Limits, RgbImage};

use crate::error::Code;
use crate::model::enums::Orientation;
use crate::model::meta::ImageAssetMeta;

/// Default cap on `width × height` for [`check_pixels`] and [`thumbnail`]: 100 megapixels.
pub const DEFAULT_MAX_PIXELS: u64 = 100_000_000;

/// The largest width or height `ImageAssetMeta` can carry (seed table 15: 0~8196).
pub const MAX_META_SIDE: u32 = 8196;

/// JPEG quality of thumbnails.
pub const THUMBNAIL_QUALITY: u8 = 80;

/// What an image header says, read without decoding any pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageHeader {
    /// `jpeg`, `png`, `gif` or `bmp` (ffprobe's names, with its `mjpeg` as `jpeg`).
    pub codec: &'static str,
    /// Stored width in pixels (before any EXIF rotation).
    pub width: u32,
    /// Stored height in pixels (before any EXIF rotation).
    pub height: u32,
}

impl ImageHeader {
    /// `width × height`.
    pub fn pixels(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }

    /// The same header with width and height swapped.
    pub fn transposed(self) -> Self {
        Self {
            width: self.height,
            height: self.width,
            ..self
        }
    }
}

/// Whether the image at `path` is displayed with its sides swapped: its EXIF orientation
/// (5–8) turns it by 90° or 270°, as a phone photo taken upright is. Reads metadata only;
/// an image without readable EXIF is displayed as stored.
pub fn exif_swaps_sides(path: &Path) -> bool {
    let orientation = catch_unwind(AssertUnwindSafe(|| {
        let mut decoder = ImageReader::open(path)
            .ok()?
            .with_guessed_format()
            .ok()?
            .into_decoder()
            .ok()?;
        decoder.orientation().ok()
    }));
    matches!(
        orientation,
        Ok(Some(
            ExifOrientation::Rotate90
                | ExifOrientation::Rotate270
                | ExifOrientation::Rotate90FlipH
                | ExifOrientation::Rotate270FlipH
        ))
    )
}

/// Why an image could not be read or thumbnailed.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The file could not be opened or read.
    #[error("could not read the image file: {0}")]
    Io(#[from] std::io::Error),
    /// The bytes are not one of the supported formats.
    #[error("not a JPEG, PNG, GIF or BMP image")]
    Unsupported,
    /// The header is truncated or inconsistent.
    #[error(
        "the image header is damaged or truncated ({0}); re-export the image and upload it again"
    )]
    BadHeader(String),
    /// The header claims more pixels than allowed; nothing was decoded.
    #[error(
        "the image claims {width}×{height} pixels ({pixels} in all), more than the {max} allowed; \
         scale it down before uploading"
    )]
    TooManyPixels {
        /// Claimed width.
        width: u32,
        /// Claimed height.
        height: u32,
        /// `width × height`.
        pixels: u64,
        /// The configured cap.
        max: u64,
    },
    /// The pixel data is damaged or uses a feature the decoder does not support.
    #[error("the image data could not be decoded ({0}); re-export the image and upload it again")]
    Decode(String),
    /// A decoder panicked on this input; the panic was contained.
    #[error(
        "the image decoder crashed on this file ({0}); re-export the image and upload it again"
    )]
    DecoderPanicked(String),
    /// The thumbnail could not be encoded.
    #[error("the thumbnail could not be encoded: {0}")]
    Encode(String),
}

impl ImageError {
    /// Problems with the uploaded content are the caller's; reading and encoding are ours.
    pub fn code(&self) -> Code {
        match self {
            Self::Io(_) | Self::Encode(_) => Code::Internal,
            _ => Code::InvalidParameter,
        }
    }

    /// Whether retrying cannot help: the content itself is at fault.
    pub fn is_permanent(&self) -> bool {
        self.code() != Code::Internal
    }
}

/// Reads the codec and dimensions from the header of the image at `path`. Only the header
/// bytes are read (for JPEG, the markers up to the first frame header); no pixel is decoded.
pub fn read_header(path: &Path) -> Result<ImageHeader, ImageError> {
    read_header_from(BufReader::new(File::open(path)?))
}

fn read_header_from<R: Read + Seek>(reader: R) -> Result<ImageHeader, ImageError> {
    let mut reader = BufReader::new(reader);
    let ty = imagesize::reader_type(&mut reader).map_err(header_error)?;
    let codec = match ty {
        imagesize::ImageType::Jpeg => "jpeg",
        imagesize::ImageType::Png => "png",
        imagesize::ImageType::Gif => "gif",
        imagesize::ImageType::Bmp => "bmp",
        _ => return Err(ImageError::Unsupported),
    };
    reader.rewind()?;
    let size = imagesize::reader_size(&mut reader).map_err(header_error)?;
    let side = |v: usize, what: &str| {
        u32::try_from(v)
            .ok()
            .filter(|v| *v > 0)
            .ok_or_else(|| ImageError::BadHeader(format!("{what} {v} is not a usable size")))
    };
    Ok(ImageHeader {
        codec,
        width: side(size.width, "width")?,
        height: side(size.height, "height")?,
    })
}

fn header_error(e: imagesize::ImageError) -> ImageError {
    match e {
        imagesize::ImageError::NotSupported => ImageError::Unsupported,
        imagesize::ImageError::CorruptedImage => ImageError::BadHeader("corrupt header".into()),
        imagesize::ImageError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            ImageError::BadHeader("file ends inside the header".into())
        }
        imagesize::ImageError::IoError(e) => ImageError::Io(e),
    }
}

/// The `image_meta` of an image with this header and file size. Width and height above
/// [`MAX_META_SIDE`] cannot be represented on the wire and are clamped to it (the image is
/// kept; only the reported number saturates). `mode` is `Horizontal` when width ≥ height,
/// judged on the real dimensions.
pub fn image_meta(header: &ImageHeader, size_bytes: u64) -> ImageAssetMeta {
    let clamp = |v: u32| i32::try_from(v.min(MAX_META_SIDE)).unwrap_or(i32::MAX);
    ImageAssetMeta {
        codec: Some(header.codec.to_owned()),
        width: Some(clamp(header.width)),
        height: Some(clamp(header.height)),
        size: Some(i64::try_from(size_bytes).unwrap_or(i64::MAX)),
        mode: Some(if header.width >= header.height {
            Orientation::Horizontal
        } else {
            Orientation::Vertical
        }),
        ..Default::default()
    }
}

/// Refuses an image whose header claims more than `max_pixels` pixels, before decoding it.
pub fn check_pixels(header: &ImageHeader, max_pixels: u64) -> Result<(), ImageError> {
    let pixels = header.pixels();
    if pixels > max_pixels {
        return Err(ImageError::TooManyPixels {
            width: header.width,
            height: header.height,
            pixels,
            max: max_pixels,
        });
    }
    Ok(())
}

/// A JPEG (quality [`THUMBNAIL_QUALITY`]) of the image at `path` fitting in a
/// `max_side × max_side` box, aspect kept, never enlarged, EXIF orientation applied.
///
/// JPEG sources are shrunk while decoding (DCT scaling by 1/2, 1/4 or 1/8 to the smallest size
/// not below the target), so a 12 MP photo is never expanded to full size; other formats are
/// decoded whole. Then a box shrink to within 2× of the target and a Lanczos3 reduce finish
/// the job. Images over `max_pixels` are refused from their header. Blocking and CPU-bound.
pub fn thumbnail(path: &Path, max_side: u32, max_pixels: u64) -> Result<Vec<u8>, ImageError> {
    // The header parser runs inside the guard too: nothing here may take the process down.
    catch_unwind(AssertUnwindSafe(|| {
        let header = read_header(path)?;
        check_pixels(&header, max_pixels)?;
        let max_side = max_side.max(1);
        let (img, orientation) = if header.codec == "jpeg" {
            match decode_jpeg_scaled(path, &header, max_side, max_pixels)? {
                Some(decoded) => decoded,
                None => decode_any(path, max_pixels)?,
            }
        } else {
            decode_any(path, max_pixels)?
        };
        let mut img = fit(img, max_side);
        img.apply_orientation(orientation);
        encode_jpeg(&img)
    }))
    .unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        Err(ImageError::DecoderPanicked(what))
    })
}

/// The size of `(w, h)` scaled to fit in `max_side`, at least 1×1; unchanged if it fits.
fn fit_size(w: u32, h: u32, max_side: u32) -> (u32, u32) {
    let long = w.max(h);
    if long <= max_side {
        return (w, h);
    }
    let scale = |v: u32| {
        let scaled = (u64::from(v) * u64::from(max_side) + u64::from(long) / 2) / u64::from(long);
        u32::try_from(scaled).unwrap_or(max_side).max(1)
    };
    (scale(w), scale(h))
}

/// Decodes a baseline or progressive JPEG at the smallest DCT scale not below the target.
/// `None` when the colour space is one the fast path leaves to the general decoder (CMYK,
/// 16-bit grey).
fn decode_jpeg_scaled(
    path: &Path,
    header: &ImageHeader,
    max_side: u32,
    max_pixels: u64,
) -> Result<Option<(DynamicImage, ExifOrientation)>, ImageError> {
    let mut decoder = jpeg_decoder::Decoder::new(BufReader::new(File::open(path)?));
    decoder.set_max_decoding_buffer_size(alloc_cap(max_pixels));
    decoder.read_info().map_err(jpeg_error)?;
    let Some(info) = decoder.info() else {
        return Ok(None);
    };
    if !matches!(
        info.pixel_format,
        jpeg_decoder::PixelFormat::L8 | jpeg_decoder::PixelFormat::RGB24
    ) {
        return Ok(None);
    }
    let (tw, th) = fit_size(header.width, header.height, max_side);
    let request = |v: u32| u16::try_from(v).unwrap_or(u16::MAX);
    let (w, h) = decoder
        .scale(request(tw), request(th))
        .map_err(jpeg_error)?;
    let pixels = decoder.decode().map_err(jpeg_error)?;
    let (w, h) = (u32::from(w), u32::from(h));
    let bad_size = || ImageError::Decode("decoder returned a buffer of the wrong size".into());
    let img = match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 => {
            DynamicImage::ImageLuma8(GrayImage::from_raw(w, h, pixels).ok_or_else(bad_size)?)
        }
        _ => DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, pixels).ok_or_else(bad_size)?),
    };
    let orientation = decoder
        .exif_data()
        .and_then(ExifOrientation::from_exif_chunk)
        .unwrap_or(ExifOrientation::NoTransforms);
    Ok(Some((img, orientation)))
}

fn jpeg_error(e: jpeg_decoder::Error) -> ImageError {
    match e {
        jpeg_decoder::Error::Io(e) if e.kind() != std::io::ErrorKind::UnexpectedEof => {
            ImageError::Io(e)
        }
        other => ImageError::Decode(other.to_string()),
    }
}

/// Decodes any supported format whole (first frame of a GIF), within the pixel cap.
fn decode_any(path: &Path, max_pixels: u64) -> Result<(DynamicImage, ExifOrientation), ImageError> {
    let mut reader = ImageReader::open(path)?.with_guessed_format()?;
    let mut limits = Limits::default();
    limits.max_alloc = Some(u64::try_from(alloc_cap(max_pixels)).unwrap_or(u64::MAX));
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    let orientation = decoder
        .orientation()
        .unwrap_or(ExifOrientation::NoTransforms);
    let img = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    Ok((img, orientation))
}

fn decode_error(e: image::ImageError) -> ImageError {
    match e {
        image::ImageError::IoError(e) if e.kind() != std::io::ErrorKind::UnexpectedEof => {
            ImageError::Io(e)
        }
        image::ImageError::Unsupported(u) => ImageError::Decode(u.to_string()),
        other => ImageError::Decode(other.to_string()),
    }
}

/// Bytes a decoder may allocate: the pixel cap at 4 bytes per pixel (RGBA 8-bit), plus slack
/// for its working buffers.
fn alloc_cap(max_pixels: u64) -> usize {
    let bytes = max_pixels.saturating_mul(4).saturating_add(64 << 20);
    usize::try_from(bytes).unwrap_or(usize::MAX)
}

/// Shrinks `img` to fit in `max_side`: a box (area-average) shrink while more than 2× too
/// big, then Lanczos3 for the last step, like vips's shrink + reduce.
fn fit(img: DynamicImage, max_side: u32) -> DynamicImage {
    let (w, h) = (img.width(), img.height());
    let (tw, th) = fit_size(w, h, max_side);
    if (tw, th) == (w, h) {
        return img;
    }
    let img = if w >= tw * 2 && h >= th * 2 {
        img.thumbnail_exact(tw * 2, th * 2)
    } else {
        img
    };
    img.resize_exact(tw, th, FilterType::Lanczos3)
}

fn encode_jpeg(img: &DynamicImage) -> Result<Vec<u8>, ImageError> {
    // JPEG has no alpha and the encoder takes 8-bit grey or RGB only.
    let img = match img {
        DynamicImage::ImageLuma8(_) | DynamicImage::ImageRgb8(_) => img.clone(),
        DynamicImage::ImageLuma16(_) | DynamicImage::ImageLumaA8(_) => {
            DynamicImage::ImageLuma8(img.to_luma8())
        }
        _ => DynamicImage::ImageRgb8(img.to_rgb8()),
    };
    let mut out = Cursor::new(Vec::new());
    JpegEncoder::new_with_quality(&mut out, THUMBNAIL_QUALITY)
        .encode_image(&img)
        .map_err(|e| ImageError::Encode(e.to_string()))?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = dir.join(name);
        File::create(&path).unwrap().write_all(bytes).unwrap();
        path
    }

    fn encoded(img: &DynamicImage, format: image::ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    fn gradient(w: u32, h: u32) -> DynamicImage {
        DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
        }))
    }

    /// A PNG signature and IHDR chunk (with a correct CRC) claiming `w × h`, then IEND: no
    /// pixel data at all.
    fn png_claiming(w: u32, h: u32) -> Vec<u8> {
        fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
            out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
            let start = out.len();
            out.extend_from_slice(kind);
            out.extend_from_slice(data);
            let crc = crc32(&out[start..]);
            out.extend_from_slice(&crc.to_be_bytes());
        }
        fn crc32(bytes: &[u8]) -> u32 {
            let mut crc = 0xFFFF_FFFFu32;
            for &b in bytes {
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
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&w.to_be_bytes());
        ihdr.extend_from_slice(&h.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, deflate, no filter, no interlace
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        chunk(&mut out, b"IHDR", &ihdr);
        chunk(&mut out, b"IEND", &[]);
        out
    }

    #[test]
    fn headers_of_each_format_give_codec_names_and_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let img = gradient(40, 30);
        for (format, name, codec) in [
            (image::ImageFormat::Jpeg, "a.jpg", "jpeg"),
            (image::ImageFormat::Png, "a.png", "png"),
            (image::ImageFormat::Gif, "a.gif", "gif"),
            (image::ImageFormat::Bmp, "a.bmp", "bmp"),
        ] {
            let path = write(dir.path(), name, &encoded(&img, format));
            let header = read_header(&path).unwrap();
            assert_eq!(
                header,
                ImageHeader {
                    codec,
                    width: 40,
                    height: 30
                },
                "{name}"
            );
        }
    }

    #[test]
    fn text_and_truncated_headers_are_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let text = write(dir.path(), "t.png", b"hello, this is not an image at all");
        assert!(matches!(read_header(&text), Err(ImageError::Unsupported)));
        let cut = write(dir.path(), "c.png", &png_claiming(10, 10)[..18]);
        let err = read_header(&cut).unwrap_err();
        assert!(matches!(err, ImageError::BadHeader(_)), "{err:?}");
        assert!(err.to_string().contains("damaged or truncated"), "{err}");
        assert!(err.is_permanent());
    }

    #[test]
    fn meta_reports_orientation_and_clamps_sides_to_the_seed_range() {
        let wide = ImageHeader {
            codec: "png",
            width: 1920,
            height: 1080,
        };
        let meta = image_meta(&wide, 123_456);
        assert_eq!(meta.codec.as_deref(), Some("png"));
        assert_eq!((meta.width, meta.height), (Some(1920), Some(1080)));
        assert_eq!(meta.size, Some(123_456));
        assert_eq!(meta.mode, Some(Orientation::Horizontal));
        let square = ImageHeader {
            width: 500,
            height: 500,
            ..wide
        };
        assert_eq!(image_meta(&square, 1).mode, Some(Orientation::Horizontal));
        let tall = ImageHeader {
            codec: "jpeg",
            width: 3000,
            height: 20_000,
        };
        let meta = image_meta(&tall, 1);
        assert_eq!((meta.width, meta.height), (Some(3000), Some(8196)));
        assert_eq!(meta.mode, Some(Orientation::Vertical));
    }

    #[test]
    fn png_bomb_is_refused_from_its_header_without_decoding() {
        let dir = tempfile::tempdir().unwrap();
        let bomb = write(dir.path(), "bomb.png", &png_claiming(50_000, 50_000));
        let header = read_header(&bomb).unwrap();
        assert_eq!((header.width, header.height), (50_000, 50_000));
        let err = check_pixels(&header, DEFAULT_MAX_PIXELS).unwrap_err();
        assert!(
            matches!(
                err,
                ImageError::TooManyPixels {
                    pixels: 2_500_000_000,
                    max: DEFAULT_MAX_PIXELS,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("50000×50000"), "{err}");
        assert_eq!(err.code(), Code::InvalidParameter);
        let err = thumbnail(&bomb, 320, DEFAULT_MAX_PIXELS).unwrap_err();
        assert!(matches!(err, ImageError::TooManyPixels { .. }), "{err:?}");
        assert!(check_pixels(&header, 2_500_000_000).is_ok());
    }

    #[test]
    fn jpeg_thumbnail_fits_the_box_and_keeps_the_aspect() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "big.jpg",
            &encoded(&gradient(1600, 1200), image::ImageFormat::Jpeg),
        );
        let jpeg = thumbnail(&path, 320, DEFAULT_MAX_PIXELS).unwrap();
        let out = image::load_from_memory(&jpeg).unwrap();
        assert_eq!((out.width(), out.height()), (320, 240));
        assert_eq!(
            image::guess_format(&jpeg).unwrap(),
            image::ImageFormat::Jpeg
        );
    }

    #[test]
    fn jpeg_thumbnail_applies_exif_rotation_but_the_header_keeps_stored_sides() {
        let dir = tempfile::tempdir().unwrap();
        let plain = encoded(&gradient(640, 480), image::ImageFormat::Jpeg);
        // APP1 "Exif", big-endian TIFF header, one IFD entry: Orientation (0x0112) = 6, i.e.
        // rotate 90° clockwise to display.
        let mut app1 =
            b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x06\0\0\0\0\0\0".to_vec();
        let len = u16::try_from(app1.len() + 2).unwrap().to_be_bytes();
        app1.splice(0..0, [0xFF, 0xE1, len[0], len[1]]);
        let mut rotated = plain[..2].to_vec();
        rotated.extend_from_slice(&app1);
        rotated.extend_from_slice(&plain[2..]);
        let path = write(dir.path(), "r.jpg", &rotated);
        let header = read_header(&path).unwrap();
        assert_eq!((header.width, header.height), (640, 480));
        let out =
            image::load_from_memory(&thumbnail(&path, 320, DEFAULT_MAX_PIXELS).unwrap()).unwrap();
        assert_eq!((out.width(), out.height()), (240, 320));
        assert!(exif_swaps_sides(&path));
        assert!(!exif_swaps_sides(&write(dir.path(), "p.jpg", &plain)));
        let shown = image_meta(&header.transposed(), 1);
        assert_eq!((shown.width, shown.height), (Some(480), Some(640)));
        assert_eq!(shown.mode, Some(Orientation::Vertical));
    }

    #[test]
    fn png_gif_and_bmp_thumbnails_are_jpegs_and_small_images_are_not_enlarged() {
        let dir = tempfile::tempdir().unwrap();
        let tall = gradient(300, 900);
        for (format, name) in [
            (image::ImageFormat::Png, "t.png"),
            (image::ImageFormat::Gif, "t.gif"),
            (image::ImageFormat::Bmp, "t.bmp"),
        ] {
            let path = write(dir.path(), name, &encoded(&tall, format));
            let out = image::load_from_memory(&thumbnail(&path, 320, DEFAULT_MAX_PIXELS).unwrap())
                .unwrap();
            assert_eq!((out.width(), out.height()), (107, 320), "{name}");
        }
        let small = write(
            dir.path(),
            "s.png",
            &encoded(&gradient(50, 20), image::ImageFormat::Png),
        );
        let out =
            image::load_from_memory(&thumbnail(&small, 320, DEFAULT_MAX_PIXELS).unwrap()).unwrap();
        assert_eq!((out.width(), out.height()), (50, 20));
    }

    #[test]
    fn grey_and_transparent_images_become_plain_jpegs() {
        let dir = tempfile::tempdir().unwrap();
        let grey = DynamicImage::ImageLuma8(GrayImage::from_fn(640, 480, |x, _| {
            image::Luma([(x % 256) as u8])
        }));
        let path = write(
            dir.path(),
            "g.jpg",
            &encoded(&grey, image::ImageFormat::Jpeg),
        );
        let out =
            image::load_from_memory(&thumbnail(&path, 64, DEFAULT_MAX_PIXELS).unwrap()).unwrap();
        assert_eq!((out.width(), out.height()), (64, 48));
        let rgba = DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
            100,
            100,
            image::Rgba([255, 0, 0, 10]),
        ));
        let path = write(
            dir.path(),
            "a.png",
            &encoded(&rgba, image::ImageFormat::Png),
        );
        let out =
            image::load_from_memory(&thumbnail(&path, 64, DEFAULT_MAX_PIXELS).unwrap()).unwrap();
        assert_eq!((out.width(), out.height()), (64, 64));
    }

    #[test]
    fn truncated_jpeg_fails_with_a_decode_reason() {
        let dir = tempfile::tempdir().unwrap();
        let full = encoded(&gradient(800, 600), image::ImageFormat::Jpeg);
        // Keep the headers (quantisation and Huffman tables, frame header) but cut the scan.
        let path = write(dir.path(), "cut.jpg", &full[..full.len() / 3]);
        assert!(read_header(&path).is_ok());
        match thumbnail(&path, 320, DEFAULT_MAX_PIXELS) {
            // jpeg-decoder may fill a truncated scan with grey, as libjpeg does; that is fine.
            Ok(jpeg) => assert!(image::load_from_memory(&jpeg).is_ok()),
            Err(err) => assert!(err.is_permanent(), "{err:?}"),
        }
        let garbage = write(dir.path(), "junk.jpg", b"\xFF\xD8\xFF\xC0\0\x11\x08\0\x10");
        let err = thumbnail(&garbage, 320, DEFAULT_MAX_PIXELS).unwrap_err();
        assert!(err.is_permanent(), "{err:?}");
    }

    #[test]
    fn fit_size_rounds_and_never_reaches_zero() {
        assert_eq!(fit_size(4000, 3000, 320), (320, 240));
        assert_eq!(fit_size(10_000, 1, 320), (320, 1));
        assert_eq!(fit_size(100, 100, 320), (100, 100));
    }
}
