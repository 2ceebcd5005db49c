//! An in-process reader of ISO base media files (MP4, M4V, MOV, 3GP, M4A) that produces the
//! same [`Probe`] ffprobe 5.1 would, from the box structure alone: no decoder runs, nothing is
//! executed, and every size and count is capped. Spawning ffprobe costs 70–120 ms, so
//! [`probe`](super::probe::probe) tries this first and falls back to ffprobe whenever this
//! module returns [`Declined`].
//!
//! Values are computed the way libavformat's mov demuxer computes them (`mov.c`):
//!
//! - container duration: `mvhd` duration rescaled to microseconds; bit rate: file size × 8
//!   over that duration;
//! - `avg_frame_rate`: timescale × sample count / sum of `stts` durations, reduced;
//! - stream duration: the smallest of the `mdhd` duration, the `stts` sum and the single edit's
//!   length; video bit rate: `stsz` byte total × 8 over that duration; AAC bit rate: the
//!   `esds` average bit rate;
//! - H.264 pixel format, width and height: from the SPS in `avcC`;
//! - rotation: the `tkhd` matrix combined with the `mvhd` one, as ffprobe's display matrix.
//!
//! Anything outside what is modelled (fragmented files, several edits, several video tracks,
//! codecs other than H.264/HEVC/MPEG-4 part 2/H.263 video and AAC-LC audio, …) is declined
//! rather than guessed.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use super::probe::{AudioStream, Probe, VideoStream};

/// ffprobe's `format_name` for every ISO-BMFF flavour.
pub const FORMAT_NAME: &str = "mov,mp4,m4a,3gp,3g2,mj2";

/// Largest `moov` box read into memory.
const MAX_MOOV_BYTES: u64 = 64 << 20;
/// Most top-level boxes walked before giving up.
const MAX_TOP_LEVEL_BOXES: usize = 1024;
/// Most boxes visited inside `moov`.
const MAX_BOXES: usize = 100_000;
/// Deepest box nesting followed.
const MAX_DEPTH: usize = 16;
/// Most tracks accepted.
const MAX_TRACKS: usize = 64;
/// Longest SPS NAL unit read.
const MAX_SPS_BYTES: usize = 1024;

/// Why the in-process parser did not answer; the caller falls back to ffprobe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not probed in-process: {0}")]
pub struct Declined(pub &'static str);

type Parsed<T> = Result<T, Declined>;

fn declined<T>(why: &'static str) -> Parsed<T> {
    Err(Declined(why))
}

fn io<T>(r: std::io::Result<T>) -> Parsed<T> {
    r.map_err(|_| Declined("read error"))
}

/// Probes the ISO-BMFF file at `path`, reading only its top-level box headers, `ftyp` and
/// `moov`. Blocking: call it from `spawn_blocking`.
pub fn probe_file(path: &Path) -> Parsed<Probe> {
    let file = io(File::open(path))?;
    parse(&mut BufReader::with_capacity(16 * 1024, file))
}

/// Probes an ISO-BMFF file from `reader` (positioned anywhere; its end is the file's end).
pub fn parse<R: Read + Seek>(reader: &mut R) -> Parsed<Probe> {
    let file_size = io(reader.seek(SeekFrom::End(0)))?;
    let (major_brand, moov) = top_level(reader, file_size)?;
    let movie = parse_moov(&moov)?;
    build(movie, major_brand, file_size)
}

/// Walks the top-level boxes; returns the `ftyp` major brand and the `moov` payload.
fn top_level<R: Read + Seek>(r: &mut R, file_size: u64) -> Parsed<(Option<String>, Vec<u8>)> {
    let mut pos = 0u64;
    let mut major_brand = None;
    let mut seen_ftyp = false;
    for _ in 0..MAX_TOP_LEVEL_BOXES {
        if file_size - pos < 8 {
            return declined("no moov box");
        }
        io(r.seek(SeekFrom::Start(pos)))?;
        let mut head = [0u8; 8];
        io(r.read_exact(&mut head))?;
        let size32 = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let kind = [head[4], head[5], head[6], head[7]];
        let (size, header) = match size32 {
            0 => (file_size - pos, 8),
            1 => {
                let mut large = [0u8; 8];
                io(r.read_exact(&mut large))?;
                (u64::from_be_bytes(large), 16)
            }
            n => (u64::from(n), 8),
        };
        if size < header || size > file_size - pos {
            return declined("a top-level box is truncated or malformed");
        }
        match &kind {
            b"ftyp" if !seen_ftyp => {
                seen_ftyp = true;
                if size < header + 4 {
                    return declined("short ftyp");
                }
                let mut brand = [0u8; 4];
                io(r.read_exact(&mut brand))?;
                if !brand.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
                    return declined("unprintable major brand");
                }
                major_brand = Some(String::from_utf8_lossy(&brand).into_owned());
            }
            b"moov" => {
                let len = size - header;
                if len > MAX_MOOV_BYTES {
                    return declined("moov is too large");
                }
                let mut moov = vec![0u8; len as usize];
                io(r.read_exact(&mut moov))?;
                return Ok((major_brand, moov));
            }
            b"moof" | b"mfra" | b"cmov" => return declined("fragmented or compressed movie"),
            _ => {}
        }
        pos += size;
    }
    declined("too many top-level boxes")
}

