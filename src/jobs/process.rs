//! The MAIN-file job: sniff → probe → (thumbnail, cover, transcode, slide pages as the type
//! needs) → review hook → ACTIVED, or FAILED with a reason a person can act on.
//!
//! Every output gets a deterministic file id derived from the MAIN file's id and is written
//! to the blob store before one final `Write` records everything, so a job killed at any
//! point is simply run again: it overwrites the same blobs and commits once.

use std::path::{Path, PathBuf};
use std::time::Duration;

use time::OffsetDateTime;

use super::progress::{self, Step};
use super::review::{self, Verdict};
use super::{JobContext, JobFailure};
use crate::blobs::BlobKey;
use crate::catalog::{Asset, Change, Derived, FileRecord, Write};
use crate::media::image as img;
use crate::media::measure::{self, StreamKind};
use crate::media::probe::{self, Probe, WebLimits};
use crate::media::runner::{JobDir, ToolError};
use crate::media::{slides, video};
use crate::model::{
    AssetExtraMeta, AssetState, AssetType, ErrorInfo, FailType, FileCategory, FileState,
    PptAnalysisStatus, PptAssetMeta, PptPageInfo, TranscodingStatus,
};
use crate::service::state::{activate, reject};
use crate::service::storage::Stored;

/// Pages rendered from a deck at most (seed: "only the first 50 pages will be converted").
pub const MAX_PAGES: u32 = 50;
/// Longest `page_content` kept, in characters.
const MAX_PAGE_TEXT: usize = 2048;

fn permanent(code: &'static str, reason: impl Into<String>) -> JobFailure {
    JobFailure::Permanent {
        code,
        reason: reason.into(),
    }
}

/// A tool failure: a tool that ran and refused the input (or timed out on it) is a verdict on
/// the input; a missing tool or an I/O problem is worth retrying.
fn tool_failure(what: &str, e: ToolError) -> JobFailure {
    if e.is_permanent() {
        permanent("media_invalid", format!("{what}: {e}"))
    } else {
        JobFailure::Retryable(format!("{what}: {e}"))
    }
}

/// What processing produced, applied in the final commit.
#[derive(Default)]
struct Processed {
    meta: AssetExtraMeta,
    derived: Vec<FileRecord>,
    /// The bytes of `derived`, recorded by the final commit (dropped unrecorded, they go).
    stored: Vec<Stored>,
    transcoding: Option<TranscodingStatus>,
}

impl Processed {
    /// Adds a derived file and its bytes.
    fn add(&mut self, (record, stored): (FileRecord, Stored)) -> &FileRecord {
        self.stored.push(stored);
        self.derived.push(record);
        self.derived.last().expect("just pushed")
    }
}

fn derived_record(
    main: &FileRecord,
    kind: Derived,
    suffix: &str,
    name: String,
    file_type: &str,
    category: FileCategory,
) -> FileRecord {
    let now = OffsetDateTime::now_utc();
    FileRecord {
        file_id: format!("{}-{suffix}", main.file_id),
        asset_id: main.asset_id.clone(),
        project_id: main.project_id.clone(),
        file_name: name,
        file_md5: None,
        file_size: None,
        file_type: file_type.to_owned(),
        asset_file_category: category,
        state: FileState::Created,
        reason: None,
        block_reason_code: None,
        multipart_count: None,
        blob_key: None,
        video_transcoding_status: None,
        content_mismatch: None,
        derived: Some(kind),
        create_time: now,
        update_time: now,
        version: 1,
    }
}

fn stem(name: &str) -> &str {
    name.rsplit_once('.').map_or(name, |(s, _)| s)
}

async fn store_derived(
    ctx: &JobContext,
    mut record: FileRecord,
    path: &Path,
) -> Result<(FileRecord, Stored), JobFailure> {
    let stored = ctx.storage.store_file(path).await?;
    record.file_size = Some(stored.blob.size);
    record.file_md5 = Some(stored.blob.md5.clone());
    record.blob_key = Some(stored.key());
    Ok((record, stored))
}

async fn load(
    ctx: &JobContext,
    asset_id: &str,
    file_id: &str,
) -> Result<Option<(Asset, FileRecord)>, JobFailure> {
    let Some(asset) = ctx.catalog.asset(asset_id).await? else {
        return Ok(None);
    };
    let Some(file) = ctx.catalog.file(file_id).await? else {
        return Ok(None);
    };
    Ok(Some((asset, file)))
}

