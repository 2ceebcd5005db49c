//! `ls`, `show`, `get`, `rm` and `restore`: one API call each (two for `get`), printed as a
//! table or summary, or as the API's own JSON with `--json`.

use std::path::PathBuf;

use base64::Engine;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use md5::{Digest, Md5};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use super::api::{read_json, Api, ApiError};
use super::upload::describe_processing;
use super::{ClientError, LsArgs};

/// The query pairs of `ls`, in the API's names.
pub fn ls_query(args: &LsArgs) -> Vec<(&'static str, String)> {
    let mut q: Vec<(&'static str, String)> = Vec::new();
    let mut put = |key: &'static str, value: Option<String>| {
        if let Some(v) = value {
            q.push((key, v));
        }
    };
    put("asset_type", args.asset_type.clone());
    put("asset_state", args.state.clone());
    put("name", args.name.clone());
    put("tag_combination_type", args.tag_combination_type.clone());
    put("accurate_query_field", args.accurate_query_field.clone());
    put("limit", args.limit.map(|v| v.to_string()));
    put("offset", args.offset.map(|v| v.to_string()));
    put("sort_key", args.sort_key.clone());
    put("sort_dir", args.sort_dir.clone());
    put("start_time", args.start_time.clone());
    put("end_time", args.end_time.clone());
    put("asset_source", args.asset_source.clone());
    put("role", args.role.clone());
    put("supported_service", args.supported_service.clone());
    put("app_user_id", args.app_user_id.clone());
    put("sex", args.sex.clone());
    put("language", args.language.clone());
    put("voice_provider", args.voice_provider.clone());
    put(
        "is_realtime_voice",
        args.is_realtime_voice.map(|v| v.to_string()),
    );
    put(
        "action_editable",
        args.action_editable.map(|v| v.to_string()),
    );
    put(
        "is_with_action_library",
        args.is_with_action_library.map(|v| v.to_string()),
    );
    put("is_movable", args.is_movable.map(|v| v.to_string()));
    put(
        "human_model_2d_version",
        args.human_model_2d_version.clone(),
    );
    put("include_device_name", args.include_device_name.clone());
    put("exclude_device_name", args.exclude_device_name.clone());
    put("style_id", args.style_id.clone());
    for tag in &args.tags {
        q.push(("tag", tag.clone()));
    }
    for id in &args.asset_ids {
        q.push(("asset_id", id.clone()));
    }
    for p in &args.system_properties {
        q.push(("system_property", p.clone()));
    }
    q
}

/// `ls`.
pub async fn ls(api: &Api, args: LsArgs) -> Result<(), ClientError> {
    let reply = api
        .call("GET", "/digital-assets", &ls_query(&args), None)
        .await?;
    if args.json {
        println!("{reply}");
        return Ok(());
    }
    let assets = reply["assets"].as_array().cloned().unwrap_or_default();
    println!(
        "{:<36}  {:<10}  {:<9}  {:<20}  NAME",
        "ASSET_ID", "TYPE", "STATE", "CREATED"
    );
    for a in &assets {
        println!(
            "{:<36}  {:<10}  {:<9}  {:<20}  {}",
            a["asset_id"].as_str().unwrap_or(""),
            a["asset_type"].as_str().unwrap_or(""),
            a["asset_state"].as_str().unwrap_or(""),
            a["create_time"].as_str().unwrap_or(""),
            a["asset_name"].as_str().unwrap_or(""),
        );
    }
    let total = reply["count"].as_u64().unwrap_or(0);
    println!("{} of {total} assets", assets.len());
    Ok(())
}

async fn show_asset(api: &Api, id: &str) -> Result<Value, ClientError> {
    Ok(api
        .call("GET", &format!("/digital-assets/{id}"), &[], None)
        .await?)
}

