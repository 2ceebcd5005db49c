//! `assetd client upload`: for each file, the MD5, `create_digital_asset`, `create_file`, a
//! PUT of the bytes with `Content-MD5` and a progress bar, and `confirm_file_upload`. Files
//! over the large-file threshold go through `create_large_file` in parallel parts; the ids and
//! part URLs are kept in a state file so a rerun after an interruption asks the server which
//! parts it already has (`HEAD` on each part URL) and sends only the rest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use futures::{StreamExt, TryStreamExt};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::api::{error_from, read_json, Api, ApiError};
use super::{ClientError, UploadArgs};
use crate::model::AssetType;
use crate::service::files::main_file_rule;

/// At most this many parts (the large-file API allows 1–100).
const MAX_PARTS: u64 = 100;
/// Resume state older than this is not trusted: upload URLs live 24 hours.
const STATE_MAX_AGE: Duration = Duration::from_secs(20 * 3600);

/// One file to upload and the asset type it becomes.
#[derive(Debug, Clone)]
struct Item {
    path: PathBuf,
    asset_type: AssetType,
    name: String,
}

/// What became of one file.
#[derive(Debug, Clone)]
struct Outcome {
    path: PathBuf,
    asset_id: String,
    state: String,
    reason: Option<String>,
    /// Nothing more will happen without a person: ACTIVED, FAILED or in manual review.
    settled: bool,
}

/// The asset type a file extension implies: the first type whose MAIN-file formats list it.
pub fn type_for_extension(ext: &str) -> Option<AssetType> {
    let ext = ext.to_ascii_lowercase();
    [
        AssetType::Video,
        AssetType::Image,
        AssetType::Audio,
        AssetType::Ppt,
    ]
    .into_iter()
    .find(|t| main_file_rule(*t).is_some_and(|(formats, _)| formats.contains(&ext.as_str())))
}

fn extension(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Expands directories (sorted, hidden entries skipped) and decides each file's type.
/// Files named on the command line must have a known type; files found in a directory whose
/// type is unknown are skipped with a note.
fn plan(args: &UploadArgs) -> Result<Vec<Item>, ClientError> {
    let forced = match &args.asset_type {
        Some(t) => Some(
            t.to_ascii_uppercase()
                .parse::<AssetType>()
                .map_err(|e| ClientError::Usage(format!("--type {t}: {e}")))?,
        ),
        None => None,
    };
    let mut found: Vec<(PathBuf, bool)> = Vec::new();
    for path in &args.files {
        let meta = std::fs::metadata(path)
            .map_err(|e| ClientError::Usage(format!("{}: {e}", path.display())))?;
        if meta.is_dir() {
            walk(path, &mut found)?;
        } else {
            found.push((path.clone(), true));
        }
    }
    if args.name.is_some() && found.len() != 1 {
        return Err(ClientError::Usage(format!(
            "--name names one asset, but {} files were given",
            found.len()
        )));
    }
    let mut items = Vec::new();
    for (path, named) in found {
        let ext = extension(&path);
        let asset_type = match forced.or_else(|| type_for_extension(&ext)) {
            Some(t) => t,
            None if named => {
                return Err(ClientError::Usage(format!(
                    "{}: cannot tell the asset type from \"{ext}\"; pass --type",
                    path.display()
                )))
            }
            None => {
                eprintln!(
                    "skipping {}: cannot tell the asset type from \"{ext}\" (pass --type to upload it)",
                    path.display()
                );
                continue;
            }
        };
        let name = args.name.clone().unwrap_or_else(|| stem(&path));
        items.push(Item {
            path,
            asset_type,
            name,
        });
    }
    if items.is_empty() {
        return Err(ClientError::Usage("nothing to upload".into()));
    }
    Ok(items)
}

fn walk(dir: &Path, out: &mut Vec<(PathBuf, bool)>) -> Result<(), ClientError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| ClientError::Usage(format!("{}: {e}", dir.display())))?
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.is_file() {
            out.push((path, false));
        }
    }
    Ok(())
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{prefix:20!} {bar:30.cyan/blue} {bytes:>10}/{total_bytes:10} {bytes_per_sec:>12} {msg}",
    )
    .expect("the template is valid")
    .progress_chars("=> ")
}

fn local(path: &Path, what: &str, e: impl std::fmt::Display) -> ClientError {
    ClientError::Local(format!("{}: {what}: {e}", path.display()))
}

