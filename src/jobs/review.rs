//! Content review: the stage between processing and ACTIVED. Deny-listed content (by MD5) is
//! always rejected; otherwise `no_need_review` is honoured for whitelisted projects, and for
//! everyone else the duration rule runs, then the external reviewer when one is configured. A reviewer
//! that fails or does not answer in time sends the file to the manual queue: nothing
//! unreviewed becomes usable.

use std::time::Duration;

use base64::Engine;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{JobContext, JobFailure};
use crate::catalog::{Asset, FileRecord};
use crate::model::AssetExtraMeta;

/// What review decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Usable.
    Pass,
    /// A person must decide; the reason says why it was not decided automatically.
    Manual(String),
    /// Rejected automatically, with the reason.
    Reject(String),
}

/// What the external reviewer receives.
#[derive(Debug, Serialize)]
struct ReviewRequest<'a> {
    project_id: &'a str,
    asset_id: &'a str,
    asset_name: &'a str,
    asset_type: &'a str,
    file_id: &'a str,
    file_name: &'a str,
    file_type: &'a str,
    file_size: Option<i64>,
    file_md5: Option<&'a str>,
    asset_extra_meta: &'a AssetExtraMeta,
    download_url: String,
}

/// What the external reviewer answers.
#[derive(Debug, Deserialize)]
struct ReviewAnswer {
    verdict: String,
    #[serde(default)]
    reason: Option<String>,
}

/// Normalises an MD5 given as RFC 1864 base64 or as hex to base64.
fn md5_b64(value: &str) -> Option<String> {
    let value = value.trim();
    if value.len() == 32 {
        let bytes = hex::decode(value).ok()?;
        return Some(base64::engine::general_purpose::STANDARD.encode(bytes));
    }
    crate::model::files::decode_md5(value)
        .map(|b| base64::engine::general_purpose::STANDARD.encode(b))
}

/// The deny-list rule: content whose MD5 is listed is rejected, whitelist or not.
pub fn deny_listed(deny_md5: &[String], file: &FileRecord) -> Option<String> {
    let md5 = file.file_md5.as_deref()?;
    deny_md5
        .iter()
        .filter_map(|d| md5_b64(d))
        .any(|d| d == md5)
        .then(|| "the content is on the deny-list".to_owned())
}

/// The duration rule: video or audio longer than the limit is rejected.
pub fn too_long(max_duration: Option<u64>, meta: &AssetExtraMeta) -> Option<String> {
    let limit = max_duration?;
    let d = meta
        .video_meta
        .as_ref()
        .and_then(|m| m.duration)
        .or_else(|| meta.audio_meta.as_ref().and_then(|m| m.duration))?;
    (u64::try_from(d).unwrap_or(0) > limit)
        .then(|| format!("the media is {d} s long; at most {limit} s is allowed"))
}

/// Reviews a processed MAIN file.
pub async fn review(
    ctx: &JobContext,
    asset: &Asset,
    file: &FileRecord,
    meta: &AssetExtraMeta,
) -> Result<Verdict, JobFailure> {
    let skip = asset
        .review_config
        .as_ref()
        .and_then(|c| c.no_need_review)
        .unwrap_or(false);
    if let Some(reason) = deny_listed(&ctx.config.review_deny_md5, file) {
        return Ok(Verdict::Reject(reason));
    }
    if skip && ctx.catalog.review_whitelisted(&asset.project_id).await? {
        return Ok(Verdict::Pass);
    }
    if let Some(reason) = too_long(ctx.config.review_max_duration_secs, meta) {
        return Ok(Verdict::Reject(reason));
    }
    let Some(url) = &ctx.config.review_url else {
        return Ok(Verdict::Pass);
    };
    let request = ReviewRequest {
        project_id: &asset.project_id,
        asset_id: &asset.asset_id,
        asset_name: &asset.asset_name,
        asset_type: asset.asset_type.as_str(),
        file_id: &file.file_id,
        file_name: &file.file_name,
        file_type: &file.file_type,
        file_size: file.file_size,
        file_md5: file.file_md5.as_deref(),
        asset_extra_meta: meta,
        download_url: ctx
            .links
            .download_url(&file.file_id, true, OffsetDateTime::now_utc()),
    };
    let answer = ctx
        .http
        .post(url)
        .timeout(Duration::from_secs(ctx.config.review_timeout_secs))
        .json(&request)
        .send()
        .await;
    let response = match answer {
        Ok(r) if r.status().is_success() => r,
        Ok(r) => {
            return Ok(Verdict::Manual(format!(
                "the automatic reviewer answered {}",
                r.status()
            )))
        }
        Err(e) if e.is_timeout() => {
            return Ok(Verdict::Manual(
                "the automatic reviewer did not answer in time".to_owned(),
            ))
        }
        Err(e) => {
            return Ok(Verdict::Manual(format!(
                "the automatic reviewer could not be reached: {}",
                e.without_url()
            )))
        }
    };
    let answer: ReviewAnswer = match response.json().await {
        Ok(a) => a,
        Err(_) => {
            return Ok(Verdict::Manual(
                "the automatic reviewer's answer was not understood".to_owned(),
            ))
        }
    };
    let reason = answer.reason.unwrap_or_default();
    Ok(match answer.verdict.to_ascii_uppercase().as_str() {
        "PASS" => Verdict::Pass,
        "REJECT" if reason.is_empty() => {
            Verdict::Reject("rejected by the automatic reviewer".to_owned())
        }
        "REJECT" => Verdict::Reject(reason),
        _ if reason.is_empty() => {
            Verdict::Manual("the automatic reviewer asked for a person".to_owned())
        }
        _ => Verdict::Manual(reason),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(md5: &str) -> FileRecord {
        serde_json::from_value(serde_json::json!({
            "file_id": "f", "asset_id": "a", "project_id": "p", "file_name": "x.mp4",
            "file_md5": md5, "file_size": 1, "file_type": "mp4", "asset_file_category": "MAIN",
            "state": "UPLOADED", "reason": null, "block_reason_code": null, "multipart_count": null,
            "blob_key": null, "video_transcoding_status": null,
            "create_time": "2025-01-01T00:00:00Z", "update_time": "2025-01-01T00:00:00Z"
        }))
        .unwrap()
    }

    #[test]
    fn the_deny_list_matches_hex_or_base64_md5s() {
        let f = file("1B2M2Y8AsgTpgAmY7PhCfg==");
        assert!(deny_listed(&["d41d8cd98f00b204e9800998ecf8427e".into()], &f).is_some());
        assert!(deny_listed(&["1B2M2Y8AsgTpgAmY7PhCfg==".into()], &f).is_some());
        assert!(deny_listed(&["00000000000000000000000000000000".into()], &f).is_none());
    }

    #[test]
    fn media_over_the_duration_limit_is_rejected() {
        let meta: AssetExtraMeta =
            serde_json::from_value(serde_json::json!({"video_meta": {"duration": 61}})).unwrap();
        assert!(too_long(Some(60), &meta).is_some());
        assert!(too_long(Some(61), &meta).is_none());
        assert!(too_long(None, &meta).is_none());
    }
}