/// Reads big-endian fields from a box payload; every read is bounds-checked.
#[derive(Clone, Copy)]
struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bytes<'a> {
    fn new(data: &'a [u8]) -> Self {
        Bytes { data, pos: 0 }
    }

    fn take(&mut self, n: usize) -> Parsed<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(Declined("overflow"))?;
        let out = self
            .data
            .get(self.pos..end)
            .ok_or(Declined("a box is shorter than its fields"))?;
        self.pos = end;
        Ok(out)
    }

    fn skip(&mut self, n: usize) -> Parsed<()> {
        self.take(n).map(|_| ())
    }

    fn u8(&mut self) -> Parsed<u8> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Parsed<u16> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Parsed<u32> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Parsed<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    /// A 32-bit field in version 0 boxes, 64-bit in version 1.
    fn versioned(&mut self, version: u8) -> Parsed<u64> {
        if version == 1 {
            self.u64()
        } else {
            self.u32().map(u64::from)
        }
    }

    fn rest(&self) -> &'a [u8] {
        self.data.get(self.pos..).unwrap_or_default()
    }
}

/// Calls `f` with each child box (type and payload) of `data`, counting against `budget`.
/// Trailing bytes too short for a box header are ignored, as libavformat does.
fn children<'a>(
    data: &'a [u8],
    budget: &mut usize,
    mut f: impl FnMut([u8; 4], &'a [u8], &mut usize) -> Parsed<()>,
) -> Parsed<()> {
    let mut b = Bytes::new(data);
    while b.rest().len() >= 8 {
        *budget = budget.checked_sub(1).ok_or(Declined("too many boxes"))?;
        let start = b.pos;
        let size32 = b.u32()?;
        let kind: [u8; 4] = b.take(4)?.try_into().map_err(|_| Declined("box type"))?;
        let size = match size32 {
            0 => (data.len() - start) as u64,
            1 => b.u64()?,
            n => u64::from(n),
        };
        let header = (b.pos - start) as u64;
        if size < header || size > (data.len() - start) as u64 {
            return declined("a box overruns its parent");
        }
        let payload = b.take((size - header) as usize)?;
        f(kind, payload, budget)?;
    }
    Ok(())
}

/// A 3×3 display matrix as stored in `mvhd`/`tkhd` (16.16, 16.16, 2.30 columns).
type Matrix = [[i64; 3]; 3];

const IDENTITY: Matrix = [[1 << 16, 0, 0], [0, 1 << 16, 0], [0, 0, 1 << 30]];

fn read_matrix(b: &mut Bytes) -> Parsed<Matrix> {
    let mut m = [[0i64; 3]; 3];
    for row in &mut m {
        for cell in row.iter_mut() {
            *cell = i64::from(b.u32()? as i32);
        }
    }
    Ok(m)
}

#[derive(Debug, Default)]
struct Movie {
    timescale: u32,
    duration: u64,
    matrix: Option<Matrix>,
    tracks: Vec<Track>,
}

#[derive(Debug, Default)]
struct Track {
    matrix: Option<Matrix>,
    edits: Vec<Edit>,
    has_edts: bool,
    handler: Option<[u8; 4]>,
    timescale: u32,
    duration: u64,
    entry: Option<SampleEntry>,
    entry_count: u32,
    stts_samples: u64,
    stts_duration: u64,
    has_stts: bool,
    stsz_constant: u32,
    stsz_count: u64,
    data_size: u64,
    has_stsz: bool,
    max_chunk_offset: Option<u64>,
    /// `stco`/`co64` entries, in chunk order.
    chunk_offsets: Vec<u64>,
    /// `stsc` runs: (first chunk, 1-based; samples per chunk).
    chunk_runs: Vec<(u32, u32)>,
    /// `stsz` entries when sizes vary.
    sample_sizes: Vec<u32>,
    external_data: bool,
    references_chapters: bool,
}

#[derive(Debug, Clone, Copy)]
struct Edit {
    segment_duration: u64,
    media_time: i64,
    rate: u32,
}

#[derive(Debug)]
enum SampleEntry {
    Video(VideoEntry),
    Audio(AudioEntry),
    /// A sample entry this module does not model.
    Other,
}

#[derive(Debug)]
struct VideoEntry {
    codec: &'static str,
    width: u16,
    height: u16,
    pix_fmt: Option<&'static str>,
    /// Width and height the decoder will report, when the parameter sets say.
    coded_size: Option<(u32, u32)>,
}

#[derive(Debug)]
struct AudioEntry {
    codec: &'static str,
    channels: u32,
    sample_rate: u32,
    avg_bitrate: u32,
}