/// Runs `upload`.
pub async fn run(api: &Api, args: UploadArgs) -> Result<(), ClientError> {
    let items = plan(&args)?;
    let bars = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
    let mut outcomes = Vec::new();
    for item in &items {
        let bar = bars.add(
            ProgressBar::new(0).with_style(bar_style()).with_prefix(
                item.path
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            ),
        );
        let asset_id = upload_one(api, &args, item, &bar).await?;
        bar.finish_with_message("uploaded");
        let outcome = Outcome {
            path: item.path.clone(),
            asset_id,
            state: "CREATING".into(),
            reason: None,
            settled: false,
        };
        if !args.wait {
            print_outcome(&outcome, args.json);
        }
        outcomes.push(outcome);
    }
    if !args.wait {
        return Ok(());
    }
    let outcomes = wait_all(api, outcomes, &bars).await?;
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|o| o.state == "FAILED")
        .map(|o| o.path.display().to_string())
        .collect();
    for outcome in &outcomes {
        print_outcome(outcome, args.json);
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(ClientError::Failed(format!(
            "processing failed for {}",
            failed.join(", ")
        )))
    }
}

fn print_outcome(o: &Outcome, as_json: bool) {
    if as_json {
        let mut line = json!({
            "file": o.path.display().to_string(),
            "asset_id": o.asset_id,
            "asset_state": o.state,
        });
        if let Some(reason) = &o.reason {
            line["reason"] = json!(reason);
        }
        println!("{line}");
    } else {
        match &o.reason {
            Some(reason) => println!(
                "{}  {}  {}: {reason}",
                o.path.display(),
                o.asset_id,
                o.state
            ),
            None => println!("{}  {}  {}", o.path.display(), o.asset_id, o.state),
        }
    }
}

/// Creates the asset and uploads one file; returns the asset id.
async fn upload_one(
    api: &Api,
    args: &UploadArgs,
    item: &Item,
    bar: &ProgressBar,
) -> Result<String, ClientError> {
    let meta = tokio::fs::metadata(&item.path)
        .await
        .map_err(|e| local(&item.path, "reading", e))?;
    let size = meta.len();
    bar.set_length(size);
    if size > args.large_file_bytes {
        return upload_large(api, args, item, size, bar).await;
    }
    bar.set_message("hashing");
    let md5 = file_md5(&item.path).await?;
    let asset_id = create_asset(api, args, item).await?;
    let ext = extension(&item.path);
    let file_name = item
        .path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let created = api
        .call(
            "POST",
            "/files",
            &[],
            Some(&json!({
                "asset_id": asset_id,
                "file_name": file_name,
                "file_md5": md5,
                "file_size": size,
                "file_type": ext,
                "asset_file_category": "MAIN",
            })),
        )
        .await?;
    let file_id = text(&created, "file_id")?;
    let url = text(&created, "upload_url")?;
    bar.set_message("uploading");
    let file = tokio::fs::File::open(&item.path)
        .await
        .map_err(|e| local(&item.path, "opening", e))?;
    let counted = bar.clone();
    let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024)
        .inspect_ok(move |chunk| counted.inc(chunk.len() as u64));
    let response = api
        .http()
        .put(&url)
        .header("content-type", content_type(&ext))
        .header("content-md5", &md5)
        .header("content-length", size)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .map_err(|e| ApiError::Transport(format!("uploading {}: {e}", item.path.display())))?;
    read_json(response).await?;
    confirm(api, &file_id).await?;
    Ok(asset_id)
}

/// The `Content-Type` the SDK sends for a file type.
fn content_type(ext: &str) -> &'static str {
    match ext {
        "gif" => "image/gif",
        "jpeg" | "jpg" => "image/jpeg",
        "png" => "image/png",
        "mp4" => "video/mp4",
        "mp3" => "audio/mp3",
        "wav" => "audio/wav",
        _ => "application/octet-stream",
    }
}

fn text(reply: &Value, key: &str) -> Result<String, ClientError> {
    reply
        .get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            ClientError::Server(ApiError::Transport(format!(
                "the reply has no {key}: {reply}"
            )))
        })
}

async fn create_asset(api: &Api, args: &UploadArgs, item: &Item) -> Result<String, ClientError> {
    let mut body = json!({
        "asset_name": item.name,
        "asset_type": item.asset_type.as_str(),
    });
    if !args.tags.is_empty() {
        body["tags"] = json!(args.tags);
    }
    let reply = api
        .call("POST", "/digital-assets", &[], Some(&body))
        .await?;
    text(&reply, "asset_id")
}

async fn confirm(api: &Api, file_id: &str) -> Result<(), ClientError> {
    api.call(
        "POST",
        &format!("/files/{file_id}/complete"),
        &[],
        Some(&json!({"state": "CREATED"})),
    )
    .await?;
    Ok(())
}

/// RFC 1864 Content-MD5 (base64) of a file, hashed on a blocking thread.
async fn file_md5(path: &Path) -> Result<String, ClientError> {
    let owned = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut file = std::fs::File::open(&owned)?;
        let mut hasher = Md5::new();
        std::io::copy(&mut file, &mut hasher)?;
        Ok::<_, std::io::Error>(base64::engine::general_purpose::STANDARD.encode(hasher.finalize()))
    })
    .await
    .map_err(|e| local(path, "hashing", e))?
    .map_err(|e| local(path, "hashing", e))
}