/// Read-modify-write of one asset from a job (see [`super::governance::change_asset`]).
async fn update_asset(
    ctx: &JobContext,
    asset_id: &str,
    change: impl Fn(&mut Asset) + Sync,
) -> Result<(), JobFailure> {
    super::governance::change_asset(ctx, asset_id, |asset| {
        change(asset);
        true
    })
    .await
}

fn deleted(asset: &Asset) -> bool {
    matches!(
        asset.asset_state,
        AssetState::Deleting | AssetState::Deleted
    )
}

/// Runs the whole pipeline for one MAIN file.
pub async fn process_main_file(
    ctx: &JobContext,
    asset_id: &str,
    file_id: &str,
) -> Result<(), JobFailure> {
    let Some((asset, file)) = load(ctx, asset_id, file_id).await? else {
        return Ok(());
    };
    if file.state != FileState::Uploaded {
        return Ok(());
    }
    if let Some(reason) = &file.content_mismatch {
        return Err(permanent("content_mismatch", reason.clone()));
    }
    if already_made(ctx, &file).await? {
        // Replicated along with what processing makes from it (`service::replication`):
        // only this library's review is left.
        progress::report(ctx, file_id, Step::Reviewing, None).await;
        let verdict = review::review(ctx, &asset, &file, &asset.asset_extra_meta).await?;
        let out = Processed {
            transcoding: file.video_transcoding_status,
            ..Processed::default()
        };
        return commit(ctx, asset_id, file_id, out, verdict).await;
    }
    let Some(key) = file.blob_key.as_deref().and_then(BlobKey::parse) else {
        return Err(permanent(
            "content_missing",
            "the main file has no stored bytes",
        ));
    };
    let work = JobDir::new(&ctx.config.data_dir.join("work"))
        .map_err(|e| JobFailure::Retryable(format!("work directory: {e}")))?;
    let blobs = ctx.storage.blobs();
    let input = match blobs.local_path(&key) {
        Some(path) => path,
        None => {
            let path = work.path().join(format!("input.{}", file.file_type));
            blobs.download_to(&key, &path).await?;
            path
        }
    };
    let mut out = Processed::default();
    let first = match asset.asset_type {
        AssetType::Image => Step::Thumbnail,
        AssetType::Ppt => Step::Converting,
        _ => Step::Probing,
    };
    progress::report(ctx, file_id, first, None).await;
    match asset.asset_type {
        AssetType::Image => {
            process_image(ctx, &asset, &file, &input, work.path(), &mut out).await?
        }
        AssetType::Video => {
            process_video(ctx, &asset, &file, &input, work.path(), &mut out).await?
        }
        AssetType::Audio | AssetType::Music => {
            process_audio(ctx, &input, work.path(), &mut out).await?
        }
        AssetType::Ppt => process_deck(ctx, &asset, &file, &input, work.path(), &mut out).await?,
        _ => {}
    }
    let mut merged = asset.asset_extra_meta.clone();
    merged.merge(out.meta.clone());
    progress::report(ctx, file_id, Step::Reviewing, None).await;
    let verdict = review::review(ctx, &asset, &file, &merged).await?;
    commit(ctx, asset_id, file_id, out, verdict).await
}