fn parse_moov(moov: &[u8]) -> Parsed<Movie> {
    let mut movie = Movie::default();
    let mut budget = MAX_BOXES;
    let mut seen_mvhd = false;
    children(moov, &mut budget, |kind, payload, budget| {
        match &kind {
            b"mvhd" if !seen_mvhd => {
                seen_mvhd = true;
                let mut b = Bytes::new(payload);
                let version = b.u8()?;
                b.skip(3)?;
                b.versioned(version)?;
                b.versioned(version)?;
                movie.timescale = b.u32()?;
                movie.duration = b.versioned(version)?;
                b.skip(4 + 2 + 10)?;
                movie.matrix = Some(read_matrix(&mut b)?);
            }
            b"mvhd" => return declined("several mvhd boxes"),
            b"trak" => {
                if movie.tracks.len() >= MAX_TRACKS {
                    return declined("too many tracks");
                }
                movie.tracks.push(parse_trak(payload, budget)?);
            }
            b"mvex" => return declined("fragmented movie"),
            b"cmov" => return declined("compressed movie header"),
            _ => {}
        }
        Ok(())
    })?;
    if !seen_mvhd {
        return declined("no mvhd");
    }
    Ok(movie)
}

fn parse_trak(trak: &[u8], budget: &mut usize) -> Parsed<Track> {
    let mut t = Track::default();
    walk_track(trak, budget, &mut t, 0)?;
    Ok(t)
}

/// Visits the boxes of a track that matter, descending through its containers.
fn walk_track(data: &[u8], budget: &mut usize, t: &mut Track, depth: usize) -> Parsed<()> {
    if depth > MAX_DEPTH {
        return declined("boxes nest too deeply");
    }
    children(data, budget, |kind, payload, budget| {
        let mut b = Bytes::new(payload);
        match &kind {
            b"mdia" | b"minf" | b"stbl" | b"edts" | b"dinf" => {
                if &kind == b"edts" {
                    t.has_edts = true;
                }
                walk_track(payload, budget, t, depth + 1)?;
            }
            b"tkhd" => {
                let version = b.u8()?;
                b.skip(3)?;
                b.versioned(version)?;
                b.versioned(version)?;
                b.skip(8)?;
                b.versioned(version)?;
                b.skip(8 + 2 + 2 + 2 + 2)?;
                t.matrix = Some(read_matrix(&mut b)?);
            }
            b"elst" => {
                if !t.edits.is_empty() {
                    return declined("several elst boxes");
                }
                let version = b.u8()?;
                b.skip(3)?;
                let count = b.u32()?;
                if count > 16 {
                    return declined("long edit list");
                }
                for _ in 0..count {
                    let segment_duration = b.versioned(version)?;
                    let media_time = if version == 1 {
                        b.u64()? as i64
                    } else {
                        i64::from(b.u32()? as i32)
                    };
                    let rate = b.u32()?;
                    t.edits.push(Edit {
                        segment_duration,
                        media_time,
                        rate,
                    });
                }
            }
            b"mdhd" => {
                let version = b.u8()?;
                b.skip(3)?;
                b.versioned(version)?;
                b.versioned(version)?;
                t.timescale = b.u32()?;
                t.duration = b.versioned(version)?;
            }
            b"hdlr" if t.handler.is_none() => {
                b.skip(8)?;
                t.handler = Some(b.take(4)?.try_into().map_err(|_| Declined("hdlr"))?);
            }
            b"dref" => {
                b.skip(8)?;
                children(b.rest(), budget, |_, entry, _| {
                    let flags = Bytes::new(entry).u32()?;
                    if flags & 1 == 0 {
                        t.external_data = true;
                    }
                    Ok(())
                })?;
            }
            b"tref" => {
                children(payload, budget, |kind, _, _| {
                    if &kind == b"chap" {
                        t.references_chapters = true;
                    }
                    Ok(())
                })?;
            }
            b"stsd" => {
                if t.entry.is_some() {
                    return declined("several stsd boxes");
                }
                b.skip(4)?;
                t.entry_count = b.u32()?;
                let mut first = None;
                children(b.rest(), budget, |kind, entry, budget| {
                    if first.is_none() {
                        first = Some(parse_sample_entry(kind, entry, budget)?);
                    }
                    Ok(())
                })?;
                t.entry = Some(first.ok_or(Declined("empty stsd"))?);
            }
            b"stts" => {
                if t.has_stts {
                    return declined("several stts boxes");
                }
                t.has_stts = true;
                b.skip(4)?;
                let count = b.u32()?;
                for _ in 0..count {
                    let samples = u64::from(b.u32()?);
                    let duration = u64::from(b.u32()?);
                    t.stts_samples += samples;
                    t.stts_duration = t
                        .stts_duration
                        .checked_add(samples * duration)
                        .ok_or(Declined("stts overflow"))?;
                }
            }
            b"stsz" => {
                if t.has_stsz {
                    return declined("several stsz boxes");
                }
                t.has_stsz = true;
                b.skip(4)?;
                t.stsz_constant = b.u32()?;
                let count = b.u32()?;
                t.stsz_count = u64::from(count);
                if t.stsz_constant == 0 {
                    for _ in 0..count {
                        let size = b.u32()?;
                        t.data_size += u64::from(size);
                        t.sample_sizes.push(size);
                    }
                }
            }
            b"stz2" => return declined("compact sample sizes"),
            b"stsc" => {
                if !t.chunk_runs.is_empty() {
                    return declined("several stsc boxes");
                }
                b.skip(4)?;
                let count = b.u32()?;
                for _ in 0..count {
                    let first_chunk = b.u32()?;
                    let samples = b.u32()?;
                    b.skip(4)?; // sample description index
                    t.chunk_runs.push((first_chunk, samples));
                }
            }
            b"stco" | b"co64" => {
                b.skip(4)?;
                let count = b.u32()?;
                let mut max = 0u64;
                for _ in 0..count {
                    let offset = if &kind == b"co64" {
                        b.u64()?
                    } else {
                        u64::from(b.u32()?)
                    };
                    max = max.max(offset);
                    t.chunk_offsets.push(offset);
                }
                if count > 0 {
                    t.max_chunk_offset = Some(max.max(t.max_chunk_offset.unwrap_or(0)));
                }
            }
            _ => {}
        }
        Ok(())
    })
}