/// What a large upload remembers between runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ResumeState {
    endpoint: String,
    project_id: String,
    path: PathBuf,
    size: u64,
    modified_ns: u128,
    part_bytes: u64,
    asset_id: String,
    file_id: String,
    upload_urls: Vec<String>,
    created_unix: u64,
}

/// Where resume state lives: `$XDG_STATE_HOME/assetd/uploads` (default
/// `~/.local/state/assetd/uploads`).
fn state_dir() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".local/state"),
    };
    Some(base.join("assetd").join("uploads"))
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn upload_large(
    api: &Api,
    args: &UploadArgs,
    item: &Item,
    size: u64,
    bar: &ProgressBar,
) -> Result<String, ClientError> {
    let path = std::fs::canonicalize(&item.path).map_err(|e| local(&item.path, "reading", e))?;
    let modified_ns = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .map(|t| {
            t.duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos()
        })
        .unwrap_or(0);
    let connection = api.connection();
    let key = hex::encode(Sha256::digest(
        format!(
            "{}\n{}\n{}\n{size}\n{modified_ns}",
            connection.endpoint,
            connection.project_id,
            path.display()
        )
        .as_bytes(),
    ));
    let state_file = state_dir().map(|d| d.join(format!("{key}.json")));
    let saved = state_file
        .as_deref()
        .and_then(|f| std::fs::read(f).ok())
        .and_then(|b| serde_json::from_slice::<ResumeState>(&b).ok())
        .filter(|s| now_unix().saturating_sub(s.created_unix) < STATE_MAX_AGE.as_secs());
    let state = match saved {
        Some(state) => {
            eprintln!(
                "{}: resuming the upload of asset {}",
                item.path.display(),
                state.asset_id
            );
            state
        }
        None => {
            let part_bytes = args.part_bytes.max(size.div_ceil(MAX_PARTS)).max(1);
            let parts = size.div_ceil(part_bytes).max(1);
            let asset_id = create_asset(api, args, item).await?;
            let ext = extension(&item.path);
            let reply = api
                .call(
                    "POST",
                    "/large-files",
                    &[],
                    Some(&json!({
                        "asset_id": asset_id,
                        "file_name": path.file_name().map(|n| n.to_string_lossy().into_owned()),
                        "file_size": size,
                        "file_type": ext,
                        "asset_file_category": "MAIN",
                        "file_multipart_count": parts,
                    })),
                )
                .await?;
            let upload_urls: Vec<String> = reply
                .get("upload_urls")
                .and_then(Value::as_array)
                .map(|urls| {
                    urls.iter()
                        .filter_map(|u| u.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            if upload_urls.len() as u64 != parts {
                return Err(ClientError::Server(ApiError::Transport(format!(
                    "asked for {parts} part URLs, got {}",
                    upload_urls.len()
                ))));
            }
            let state = ResumeState {
                endpoint: connection.endpoint.clone(),
                project_id: connection.project_id.clone(),
                path: path.clone(),
                size,
                modified_ns,
                part_bytes,
                asset_id,
                file_id: text(&reply, "file_id")?,
                upload_urls,
                created_unix: now_unix(),
            };
            if let Some(file) = &state_file {
                save_state(file, &state)?;
            }
            state
        }
    };
    bar.set_message(format!("{} parts", state.upload_urls.len()));
    let parts = state.upload_urls.iter().enumerate().map(|(i, url)| {
        let start = i as u64 * state.part_bytes;
        let len = state.part_bytes.min(size - start);
        upload_part(api, &path, url, start, len, bar)
    });
    futures::stream::iter(parts)
        .buffer_unordered(args.parallel as usize)
        .try_collect::<Vec<()>>()
        .await?;
    confirm(api, &state.file_id).await?;
    if let Some(file) = &state_file {
        std::fs::remove_file(file).ok();
    }
    Ok(state.asset_id)
}

fn save_state(file: &Path, state: &ResumeState) -> Result<(), ClientError> {
    let dir = file.parent().expect("state files live in a directory");
    std::fs::create_dir_all(dir).map_err(|e| local(dir, "creating", e))?;
    #[cfg(unix)]
    {
        // Upload URLs are bearer credentials for the upload: keep them private.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).ok();
    }
    let tmp = file.with_extension("tmp");
    let bytes = serde_json::to_vec_pretty(state).expect("state serializes");
    std::fs::write(&tmp, bytes).map_err(|e| local(&tmp, "writing", e))?;
    std::fs::rename(&tmp, file).map_err(|e| local(file, "writing", e))
}

/// Uploads one part unless the server already has it whole.
async fn upload_part(
    api: &Api,
    path: &Path,
    url: &str,
    start: u64,
    len: u64,
    bar: &ProgressBar,
) -> Result<(), ClientError> {
    let head = api
        .http()
        .head(url)
        .send()
        .await
        .map_err(|e| ApiError::Transport(format!("asking for a part: {e}")))?;
    let stored = head
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if head.status().is_success() && stored == Some(len) {
        bar.inc(len);
        return Ok(());
    }
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| local(path, "opening", e))?;
    file.seek(std::io::SeekFrom::Start(start))
        .await
        .map_err(|e| local(path, "reading", e))?;
    let mut data = vec![0u8; len as usize];
    file.read_exact(&mut data)
        .await
        .map_err(|e| local(path, "reading", e))?;
    let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(&data));
    let response = api
        .http()
        .put(url)
        .header("content-type", "application/octet-stream")
        .header("content-md5", md5)
        .body(data)
        .send()
        .await
        .map_err(|e| ApiError::Transport(format!("uploading a part: {e}")))?;
    let status = response.status().as_u16();
    if !response.status().is_success() {
        let bytes = response.bytes().await.unwrap_or_default();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        return Err(error_from(status, &json, &bytes).into());
    }
    bar.inc(len);
    Ok(())
}

/// Polls every asset until it leaves CREATING (ACTIVED or FAILED, normally) or waits for a
/// person (manual review), showing each one's processing step.
async fn wait_all(
    api: &Api,
    mut outcomes: Vec<Outcome>,
    bars: &MultiProgress,
) -> Result<Vec<Outcome>, ClientError> {
    let mut spinners: BTreeMap<usize, ProgressBar> = BTreeMap::new();
    for (i, o) in outcomes.iter().enumerate() {
        let spinner = bars.add(
            ProgressBar::new_spinner()
                .with_style(
                    ProgressStyle::with_template("{spinner} {prefix:20!} {msg}")
                        .expect("the template is valid"),
                )
                .with_prefix(
                    o.path
                        .file_name()
                        .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
                ),
        );
        spinner.enable_steady_tick(Duration::from_millis(200));
        spinners.insert(i, spinner);
    }
    loop {
        let mut pending = 0;
        for (i, outcome) in outcomes.iter_mut().enumerate() {
            if outcome.settled {
                continue;
            }
            let asset = api
                .call(
                    "GET",
                    &format!("/digital-assets/{}", outcome.asset_id),
                    &[],
                    None,
                )
                .await?;
            let state = asset["asset_state"]
                .as_str()
                .unwrap_or("UNKNOWN")
                .to_owned();
            let in_review = asset["files"].as_array().is_some_and(|files| {
                files
                    .iter()
                    .any(|f| f["asset_file_category"] == "MAIN" && f["state"] == "REVIEW")
            });
            let spinner = &spinners[&i];
            outcome.reason = asset["reason"].as_str().map(str::to_owned);
            // Processing ends in ACTIVED or FAILED; any other change (a delete, a block) also
            // ends the wait, and so does a file that waits for a person.
            outcome.settled = state != "CREATING" || in_review;
            if in_review && state == "CREATING" {
                outcome.reason = Some("waiting for manual review".into());
                spinner.finish_with_message("waiting for manual review");
            } else if outcome.settled {
                spinner.finish_with_message(state.clone());
            }
            outcome.state = state;
            if !outcome.settled {
                pending += 1;
                spinner.set_message(describe_processing(&asset));
            }
        }
        if pending == 0 {
            return Ok(outcomes);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// `transcoding 42%`, `probing`, … from `show_asset`'s `processing` field.
pub fn describe_processing(asset: &Value) -> String {
    let processing = &asset["processing"];
    let step = processing["step"]
        .as_str()
        .unwrap_or("processing")
        .replace('_', " ");
    match processing["percent"].as_u64() {
        Some(p) => format!("{step} {p}%"),
        None => step,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_follow_the_main_file_formats() {
        assert_eq!(type_for_extension("MP4"), Some(AssetType::Video));
        assert_eq!(type_for_extension("webm"), Some(AssetType::Video));
        assert_eq!(type_for_extension("jpg"), Some(AssetType::Image));
        assert_eq!(type_for_extension("wav"), Some(AssetType::Audio));
        assert_eq!(type_for_extension("pdf"), Some(AssetType::Ppt));
        assert_eq!(type_for_extension("txt"), None);
    }

    #[test]
    fn processing_is_described_with_its_percent() {
        let asset = json!({"processing": {"step": "transcoding", "percent": 42}});
        assert_eq!(describe_processing(&asset), "transcoding 42%");
        let asset = json!({"processing": {"step": "rendering_pages"}});
        assert_eq!(describe_processing(&asset), "rendering pages");
        assert_eq!(describe_processing(&json!({})), "processing");
    }
}