async fn process_image(
    ctx: &JobContext,
    asset: &Asset,
    file: &FileRecord,
    input: &Path,
    work: &Path,
    out: &mut Processed,
) -> Result<(), JobFailure> {
    let path = input.to_path_buf();
    let max_pixels = ctx.config.max_image_pixels;
    let side = ctx.config.thumbnail_size;
    let size = tokio::fs::metadata(input)
        .await
        .map(|m| m.len())
        .map_err(|e| JobFailure::Retryable(e.to_string()))?;
    let result = tokio::task::spawn_blocking(move || {
        let header = img::read_header(&path)?;
        img::check_pixels(&header, max_pixels)?;
        let thumb = img::thumbnail(&path, side, max_pixels)?;
        // Reported as displayed, like the thumbnail (and like rotated videos).
        let shown = if img::exif_swaps_sides(&path) {
            header.transposed()
        } else {
            header
        };
        Ok::<_, img::ImageError>((shown, thumb))
    })
    .await
    .map_err(|e| permanent("media_invalid", format!("image decoder crashed: {e}")))?;
    let (header, thumb) = result.map_err(|e| {
        // Reading the file or encoding the thumbnail failing is ours to retry, not the image's.
        if e.is_permanent() {
            permanent("media_invalid", e.to_string())
        } else {
            JobFailure::Retryable(format!("image: {e}"))
        }
    })?;
    out.meta.image_meta = Some(img::image_meta(&header, size));
    let thumb_path = work.join("thumbnail.jpg");
    tokio::fs::write(&thumb_path, thumb)
        .await
        .map_err(|e| JobFailure::Retryable(e.to_string()))?;
    let record = derived_record(
        file,
        Derived::Thumbnail,
        "thumb",
        format!("{}.thumb.jpg", stem(&file.file_name)),
        "jpg",
        FileCategory::Other,
    );
    out.add(store_derived(ctx, record, &thumb_path).await?);
    if asset.is_need_generate_cover {
        // An upright JPEG of the image, smaller than the original.
        let (path, max_pixels) = (input.to_path_buf(), ctx.config.max_image_pixels);
        let cover = tokio::task::spawn_blocking(move || {
            img::thumbnail(&path, IMAGE_COVER_SIDE, max_pixels)
        })
        .await
        .map_err(|e| JobFailure::Retryable(format!("cover crashed: {e}")))?
        .map_err(|e| JobFailure::Retryable(format!("cover: {e}")))?;
        let cover_path = work.join("cover.jpg");
        tokio::fs::write(&cover_path, cover)
            .await
            .map_err(|e| JobFailure::Retryable(e.to_string()))?;
        add_cover(ctx, asset, file, &cover_path, out).await?;
    }
    Ok(())
}

/// Longest side of the cover generated for an image, in pixels.
const IMAGE_COVER_SIDE: u32 = 1280;

async fn probe_input(ctx: &JobContext, input: &Path, work: &Path) -> Result<Probe, JobFailure> {
    probe::probe(&ctx.runner, input, work)
        .await
        .map_err(|e| match e {
            probe::ProbeError::Tool(t) => tool_failure("probing the file", t),
            other => permanent("media_invalid", format!("probing the file: {other}")),
        })
}

async fn process_audio(
    ctx: &JobContext,
    input: &Path,
    work: &Path,
    out: &mut Processed,
) -> Result<(), JobFailure> {
    let mut probed = probe_input(ctx, input, work).await?;
    if probed.audio.is_none() {
        return Err(permanent("media_invalid", "the file has no audio stream"));
    }
    // Review judges this duration: it must be what the file holds, not what its header says.
    probed.duration_secs = Some(audio_present(ctx, input, work).await?);
    out.meta.audio_meta = Some(probed.audio_meta());
    Ok(())
}

/// How long the audio of `input` really lasts: counted from a PCM WAV's sample bytes, else
/// from the packets ffmpeg finds (see [`measure`]).
async fn audio_present(ctx: &JobContext, input: &Path, work: &Path) -> Result<f64, JobFailure> {
    let path = input.to_path_buf();
    let wav = tokio::task::spawn_blocking(move || measure::wav_pcm_duration(&path))
        .await
        .map_err(|e| JobFailure::Retryable(format!("reading the WAV header crashed: {e}")))?
        .map_err(|e| JobFailure::Retryable(format!("reading the file: {e}")))?;
    if let Some(secs) = wav {
        return Ok(secs);
    }
    let timeout = Duration::from_secs(ctx.config.tool_timeout_secs);
    measure::present_duration(&ctx.runner, input, StreamKind::Audio, work, timeout)
        .await
        .map_err(|e| tool_failure("reading the audio stream", e))?
        .ok_or_else(|| permanent("media_invalid", "the audio stream holds no data"))
}

/// Fails a video whose frames stop well before the duration its header declares (a file cut
/// short keeps a header that describes all of it).
async fn check_video_present(
    ctx: &JobContext,
    probed: &Probe,
    input: &Path,
    work: &Path,
) -> Result<(), JobFailure> {
    let timeout = Duration::from_secs(ctx.config.tool_timeout_secs);
    let present = measure::present_duration(&ctx.runner, input, StreamKind::Video, work, timeout)
        .await
        .map_err(|e| tool_failure("reading the video stream", e))?;
    match (present, probed.duration_secs) {
        (None, _) => Err(permanent(
            "media_invalid",
            "the video stream holds no frames",
        )),
        (Some(present), Some(declared)) if measure::falls_short(present, declared) => {
            Err(permanent(
                "media_truncated",
                format!(
                    "the file is truncated or damaged: its video stops at {present:.1} s of \
                     the {declared:.1} s its header declares"
                ),
            ))
        }
        _ => Ok(()),
    }
}