/// The fields of a sample entry that ffprobe reports, or [`SampleEntry::Other`].
fn parse_sample_entry(kind: [u8; 4], entry: &[u8], budget: &mut usize) -> Parsed<SampleEntry> {
    let mut b = Bytes::new(entry);
    b.skip(8)?; // reserved and data_reference_index
    match &kind {
        b"avc1" | b"avc3" | b"hvc1" | b"hev1" | b"mp4v" | b"s263" | b"h263" => {
            b.skip(16)?;
            let width = b.u16()?;
            let height = b.u16()?;
            b.skip(4 + 4 + 4 + 2 + 32 + 2 + 2)?;
            let boxes = b.rest();
            let mut config: Option<([u8; 4], &[u8])> = None;
            let mut colr_full_range = None;
            let mut esds = None;
            children(boxes, budget, |kind, payload, _| {
                match &kind {
                    b"avcC" | b"hvcC" => config = Some((kind, payload)),
                    b"esds" => esds = Some(payload),
                    b"colr" => {
                        let mut c = Bytes::new(payload);
                        if c.take(4)? == b"nclx" {
                            c.skip(6)?;
                            colr_full_range = Some(c.u8()? & 0x80 != 0);
                        }
                    }
                    _ => {}
                }
                Ok(())
            })?;
            let video = |codec, pix_fmt, coded_size| {
                SampleEntry::Video(VideoEntry {
                    codec,
                    width,
                    height,
                    pix_fmt,
                    coded_size,
                })
            };
            Ok(match &kind {
                b"avc1" | b"avc3" => match config {
                    Some((c, avcc)) if &c == b"avcC" => {
                        let sps = parse_avcc(avcc)?;
                        let full = sps.full_range.or(colr_full_range).unwrap_or(false);
                        video("h264", Some(sps.pix_fmt(full)?), Some(sps.size))
                    }
                    _ => return declined("H.264 without avcC"),
                },
                b"hvc1" | b"hev1" => match config {
                    Some((c, hvcc)) if &c == b"hvcC" => {
                        video("hevc", Some(hvcc_pix_fmt(hvcc)?), None)
                    }
                    _ => return declined("HEVC without hvcC"),
                },
                b"mp4v" => match esds.map(parse_esds).transpose()? {
                    Some(es) if es.object_type == 0x20 => video("mpeg4", Some("yuv420p"), None),
                    _ => return declined("MPEG-4 visual other than part 2"),
                },
                _ => video("h263", Some("yuv420p"), None),
            })
        }
        b"mp4a" => {
            let version = b.u16()?;
            b.skip(2 + 4)?;
            // The channel count comes from the AudioSpecificConfig, as in libavformat.
            b.skip(2 + 2 + 2 + 2)?;
            let rate = b.u32()? >> 16;
            match version {
                0 => {}
                1 => b.skip(16)?,
                2 => b.skip(36)?,
                _ => return declined("unknown sound sample description version"),
            }
            let mut esds = None;
            children(b.rest(), budget, |kind, payload, budget| {
                match &kind {
                    b"esds" => esds = Some(payload),
                    // QuickTime wraps the esds in a `wave` box.
                    b"wave" => children(payload, budget, |kind, payload, _| {
                        if &kind == b"esds" {
                            esds = Some(payload);
                        }
                        Ok(())
                    })?,
                    _ => {}
                }
                Ok(())
            })?;
            let es = parse_esds(esds.ok_or(Declined("mp4a without esds"))?)?;
            if !matches!(es.object_type, 0x40 | 0x66 | 0x67) {
                return declined("MPEG-4 audio other than AAC");
            }
            let (aac_channels, sample_rate) = parse_aac_config(es.specific)?;
            // Implicitly signalled SBR doubles the rate only once decoded; an entry that
            // disagrees with the config may be such a file.
            if version == 0 && sample_rate < 65536 && rate != sample_rate {
                return declined("sample entry and AudioSpecificConfig disagree");
            }

            Ok(SampleEntry::Audio(AudioEntry {
                codec: "aac",
                channels: aac_channels,
                sample_rate,
                avg_bitrate: es.avg_bitrate,
            }))
        }
        _ => Ok(SampleEntry::Other),
    }
}

/// The parts of an `esds` (ES_Descriptor) ffprobe's values depend on.
struct EsDescriptor<'a> {
    object_type: u8,
    avg_bitrate: u32,
    specific: &'a [u8],
}

