//! What a MAIN-file job is doing right now, for `show_asset`'s `processing` field: the job
//! records its step (and, while transcoding, the percent done from ffmpeg's `-progress`) on
//! its own row in the queue, so every server sees it and it goes away with the job.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::JobContext;
use crate::media::video;

/// A step of processing a MAIN file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Waiting for a free worker (or for the next attempt after a failure).
    Queued,
    /// Reading the file's metadata.
    Probing,
    /// Making the preview image.
    Thumbnail,
    /// Taking a frame for the cover.
    Cover,
    /// Converting the video to H.264/AAC MP4.
    Transcoding,
    /// Converting a deck to PDF.
    Converting,
    /// Rendering pages to images.
    RenderingPages,
    /// Content review.
    Reviewing,
}

/// The report a job stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The step.
    pub step: Step,
    /// Percent done, when the step knows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<u8>,
}

/// The queue key of a file's processing job.
pub fn job_key(file_id: &str) -> String {
    crate::catalog::Job::processing_key(file_id)
}

/// Records that the job processing `file_id` entered `step`. Reporting is best effort: a
/// failure is logged and never fails the job.
pub async fn report(ctx: &JobContext, file_id: &str, step: Step, percent: Option<u8>) {
    let json = serde_json::to_string(&Report { step, percent }).expect("reports serialize");
    if let Err(e) = ctx.catalog.set_job_progress(&job_key(file_id), &json).await {
        tracing::debug!(error = %e, "could not record job progress");
    }
}

/// Percent of `total` that `done` is, capped at 100.
pub fn percent(done: Duration, total: Duration) -> u8 {
    if total.is_zero() {
        return 0;
    }
    (done.as_secs_f64() / total.as_secs_f64() * 100.0).clamp(0.0, 100.0) as u8
}

/// Reports `Transcoding` with the percent done every second from ffmpeg's progress file,
/// until dropped (the caller races it against the transcode).
pub async fn follow_transcode(
    ctx: &JobContext,
    file_id: &str,
    progress_file: &Path,
    duration: Option<f64>,
) {
    let total = duration
        .filter(|d| d.is_finite() && *d > 0.0)
        .map(Duration::from_secs_f64);
    report(ctx, file_id, Step::Transcoding, total.map(|_| 0)).await;
    let Some(total) = total else {
        // Without a duration there is no percent; the step is all there is to say.
        return std::future::pending().await;
    };
    let mut last = 0;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Ok(text) = tokio::fs::read_to_string(progress_file).await else {
            continue;
        };
        let Some(now) = video::read_progress(&text) else {
            continue;
        };
        // 100 is reported once the rendition is stored, not while ffmpeg finishes writing.
        let done = percent(now.out_time, total).min(99);
        if done != last {
            last = done;
            report(ctx, file_id, Step::Transcoding, Some(done)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_is_bounded_and_safe_for_zero_totals() {
        let s = Duration::from_secs;
        assert_eq!(percent(s(1), s(4)), 25);
        assert_eq!(percent(s(5), s(4)), 100);
        assert_eq!(percent(s(1), Duration::ZERO), 0);
    }

    #[test]
    fn reports_are_small_json_documents() {
        let r = Report {
            step: Step::RenderingPages,
            percent: None,
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"step":"rendering_pages"}"#
        );
    }
}