async fn process_video(
    ctx: &JobContext,
    asset: &Asset,
    file: &FileRecord,
    input: &Path,
    work: &Path,
    out: &mut Processed,
) -> Result<(), JobFailure> {
    let probed = probe_input(ctx, input, work).await?;
    if probed.video.is_none() {
        return Err(permanent("media_invalid", "the file has no video stream"));
    }
    check_video_present(ctx, &probed, input, work).await?;
    let mut meta = probed.video_meta();
    let timeout = Duration::from_secs(ctx.config.tool_timeout_secs);

    // One representative frame serves as cover and as the thumbnail's source.
    let frame = work.join("frame.jpg");
    progress::report(ctx, &file.file_id, Step::Cover, None).await;
    video::extract_cover(&ctx.runner, input, probed.duration_secs, &frame, work)
        .await
        .map_err(|e| tool_failure("extracting a frame", e))?;
    add_cover(ctx, asset, file, &frame, out).await?;
    add_thumbnail(ctx, file, &frame, work, out).await?;

    let limits = WebLimits {
        max_width: ctx.config.web_max_width,
        max_height: ctx.config.web_max_height,
        max_fps: ctx.config.web_max_fps,
    };
    let web_type = matches!(file.file_type.as_str(), "mp4" | "m4v");
    let status = if web_type && probed.is_web_standard(&limits) {
        TranscodingStatus::Succeeded
    } else {
        set_transcoding(
            ctx,
            &asset.asset_id,
            &file.file_id,
            TranscodingStatus::Transcoding,
        )
        .await?;
        let rendition = work.join("web.mp4");
        let report_file = work.join("progress.txt");
        let transcode = video::transcode_web_reporting(
            &ctx.runner,
            input,
            &rendition,
            &limits,
            work,
            timeout,
            &report_file,
        );
        let follow =
            progress::follow_transcode(ctx, &file.file_id, &report_file, probed.duration_secs);
        let transcoded = tokio::select! {
            result = transcode => result,
            () = follow => unreachable!("following never ends by itself"),
        };
        match transcoded {
            Ok(()) => {
                progress::report(ctx, &file.file_id, Step::Transcoding, Some(100)).await;
                let mut record = derived_record(
                    file,
                    Derived::Rendition,
                    "web",
                    format!("{}.web.mp4", stem(&file.file_name)),
                    "mp4",
                    FileCategory::Other,
                );
                record.video_transcoding_status = Some(TranscodingStatus::Succeeded);
                out.add(store_derived(ctx, record, &rendition).await?);
                TranscodingStatus::Succeeded
            }
            Err(e) if e.is_permanent() => {
                meta.error_info = Some(ErrorInfo {
                    error_code: Some("MSS.10002002".into()),
                    error_msg: Some(format!("transcoding failed: {e}")),
                });
                TranscodingStatus::Failed
            }
            Err(e) => return Err(JobFailure::Retryable(format!("transcoding: {e}"))),
        }
    };
    meta.video_transcoding_status = Some(status);
    out.transcoding = Some(status);
    out.meta.video_meta = Some(meta);
    Ok(())
}

/// Whether files processing makes from `main` exist already. Processing records its outputs
/// in the same write that settles the MAIN file, so before that only replication makes them.
async fn already_made(ctx: &JobContext, main: &FileRecord) -> Result<bool, JobFailure> {
    Ok(ctx
        .catalog
        .files_of(std::slice::from_ref(&main.asset_id))
        .await?
        .iter()
        .any(|f| f.made_from(&main.file_id) && f.state == FileState::Created))
}

/// Stores the JPEG at `source` as the asset's generated cover when it asked for one
/// (`is_need_generate_cover`) and has no uploaded cover.
async fn add_cover(
    ctx: &JobContext,
    asset: &Asset,
    file: &FileRecord,
    source: &Path,
    out: &mut Processed,
) -> Result<(), JobFailure> {
    if !asset.is_need_generate_cover || has_live_cover(ctx, &asset.asset_id).await? {
        return Ok(());
    }
    let record = derived_record(
        file,
        Derived::Cover,
        "cover",
        format!("{}.cover.jpg", stem(&file.file_name)),
        "jpg",
        FileCategory::Cover,
    );
    out.add(store_derived(ctx, record, source).await?);
    Ok(())
}