/// An MPEG-4 descriptor: tag, then a length of up to four 7-bit groups.
fn descriptor<'a>(b: &mut Bytes<'a>, tag: u8) -> Parsed<Bytes<'a>> {
    if b.u8()? != tag {
        return declined("unexpected descriptor in esds");
    }
    let mut len = 0usize;
    for _ in 0..4 {
        let c = b.u8()?;
        len = (len << 7) | usize::from(c & 0x7F);
        if c & 0x80 == 0 {
            break;
        }
    }
    Ok(Bytes::new(b.take(len)?))
}

fn parse_esds(payload: &[u8]) -> Parsed<EsDescriptor<'_>> {
    let mut b = Bytes::new(payload);
    b.skip(4)?;
    let mut es = descriptor(&mut b, 0x03)?;
    es.skip(2)?;
    let flags = es.u8()?;
    if flags & 0x80 != 0 {
        es.skip(2)?;
    }
    if flags & 0x40 != 0 {
        let n = es.u8()?;
        es.skip(usize::from(n))?;
    }
    if flags & 0x20 != 0 {
        es.skip(2)?;
    }
    let mut config = descriptor(&mut es, 0x04)?;
    let object_type = config.u8()?;
    config.skip(1 + 3 + 4)?;
    let avg_bitrate = config.u32()?;
    let specific = if config.rest().is_empty() {
        &[][..]
    } else {
        descriptor(&mut config, 0x05)?.rest()
    };
    Ok(EsDescriptor {
        object_type,
        avg_bitrate,
        specific,
    })
}

/// Reads bits most-significant first; every read is bounds-checked.
#[derive(Clone, Copy)]
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8]) -> Self {
        Bits { data, pos: 0 }
    }

    fn left(&self) -> usize {
        (self.data.len() * 8).saturating_sub(self.pos)
    }

    fn bit(&mut self) -> Parsed<u32> {
        let byte = self
            .data
            .get(self.pos / 8)
            .ok_or(Declined("a bit field is truncated"))?;
        let bit = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Ok(u32::from(bit))
    }

    fn bits(&mut self, n: u32) -> Parsed<u32> {
        let mut v = 0u32;
        for _ in 0..n.min(32) {
            v = (v << 1) | self.bit()?;
        }
        Ok(v)
    }

    fn flag(&mut self) -> Parsed<bool> {
        Ok(self.bit()? == 1)
    }

    /// Unsigned Exp-Golomb.
    fn ue(&mut self) -> Parsed<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return declined("Exp-Golomb code is too long");
            }
        }
        let v = (1u64 << zeros) - 1 + u64::from(self.bits(zeros)?);
        u32::try_from(v).map_err(|_| Declined("Exp-Golomb value is too large"))
    }

    /// Signed Exp-Golomb.
    fn se(&mut self) -> Parsed<i64> {
        let k = i64::from(self.ue()?);
        Ok(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) })
    }
}

const AAC_RATES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

/// Channels and sample rate of an AAC-LC AudioSpecificConfig; anything with SBR, PS or a
/// program config element is declined.
fn parse_aac_config(asc: &[u8]) -> Parsed<(u32, u32)> {
    let mut b = Bits::new(asc);
    let mut object_type = b.bits(5)?;
    if object_type == 31 {
        object_type = 32 + b.bits(6)?;
    }
    if object_type != 2 {
        return declined("AAC other than LC");
    }
    let index = b.bits(4)?;
    let rate = if index == 15 {
        b.bits(24)?
    } else {
        *AAC_RATES
            .get(index as usize)
            .ok_or(Declined("reserved AAC sampling frequency index"))?
    };
    let channels = match b.bits(4)? {
        n @ 1..=6 => n,
        7 => 8,
        _ => return declined("AAC channel configuration not modelled"),
    };
    let mut ga = b;
    let _frame_length = ga.bit()?;
    if ga.flag()? || ga.flag()? {
        return declined("AAC core coder or extension flags");
    }
    // libavcodec scans what follows the channel configuration for a backward-compatible
    // SBR/PS sync extension; ffmpeg's encoder writes one that says "no SBR".
    while b.left() > 15 {
        let mut peek = b;
        if peek.bits(11)? != 0x2B7 {
            b.bit()?;
            continue;
        }
        b.bits(11)?;
        let mut extension = b.bits(5)?;
        if extension == 31 {
            extension = 32 + b.bits(6)?;
        }
        if extension != 5 || b.flag()? {
            return declined("AAC with SBR or another extension");
        }
        if b.left() > 11 && b.bits(11)? == 0x548 && b.flag()? {
            return declined("AAC with parametric stereo");
        }
        break;
    }
    if rate == 0 {
        return declined("zero AAC sample rate");
    }
    Ok((channels, rate))
}

/// What the first SPS of an `avcC` says about the decoded picture.
#[derive(Debug)]
struct Sps {
    chroma_format: u32,
    bit_depth_luma: u32,
    bit_depth_chroma: u32,
    /// `video_full_range_flag`, when the VUI signals it.
    full_range: Option<bool>,
    /// Cropped width and height.
    size: (u32, u32),
}

