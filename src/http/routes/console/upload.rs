//! The upload page. The server renders the drop zone and the seed's format and size rules
//! (from `service::files::main_file_rule`, so the page and the API agree); `console.js`
//! checks files against them, then drives the API's own calls through `/console/api/v1/…`:
//! create the asset, create the file (or a large file in parts above 100 MB), PUT the bytes
//! with progress, confirm, and follow the asset's state to ACTIVED or FAILED.

use axum::response::Response;
use maud::{html, Markup};

use super::static_files::url;
use super::views::{human_size, icon, Nav};
use super::Session;
use crate::model::AssetType;
use crate::service::files::main_file_rule;

/// Files larger than this go through the large-file API in parts ("over 100 MB", in the
/// seed's binary units).
pub const LARGE_FILE_BYTES: u64 = 100 * 1024 * 1024;
/// The types the upload page creates, by the main-file extensions they accept.
const UPLOAD_TYPES: &[AssetType] = &[
    AssetType::Video,
    AssetType::Image,
    AssetType::Audio,
    AssetType::Ppt,
];

/// `{"mp4":{"type":"VIDEO","max":5368709120},…}`: what the script checks before sending.
fn rules_json() -> String {
    let mut rules = serde_json::Map::new();
    for t in UPLOAD_TYPES {
        if let Some((formats, max)) = main_file_rule(*t) {
            for ext in formats {
                rules.insert(
                    (*ext).to_owned(),
                    serde_json::json!({ "type": t.as_str(), "max": max }),
                );
            }
        }
    }
    serde_json::Value::Object(rules).to_string()
}

/// GET `/console/upload`.
pub async fn show_upload(session: Session) -> Response {
    session.page("Upload", Nav::Upload, upload_page())
}

fn upload_page() -> Markup {
    let accept: Vec<String> = UPLOAD_TYPES
        .iter()
        .filter_map(|t| main_file_rule(*t))
        .flat_map(|(formats, _)| formats.iter().map(|f| format!(".{f}")))
        .collect();
    html! {
        script src=(url("spark-md5.min.js")) defer {}
        header.page-head {
            div {
                h1 { "Upload" }
                p.muted { "Each file becomes an asset. It is checked, analysed and reviewed, then ready to use." }
            }
        }
        section #uploader.uploader data-rules=(rules_json()) data-large-bytes=(LARGE_FILE_BYTES) {
            div #dropzone.panel.dropzone {
                div.drop-icon { (icon("upload")) }
                p.drop-title { "Drag and drop files here" }
                p.muted { "or" }
                label.button.primary for="upload-input" { "Upload files" }
                input #upload-input.visually-hidden type="file" multiple accept=(accept.join(","));
                p.hint { "Files over 100 MB are sent in parts and resume after a dropped connection." }
            }
            div.panel.upload-options {
                div.field.field-inline {
                    label for="sound-type" { "Sound files become" }
                    select #sound-type {
                        option value="AUDIO" selected { "AUDIO" }
                        option value="MUSIC" { "MUSIC" }
                    }
                }
                label.check {
                    input #render-pages type="checkbox" checked;
                    span { "Render PPT/PDF pages and extract their text" }
                }
            }
            section.panel aria-labelledby="uploads-title" {
                h2 #uploads-title { "Uploads" }
                p #uploads-empty.muted { "Nothing uploaded from this page yet." }
                ul #uploads.uploads aria-live="polite" {}
            }
            section.panel.formats aria-labelledby="formats-title" {
                h2 #formats-title { "What you can upload" }
                dl.meta {
                    @for t in UPLOAD_TYPES {
                        @if let Some((formats, max)) = main_file_rule(*t) {
                            dt { (t.as_str()) }
                            dd { (formats.join(", ").to_ascii_uppercase()) " · up to " (human_size(max)) }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_rules_are_the_seed_rules() {
        let rules: serde_json::Value = serde_json::from_str(&rules_json()).unwrap();
        assert_eq!(rules["mp4"]["type"], "VIDEO");
        assert_eq!(rules["mp4"]["max"], 5 * 1024 * 1024 * 1024_i64);
        assert_eq!(rules["png"]["max"], 50 * 1024 * 1024);
        assert_eq!(rules["pdf"]["type"], "PPT");
        assert_eq!(rules["wav"]["type"], "AUDIO");
        assert!(rules.get("exe").is_none());
    }
}