/// Makes and stores the thumbnail of the image at `source` (a video frame, a deck's first
/// page).
async fn add_thumbnail(
    ctx: &JobContext,
    file: &FileRecord,
    source: &Path,
    work: &Path,
    out: &mut Processed,
) -> Result<(), JobFailure> {
    let (source, side, max_pixels) = (
        source.to_path_buf(),
        ctx.config.thumbnail_size,
        ctx.config.max_image_pixels,
    );
    let thumb = tokio::task::spawn_blocking(move || img::thumbnail(&source, side, max_pixels))
        .await
        .map_err(|e| JobFailure::Retryable(format!("thumbnail crashed: {e}")))?
        .map_err(|e| JobFailure::Retryable(format!("thumbnail: {e}")))?;
    let thumb_path = work.join("thumbnail.jpg");
    tokio::fs::write(&thumb_path, thumb)
        .await
        .map_err(|e| JobFailure::Retryable(e.to_string()))?;
    let record = derived_record(
        file,
        Derived::Thumbnail,
        "thumb",
        format!("{}.thumb.jpg", stem(&file.file_name)),
        "jpg",
        FileCategory::Other,
    );
    out.add(store_derived(ctx, record, &thumb_path).await?);
    Ok(())
}

async fn has_live_cover(ctx: &JobContext, asset_id: &str) -> Result<bool, JobFailure> {
    Ok(ctx
        .catalog
        .files_of(&[asset_id.to_owned()])
        .await?
        .iter()
        .any(|f| {
            f.asset_file_category == FileCategory::Cover
                && f.derived.is_none()
                && !matches!(
                    f.state,
                    FileState::Failed
                        | FileState::Cancelled
                        | FileState::Deleting
                        | FileState::Deleted
                )
        }))
}

async fn set_transcoding(
    ctx: &JobContext,
    asset_id: &str,
    file_id: &str,
    status: TranscodingStatus,
) -> Result<(), JobFailure> {
    update_asset(ctx, asset_id, |a| {
        a.asset_extra_meta
            .video_meta
            .get_or_insert_with(Default::default)
            .video_transcoding_status = Some(status);
    })
    .await?;
    ctx.catalog
        .update(
            || async move {
                let Some(mut file) = ctx.catalog.file(file_id).await? else {
                    return Ok(Change::Keep(()));
                };
                file.video_transcoding_status = Some(status);
                let write = Write {
                    files: vec![file],
                    ..Write::default()
                };
                Ok(Change::Commit(write, ()))
            },
            || JobFailure::Retryable("file kept changing".into()),
        )
        .await
}

fn set_ppt(asset: &mut Asset, change: impl FnOnce(&mut PptAssetMeta)) {
    change(
        asset
            .asset_extra_meta
            .ppt_meta
            .get_or_insert_with(Default::default),
    );
}