impl Sps {
    /// libavcodec's pixel format for this SPS; only 8-bit 4:2:0 is modelled.
    fn pix_fmt(&self, full_range: bool) -> Parsed<&'static str> {
        match (
            self.chroma_format,
            self.bit_depth_luma,
            self.bit_depth_chroma,
        ) {
            (1, 8, 8) if full_range => Ok("yuvj420p"),
            (1, 8, 8) => Ok("yuv420p"),
            _ => declined("H.264 other than 8-bit 4:2:0"),
        }
    }
}

fn parse_avcc(avcc: &[u8]) -> Parsed<Sps> {
    let mut b = Bytes::new(avcc);
    if b.u8()? != 1 {
        return declined("unknown avcC version");
    }
    b.skip(3)?;
    b.skip(1)?;
    if b.u8()? & 0x1F == 0 {
        return declined("avcC without SPS");
    }
    let len = usize::from(b.u16()?);
    let nal = b.take(len)?;
    if nal.first().map(|h| h & 0x1F) != Some(7) {
        return declined("avcC SPS is not an SPS");
    }
    // Drop emulation-prevention bytes (00 00 03).
    let mut rbsp = Vec::with_capacity(nal.len().min(MAX_SPS_BYTES));
    let mut zeros = 0;
    for &byte in nal.iter().skip(1).take(MAX_SPS_BYTES) {
        if zeros >= 2 && byte == 3 {
            zeros = 0;
            continue;
        }
        zeros = if byte == 0 { zeros + 1 } else { 0 };
        rbsp.push(byte);
    }
    parse_sps(&rbsp)
}

fn parse_sps(rbsp: &[u8]) -> Parsed<Sps> {
    let mut b = Bits::new(rbsp);
    let profile = b.bits(8)?;
    b.bits(16)?; // constraint flags, level
    b.ue()?; // seq_parameter_set_id
    let (mut chroma_format, mut depth_luma, mut depth_chroma) = (1, 8, 8);
    let mut separate_planes = false;
    if matches!(
        profile,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        chroma_format = b.ue()?;
        if chroma_format > 3 {
            return declined("invalid chroma_format_idc");
        }
        if chroma_format == 3 {
            separate_planes = b.flag()?;
        }
        depth_luma = b.ue()?.saturating_add(8);
        depth_chroma = b.ue()?.saturating_add(8);
        b.bit()?; // qpprime_y_zero_transform_bypass
        if b.flag()? {
            for i in 0..if chroma_format == 3 { 12 } else { 8 } {
                if b.flag()? {
                    let size = if i < 6 { 16 } else { 64 };
                    let (mut last, mut next) = (8i64, 8i64);
                    for _ in 0..size {
                        if next != 0 {
                            next = (last + b.se()? + 256).rem_euclid(256);
                        }
                        if next != 0 {
                            last = next;
                        }
                    }
                }
            }
        }
    }
    b.ue()?; // log2_max_frame_num_minus4
    match b.ue()? {
        0 => {
            b.ue()?;
        }
        1 => {
            b.bit()?;
            b.se()?;
            b.se()?;
            let cycle = b.ue()?;
            if cycle > 255 {
                return declined("invalid SPS");
            }
            for _ in 0..cycle {
                b.se()?;
            }
        }
        2 => {}
        _ => return declined("invalid pic_order_cnt_type"),
    }
    b.ue()?; // max_num_ref_frames
    b.bit()?; // gaps_in_frame_num_value_allowed
    let width_mbs = u64::from(b.ue()?) + 1;
    let height_units = u64::from(b.ue()?) + 1;
    let frame_mbs_only = b.flag()?;
    if !frame_mbs_only {
        b.bit()?;
    }
    b.bit()?; // direct_8x8_inference
    let (mut crop_x, mut crop_y) = (0u64, 0u64);
    if b.flag()? {
        let (left, right, top, bottom) = (b.ue()?, b.ue()?, b.ue()?, b.ue()?);
        if left != 0 || top != 0 {
            // libavcodec may realign a left crop; not modelled.
            return declined("H.264 left or top cropping");
        }
        let (unit_x, unit_y) = if chroma_format == 0 || separate_planes {
            (1, 1)
        } else {
            (
                if chroma_format == 3 { 1 } else { 2 },
                if chroma_format == 1 { 2 } else { 1 },
            )
        };
        crop_x = u64::from(right) * unit_x;
        crop_y = u64::from(bottom) * unit_y * if frame_mbs_only { 1 } else { 2 };
    }
    let width = (width_mbs * 16).checked_sub(crop_x);
    let height = (height_units * 16 * if frame_mbs_only { 1 } else { 2 }).checked_sub(crop_y);
    let (Some(width), Some(height)) = (width, height) else {
        return declined("H.264 cropping exceeds the picture");
    };
    let size = (
        u32::try_from(width).map_err(|_| Declined("huge picture"))?,
        u32::try_from(height).map_err(|_| Declined("huge picture"))?,
    );
    let mut full_range = None;
    if b.flag()? {
        // vui_parameters_present_flag
        if b.flag()? && b.bits(8)? == 255 {
            b.bits(32)?; // extended sample aspect ratio
        }
        if b.flag()? {
            b.bit()?; // overscan_appropriate
        }
        if b.flag()? {
            b.bits(3)?; // video_format
            full_range = Some(b.flag()?);
        }
    }
    Ok(Sps {
        chroma_format,
        bit_depth_luma: depth_luma,
        bit_depth_chroma: depth_chroma,
        full_range,
        size,
    })
}