/// `show`.
pub async fn show(api: &Api, id: &str, json: bool) -> Result<(), ClientError> {
    let a = show_asset(api, id).await?;
    if json {
        println!("{a}");
        return Ok(());
    }
    let field = |key: &str| a[key].as_str().unwrap_or("").to_owned();
    println!("asset_id:    {}", field("asset_id"));
    println!("name:        {}", field("asset_name"));
    println!("type:        {}", field("asset_type"));
    println!("state:       {}", field("asset_state"));
    if let Some(reason) = a["reason"].as_str() {
        println!("reason:      {reason}");
    }
    if a["processing"].is_object() {
        println!("processing:  {}", describe_processing(&a));
    }
    let tags: Vec<&str> = a["tags"]
        .as_array()
        .map(|t| t.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !tags.is_empty() {
        println!("tags:        {}", tags.join(", "));
    }
    println!("created:     {}", field("create_time"));
    println!("updated:     {}", field("update_time"));
    for f in a["files"].as_array().into_iter().flatten() {
        println!(
            "file:        {:<8} {:<9} {:>12}  {}",
            f["asset_file_category"].as_str().unwrap_or(""),
            f["state"].as_str().unwrap_or(""),
            f["file_size"]
                .as_i64()
                .map_or_else(String::new, |s| s.to_string()),
            f["file_name"].as_str().unwrap_or(""),
        );
    }
    Ok(())
}

/// `get`: downloads the MAIN file to a temporary name, checks its MD5, then renames it.
pub async fn get(api: &Api, id: &str, output: Option<PathBuf>) -> Result<(), ClientError> {
    let a = show_asset(api, id).await?;
    let main = a["files"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["asset_file_category"] == "MAIN" && f["download_url"].is_string())
        .ok_or_else(|| {
            ClientError::Usage(format!(
                "asset {id} has no downloadable MAIN file (state {})",
                a["asset_state"].as_str().unwrap_or("unknown")
            ))
        })?;
    let name = main["file_name"].as_str().unwrap_or("download");
    let explicit = output.is_some();
    let target = output.unwrap_or_else(|| {
        PathBuf::from(
            std::path::Path::new(name)
                .file_name()
                .map_or_else(|| "download".into(), |n| n.to_owned()),
        )
    });
    if !explicit && target.exists() {
        return Err(ClientError::Usage(format!(
            "{} exists; pass -o to choose where to write",
            target.display()
        )));
    }
    let url = main["download_url"].as_str().unwrap_or_default();
    let response = api
        .http()
        .get(url)
        .send()
        .await
        .map_err(|e| ApiError::Transport(format!("downloading: {e}")))?;
    if !response.status().is_success() {
        return Err(read_json(response).await.err().map_or_else(
            || ClientError::Server(ApiError::Transport("download failed".into())),
            Into::into,
        ));
    }
    let bar =
        ProgressBar::with_draw_target(response.content_length(), ProgressDrawTarget::stderr())
            .with_style(
                ProgressStyle::with_template(
                    "{bar:30.cyan/blue} {bytes:>10}/{total_bytes:10} {bytes_per_sec:>12}",
                )
                .expect("the template is valid"),
            );
    let partial = target.with_extension(format!(
        "{}.part",
        target
            .extension()
            .map_or_else(String::new, |e| e.to_string_lossy().into_owned())
    ));
    let local = |what: &str, e: std::io::Error| {
        ClientError::Local(format!("{}: {what}: {e}", partial.display()))
    };
    let mut file = tokio::fs::File::create(&partial)
        .await
        .map_err(|e| local("creating", e))?;
    let mut hasher = Md5::new();
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| ApiError::Transport(format!("downloading: {e}")))?;
        hasher.update(&chunk);
        file.write_all(&chunk)
            .await
            .map_err(|e| local("writing", e))?;
        bar.inc(chunk.len() as u64);
    }
    file.flush().await.map_err(|e| local("writing", e))?;
    drop(file);
    bar.finish_and_clear();
    let got = base64::engine::general_purpose::STANDARD.encode(hasher.finalize());
    if let Some(expected) = main["file_md5"].as_str() {
        if got != expected {
            tokio::fs::remove_file(&partial).await.ok();
            return Err(ClientError::Local(format!(
                "downloaded bytes have MD5 {got} but the asset records {expected}; nothing written"
            )));
        }
    }
    tokio::fs::rename(&partial, &target)
        .await
        .map_err(|e| local("renaming", e))?;
    println!("{}  {} bytes  md5 {got}", target.display(), bar.position());
    Ok(())
}

/// `rm`.
pub async fn rm(api: &Api, id: &str, force: bool) -> Result<(), ClientError> {
    let query = if force {
        vec![("mode", "force".to_owned())]
    } else {
        Vec::new()
    };
    api.call("DELETE", &format!("/digital-assets/{id}"), &query, None)
        .await?;
    println!(
        "{id} {}",
        if force {
            "deleted"
        } else {
            "moved to the recycle bin"
        }
    );
    Ok(())
}

/// `restore`.
pub async fn restore(api: &Api, id: &str) -> Result<(), ClientError> {
    api.call("POST", &format!("/digital-assets/{id}/restore"), &[], None)
        .await?;
    println!("{id} restored");
    Ok(())
}