async fn process_deck(
    ctx: &JobContext,
    asset: &Asset,
    file: &FileRecord,
    input: &Path,
    work: &Path,
    out: &mut Processed,
) -> Result<(), JobFailure> {
    let wanted = asset
        .asset_extra_meta
        .ppt_meta
        .as_ref()
        .and_then(|m| m.auto_analysis)
        .unwrap_or(false);
    if !wanted {
        return Ok(());
    }
    update_asset(ctx, &asset.asset_id, |a| {
        set_ppt(a, |m| {
            m.ppt_analysis_status = Some(PptAnalysisStatus::Converting)
        })
    })
    .await?;
    let timeout = Duration::from_secs(ctx.config.tool_timeout_secs);
    let pdf: PathBuf = if file.file_type == "pdf" {
        input.to_path_buf()
    } else {
        slides::to_pdf(&ctx.runner, input, work, timeout)
            .await
            .map_err(deck_failure)?
    };
    let count = slides::page_count(&ctx.runner, &pdf, work)
        .await
        .map_err(deck_failure)?;
    let render = count.min(MAX_PAGES);
    progress::report(ctx, &file.file_id, Step::RenderingPages, None).await;
    let pages = slides::render_pages(
        &ctx.runner,
        &pdf,
        render,
        slides::PageSize::LongSide(ctx.config.page_long_side),
        work,
        timeout,
    )
    .await
    .map_err(deck_failure)?;
    let mut infos = Vec::new();
    let mut failed = Vec::new();
    let mut first_page = None;
    for page in pages {
        match page.image {
            Ok(path) => {
                if page.page_no == 1 {
                    first_page = Some(path.clone());
                }
                let record = derived_record(
                    file,
                    Derived::Page,
                    &format!("page-{:03}", page.page_no),
                    format!("{}.page-{:03}.jpg", stem(&file.file_name), page.page_no),
                    "jpg",
                    FileCategory::Page,
                );
                let stored = out.add(store_derived(ctx, record, &path).await?);
                infos.push(PptPageInfo {
                    page_no: Some(page.page_no as i32),
                    file_id: Some(stored.file_id.clone()),
                    page_content: Some(page.text.chars().take(MAX_PAGE_TEXT).collect()),
                });
            }
            Err(reason) => failed.push(format!("page {}: {reason}", page.page_no)),
        }
    }
    // Page 1 is already rendered: it is the deck's thumbnail, and its cover if it wants one.
    if let Some(page) = &first_page {
        add_thumbnail(ctx, file, page, work, out).await?;
        add_cover(ctx, asset, file, page, out).await?;
    }
    let meta = out.meta.ppt_meta.get_or_insert_with(Default::default);
    // The real count, even past the 50 pages rendered (and the seed's 256).
    meta.page_count = Some(i32::try_from(count).unwrap_or(i32::MAX));
    meta.pages = Some(infos);
    if failed.is_empty() {
        meta.ppt_analysis_status = Some(PptAnalysisStatus::Succeeded);
    } else {
        meta.ppt_analysis_status = Some(if failed.len() as u32 == render {
            PptAnalysisStatus::Failed
        } else {
            PptAnalysisStatus::Succeeded
        });
        meta.error_info = Some(ErrorInfo {
            error_code: Some("MSS.10002003".into()),
            error_msg: Some(format!(
                "some pages failed to render: {}",
                failed.join("; ")
            )),
        });
    }
    Ok(())
}

fn deck_failure(e: slides::SlidesError) -> JobFailure {
    // Each error already names its step ("converting the deck to PDF failed: …").
    if e.is_permanent() {
        permanent("deck_invalid", e.to_string())
    } else {
        JobFailure::Retryable(e.to_string())
    }
}

/// Records the results and settles file and asset by the review's verdict, in one write.
async fn commit(
    ctx: &JobContext,
    asset_id: &str,
    file_id: &str,
    out: Processed,
    verdict: Verdict,
) -> Result<(), JobFailure> {
    let attempt = || settle(ctx, asset_id, file_id, &out, &verdict);
    if ctx.catalog.update(attempt, super::governance::busy).await? {
        tracing::info!(asset.id = %asset_id, file.id = %file_id, derived = out.derived.len(), "main file processed");
        out.stored.into_iter().for_each(Stored::recorded);
    }
    Ok(())
}

/// One attempt of [`commit`] on fresh records; `Keep(false)` when the MAIN file is no longer
/// waiting for its results.
async fn settle(
    ctx: &JobContext,
    asset_id: &str,
    file_id: &str,
    out: &Processed,
    verdict: &Verdict,
) -> Result<Change<bool>, JobFailure> {
    let Some((mut asset, mut file)) = load(ctx, asset_id, file_id).await? else {
        return Ok(Change::Keep(false));
    };
    if file.state != FileState::Uploaded {
        // Nothing will refer to the outputs just stored: dropping `out` removes them.
        return Ok(Change::Keep(false));
    }
    let now = OffsetDateTime::now_utc();
    let patch = AssetExtraMeta {
        image_meta: out.meta.image_meta.clone(),
        video_meta: out.meta.video_meta.clone(),
        audio_meta: out.meta.audio_meta.clone(),
        ppt_meta: out.meta.ppt_meta.clone(),
        ..AssetExtraMeta::default()
    };
    asset.asset_extra_meta.merge(patch);
    asset.asset_extra_meta = std::mem::take(&mut asset.asset_extra_meta).for_type(asset.asset_type);
    if deleted(&asset) {
        if let Some(meta) = asset.asset_extra_meta.ppt_meta.as_mut() {
            if meta.ppt_analysis_status.is_some() {
                meta.ppt_analysis_status = Some(PptAnalysisStatus::Canceled);
            }
        }
    }
    match verdict {
        Verdict::Pass => {
            activate(&mut asset);
            file.state = FileState::Created;
        }
        Verdict::Manual(reason) => {
            file.state = FileState::Review;
            file.reason = Some(format!("waiting for manual review: {reason}"));
        }
        Verdict::Reject(reason) => {
            file.state = FileState::Failed;
            file.reason = Some(reason.clone());
            reject(&mut asset, FailType::AutomaticReviewReject, reason);
        }
    }
    asset.update_time = now;
    file.video_transcoding_status = out.transcoding;
    file.update_time = now;
    let known: Vec<FileRecord> = ctx.catalog.files_of(&[asset_id.to_owned()]).await?;
    let mut write = Write {
        assets: vec![asset],
        files: vec![file],
        stored_blobs: out.stored.iter().map(|s| s.blob.clone()).collect(),
        ..Write::default()
    };
    for derived in &out.derived {
        match known.iter().find(|f| f.file_id == derived.file_id) {
            Some(existing) => {
                let mut updated = derived.clone();
                updated.version = existing.version;
                write.files.push(updated);
            }
            None => write.new_files.push(derived.clone()),
        }
    }
    Ok(Change::Commit(write, true))
}