/// libavcodec's pixel format for an HEVC stream, from the `hvcC` header.
fn hvcc_pix_fmt(hvcc: &[u8]) -> Parsed<&'static str> {
    let mut b = Bytes::new(hvcc);
    if b.u8()? != 1 {
        return declined("unknown hvcC version");
    }
    b.skip(1 + 4 + 6 + 1 + 2 + 1)?;
    let chroma = b.u8()? & 3;
    let luma = (b.u8()? & 7) + 8;
    let chroma_depth = (b.u8()? & 7) + 8;
    match (chroma, luma, chroma_depth) {
        (1, 8, 8) => Ok("yuv420p"),
        (1, 10, 10) => Ok("yuv420p10le"),
        _ => declined("HEVC other than 4:2:0 at 8 or 10 bits"),
    }
}

/// `av_rescale(a, b, c)`: a × b / c rounded to the nearest, halves away from zero.
fn rescale(a: u64, b: u64, c: u64) -> Parsed<u64> {
    if c == 0 {
        return declined("zero timescale");
    }
    let v = (u128::from(a) * u128::from(b) + u128::from(c / 2)) / u128::from(c);
    u64::try_from(v)
        .ok()
        .filter(|v| *v <= i64::MAX as u64)
        .ok_or(Declined("duration overflows"))
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// ffprobe's `rotation` for a track: the display matrix `tkhd × mvhd` (when it is not the
/// identity) through `av_display_rotation_get`, truncated to an integer, then normalised as
/// [`Probe`] does.
fn rotation(track: Option<Matrix>, movie: Option<Matrix>) -> Parsed<u32> {
    let track = track.unwrap_or(IDENTITY);
    let movie = movie.unwrap_or(IDENTITY);
    let shift = [16, 16, 30];
    let mut m = [0i32; 9];
    for i in 0..3 {
        for j in 0..3 {
            let sum: i64 = (0..3)
                .map(|e| (track[i][e] * movie[e][j]) >> shift[e])
                .sum();
            m[i * 3 + j] = sum as i32;
        }
    }
    let identity = [1 << 16, 0, 0, 0, 1 << 16, 0, 0, 0, 1 << 30];
    if m == identity {
        return Ok(0);
    }
    let fp = |v: i32| f64::from(v) / 65536.0;
    let scale0 = fp(m[0]).hypot(fp(m[3]));
    let scale1 = fp(m[1]).hypot(fp(m[4]));
    if scale0 == 0.0 || scale1 == 0.0 {
        return declined("degenerate display matrix");
    }
    let degrees = -(fp(m[1]) / scale1).atan2(fp(m[0]) / scale0) * 180.0 / std::f64::consts::PI;
    let printed = degrees.trunc();
    let quarter_turns = (printed / 90.0).round() as i64;
    Ok((quarter_turns.rem_euclid(4) * 90) as u32)
}

/// Handlers of tracks that ffprobe lists but [`Probe`] ignores.
const IGNORED_HANDLERS: &[&[u8; 4]] = &[
    b"text", b"sbtl", b"subt", b"subp", b"clcp", b"tmcd", b"hint", b"meta", b"sdsm", b"odsm",
];

/// The stream duration libavformat ends up with: `mdhd`, capped by the `stts` total and by a
/// single plain edit. Other edit lists are declined.
/// Where the last byte of the track's sample data ends: every chunk's offset plus the sizes
/// of the samples `stsc` puts in it. A fast-start file cut short keeps its whole `moov`, so
/// chunks that start inside the file can still end past it. `None` when the tables do not
/// account for every sample.
fn data_end(t: &Track) -> Parsed<Option<u64>> {
    let runs = &t.chunk_runs;
    let (mut end, mut sample, mut run) = (0u64, 0usize, 0usize);
    for (index, offset) in t.chunk_offsets.iter().enumerate() {
        let chunk = u32::try_from(index + 1).map_err(|_| Declined("too many chunks"))?;
        while run + 1 < runs.len() && runs[run + 1].0 <= chunk {
            run += 1;
        }
        let Some(&(first, per_chunk)) = runs.get(run) else {
            return Ok(None);
        };
        if first > chunk {
            return Ok(None);
        }
        let last = sample.saturating_add(per_chunk as usize);
        let sizes = t
            .sample_sizes
            .get(sample..last)
            .ok_or(Declined("stsc exceeds stsz"))?;
        let bytes: u64 = sizes.iter().map(|s| u64::from(*s)).sum();
        end = end.max(offset.saturating_add(bytes));
        sample = last;
    }
    Ok((sample == t.sample_sizes.len() && sample > 0).then_some(end))
}

fn stream_duration(t: &Track, movie_timescale: u32) -> Parsed<u64> {
    if t.duration == 0 {
        return declined("zero track duration");
    }
    let mut d = t.duration.min(t.stts_duration);
    match t.edits.as_slice() {
        [] if !t.has_edts => {}
        [e] if e.rate == 0x1_0000 && e.media_time >= 0 && e.segment_duration > 0 => {
            let edit = rescale(
                e.segment_duration,
                u64::from(t.timescale),
                u64::from(movie_timescale),
            )?;
            d = d.min(edit);
        }
        _ => return declined("edit list not modelled"),
    }
    if d == 0 {
        return declined("zero stream duration");
    }
    Ok(d)
}

/// `data_size × 8 × timescale / duration`, as libavformat computes a stream's bit rate.
fn stream_bit_rate(t: &Track, duration: u64) -> Parsed<Option<u64>> {
    let bits = u128::from(t.data_size) * 8 * u128::from(t.timescale);
    if bits > i64::MAX as u128 {
        return declined("bit rate overflows");
    }
    Ok(Some((bits / u128::from(duration)) as u64).filter(|b| *b > 0))
}

fn build(movie: Movie, major_brand: Option<String>, file_size: u64) -> Parsed<Probe> {
    if movie.timescale == 0 || movie.duration == 0 {
        return declined("no movie duration");
    }
    let duration_us = rescale(movie.duration, 1_000_000, u64::from(movie.timescale))?;
    let mut video: Option<VideoStream> = None;
    let mut audio: Option<AudioStream> = None;
    for t in &movie.tracks {
        if t.references_chapters {
            return declined("chapter tracks");
        }
        let handler = t.handler.ok_or(Declined("track without hdlr"))?;
        if IGNORED_HANDLERS.contains(&&handler) {
            continue;
        }
        if !matches!(&handler, b"vide" | b"soun") {
            return declined("unknown track handler");
        }
        if t.external_data {
            return declined("external data reference");
        }
        if t.entry_count != 1 {
            return declined("not exactly one sample description");
        }
        if t.timescale == 0 || !t.has_stts || !t.has_stsz || t.stts_samples == 0 {
            return declined("track without samples or timescale");
        }
        if t.stsz_constant != 0 || t.stsz_count != t.stts_samples {
            return declined("sample sizes not modelled");
        }
        if t.max_chunk_offset.is_none_or(|o| o >= file_size)
            || data_end(t)?.is_none_or(|end| end > file_size)
        {
            return declined("sample data lies beyond the end of the file");
        }
        let duration = stream_duration(t, movie.timescale)?;
        match (&handler, &t.entry) {
            (b"vide", Some(SampleEntry::Video(entry))) => {
                if video.is_some() {
                    return declined("several video tracks");
                }
                let (width, height) = (u32::from(entry.width), u32::from(entry.height));
                if entry.coded_size.is_some_and(|s| s != (width, height)) {
                    return declined("sample entry and SPS sizes disagree");
                }
                let num = u128::from(t.timescale) * u128::from(t.stts_samples);
                let den = u128::from(t.stts_duration);
                if den == 0 {
                    return declined("zero sample durations");
                }
                let g = gcd(num, den);
                let (num, den) = (num / g, den / g);
                if num > i32::MAX as u128 || den > i32::MAX as u128 {
                    return declined("frame rate not exactly representable");
                }
                let fps = num as f64 / den as f64;
                video = Some(VideoStream {
                    codec: entry.codec.to_owned(),
                    width,
                    height,
                    rotation: rotation(t.matrix, movie.matrix)?,
                    pix_fmt: entry.pix_fmt.map(str::to_owned),
                    frame_rate: Some(super::probe::decimal(fps)),
                    fps: Some(fps),
                    bit_rate: stream_bit_rate(t, duration)?,
                    frame_count: Some(t.stts_samples),
                });
            }
            (b"soun", Some(SampleEntry::Audio(entry))) => {
                if audio.is_some() {
                    continue;
                }
                let bit_rate = if entry.avg_bitrate > 0 && entry.avg_bitrate < i32::MAX as u32 {
                    Some(u64::from(entry.avg_bitrate))
                } else {
                    stream_bit_rate(t, duration)?
                };
                audio = Some(AudioStream {
                    codec: entry.codec.to_owned(),
                    bit_rate,
                    channels: Some(entry.channels),
                    sample_rate: Some(entry.sample_rate),
                });
            }
            _ => return declined("codec not modelled"),
        }
    }
    if video.is_none() && audio.is_none() {
        return declined("no audio or video track");
    }
    // ffprobe prints the duration with six decimals; `parse_ffprobe` reads that back.
    let secs = duration_us as f64 * (1.0 / 1_000_000.0);
    let duration_secs = format!("{secs:.6}").parse::<f64>().ok();
    let bit_rate = (file_size as f64 * 8.0 * 1_000_000.0 / duration_us as f64) as u64;
    Ok(Probe {
        format_name: FORMAT_NAME.to_owned(),
        major_brand,
        duration_secs: duration_secs.filter(|d| *d > 0.0),
        bit_rate: Some(bit_rate).filter(|b| *b > 0),
        size_bytes: Some(file_size).filter(|s| *s > 0),
        video,
        audio,
    })
}

#[cfg(test)]
mod tests;