/// Marks the MAIN file and its asset FAILED after the job gave up.
pub async fn fail_main_file(
    ctx: &JobContext,
    asset_id: &str,
    file_id: &str,
    reason: &str,
) -> Result<(), JobFailure> {
    let reason = without_data_dir(reason, &ctx.config.data_dir);
    let attempt = || fail_attempt(ctx, asset_id, file_id, &reason);
    ctx.catalog.update(attempt, super::governance::busy).await
}

/// `reason` with the server's data directory taken out of any path in it (tools already
/// name files, not paths; this catches the rest): reasons reach clients.
fn without_data_dir(reason: &str, data_dir: &Path) -> String {
    let mut dirs = vec![data_dir.to_path_buf()];
    dirs.extend(std::fs::canonicalize(data_dir));
    dirs.iter()
        .filter_map(|d| d.to_str())
        .filter(|d| d.len() > 1)
        .fold(reason.to_owned(), |reason, dir| {
            reason.replace(&format!("{dir}/"), "").replace(dir, "")
        })
}

/// One attempt of [`fail_main_file`] on fresh records.
async fn fail_attempt(
    ctx: &JobContext,
    asset_id: &str,
    file_id: &str,
    reason: &str,
) -> Result<Change<()>, JobFailure> {
    let Some((mut asset, mut file)) = load(ctx, asset_id, file_id).await? else {
        return Ok(Change::Keep(()));
    };
    if file.state != FileState::Uploaded {
        return Ok(Change::Keep(()));
    }
    let now = OffsetDateTime::now_utc();
    file.state = FileState::Failed;
    file.reason = Some(reason.to_owned());
    file.update_time = now;
    if file.video_transcoding_status.is_some() {
        file.video_transcoding_status = Some(TranscodingStatus::Failed);
    }
    let message = format!("main file {}: {reason}", file.file_name);
    match asset.asset_state {
        AssetState::Creating => {
            asset.asset_state = AssetState::Failed;
            asset.reason = Some(message);
        }
        AssetState::Deleting if asset.state_before_delete == Some(AssetState::Creating) => {
            asset.state_before_delete = Some(AssetState::Failed);
            asset.reason = Some(message);
        }
        _ => {}
    }
    let error = ErrorInfo {
        error_code: Some("MSS.10002001".into()),
        error_msg: Some(reason.to_owned()),
    };
    let gone = deleted(&asset);
    if let Some(meta) = asset.asset_extra_meta.ppt_meta.as_mut() {
        if meta.ppt_analysis_status.is_some() {
            meta.ppt_analysis_status = Some(if gone {
                PptAnalysisStatus::Canceled
            } else {
                PptAnalysisStatus::Failed
            });
            meta.error_info = Some(error.clone());
        }
    }
    if let Some(meta) = asset.asset_extra_meta.video_meta.as_mut() {
        if meta.video_transcoding_status.is_some() {
            meta.video_transcoding_status = Some(TranscodingStatus::Failed);
        }
    }
    asset.update_time = now;
    let write = Write {
        assets: vec![asset],
        files: vec![file],
        ..Write::default()
    };
    Ok(Change::Commit(write, ()))
}
