//! Request bodies of the file endpoints (API.md §2.11–2.13) and their rules.

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::enums::{FileCategory, FileState};
use super::validate::ValidationError;

/// Largest file accepted by `create_file`: 5 GiB.
pub const MAX_FILE_SIZE: i64 = 5_368_709_120;
/// Largest file accepted by `create_large_file`: 500 GiB.
pub const MAX_LARGE_FILE_SIZE: i64 = 536_870_912_000;
/// Most parts of a large-file upload.
pub const MAX_MULTIPART_COUNT: i32 = 100;

/// Body of `create_file` (POST `/v1/{project_id}/files`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FilesCreateBody {
    /// File name, 1–256 characters, no path.
    pub file_name: String,
    /// RFC 1864 Content-MD5: base64 of the 16-byte digest.
    pub file_md5: String,
    /// Size in bytes, 1~5368709120.
    pub file_size: i64,
    /// File type, 1–64 characters; the file-name extension when absent.
    #[serde(default)]
    pub file_type: Option<String>,
    /// Owning asset, 1–64 characters.
    pub asset_id: String,
    /// Role of the file in its asset.
    pub asset_file_category: FileCategory,
}

/// Body of `create_large_file` (POST `/v1/{project_id}/large-files`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LargeFilesCreateBody {
    /// File name, 1–256 characters, no path.
    pub file_name: String,
    /// Size in bytes, 1~536870912000, when known.
    #[serde(default)]
    pub file_size: Option<i64>,
    /// File type; the file-name extension when absent.
    #[serde(default)]
    pub file_type: Option<String>,
    /// Owning asset.
    pub asset_id: String,
    /// MAIN, OTHER or PACKAGE.
    pub asset_file_category: FileCategory,
    /// Number of parts, 1~100, default 1.
    #[serde(default)]
    pub file_multipart_count: Option<i32>,
}

/// Body of `confirm_file_upload`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConfirmFileBody {
    /// CREATED, FAILED or CANCELLED.
    pub state: FileState,
}

/// Checks a file name: 1–256 characters, no path separators, no `..`, no control characters.
pub fn check_file_name(name: &str) -> Result<(), ValidationError> {
    let n = name.chars().count();
    let rule = if n == 0 || n > 256 {
        "must be 1 to 256 characters"
    } else if name.contains(['/', '\\']) {
        "must not contain path separators"
    } else if name.contains("..") {
        "must not contain '..'"
    } else if name.chars().any(char::is_control) {
        "must not contain control characters"
    } else {
        return Ok(());
    };
    Err(ValidationError::new("file_name", rule))
}

/// Decodes an RFC 1864 MD5: exactly 24 base64 characters encoding 16 bytes.
pub fn decode_md5(value: &str) -> Option<[u8; 16]> {
    if value.len() != 24 {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value)
        .ok()?;
    bytes.try_into().ok()
}

/// The effective file type: the given one, else the name's extension; lower-cased.
pub fn effective_file_type(
    file_type: Option<&str>,
    file_name: &str,
) -> Result<String, ValidationError> {
    let t = match file_type.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => t.trim_start_matches('.').to_owned(),
        None => extension(file_name).ok_or_else(|| {
            ValidationError::new("file_type", "is required when file_name has no extension")
        })?,
    };
    if t.chars().count() > 64 {
        return Err(ValidationError::new(
            "file_type",
            "must be 1 to 64 characters",
        ));
    }
    Ok(t.to_ascii_lowercase())
}

/// The lower-cased extension of a file name, if it has one.
pub fn extension(file_name: &str) -> Option<String> {
    let (stem, ext) = file_name.rsplit_once('.')?;
    (!stem.is_empty() && !ext.is_empty()).then(|| ext.to_ascii_lowercase())
}

impl FilesCreateBody {
    /// Checks every field rule that does not need the asset.
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_file_name(&self.file_name)?;
        if decode_md5(&self.file_md5).is_none() {
            return Err(ValidationError::new(
                "file_md5",
                "must be the RFC 1864 Content-MD5: base64 of the 16-byte MD5 digest (24 characters)",
            ));
        }
        if !(1..=MAX_FILE_SIZE).contains(&self.file_size) {
            return Err(ValidationError::new(
                "file_size",
                format!("must be between 1 and {MAX_FILE_SIZE}"),
            ));
        }
        check_asset_id(&self.asset_id)?;
        effective_file_type(self.file_type.as_deref(), &self.file_name).map(drop)
    }
}

impl LargeFilesCreateBody {
    /// Checks every field rule that does not need the asset.
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_file_name(&self.file_name)?;
        if let Some(size) = self.file_size {
            if !(1..=MAX_LARGE_FILE_SIZE).contains(&size) {
                return Err(ValidationError::new(
                    "file_size",
                    format!("must be between 1 and {MAX_LARGE_FILE_SIZE}"),
                ));
            }
        }
        if let Some(n) = self.file_multipart_count {
            if !(1..=MAX_MULTIPART_COUNT).contains(&n) {
                return Err(ValidationError::new(
                    "file_multipart_count",
                    format!("must be between 1 and {MAX_MULTIPART_COUNT}"),
                ));
            }
        }
        if !matches!(
            self.asset_file_category,
            FileCategory::Main | FileCategory::Other | FileCategory::Package
        ) {
            return Err(ValidationError::new(
                "asset_file_category",
                "large files must be MAIN, OTHER or PACKAGE",
            ));
        }
        check_asset_id(&self.asset_id)?;
        effective_file_type(self.file_type.as_deref(), &self.file_name).map(drop)
    }
}

fn check_asset_id(id: &str) -> Result<(), ValidationError> {
    let n = id.chars().count();
    if n == 0 || n > 64 {
        return Err(ValidationError::new(
            "asset_id",
            "must be 1 to 64 characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> FilesCreateBody {
        FilesCreateBody {
            file_name: "a.PNG".into(),
            file_md5: "1B2M2Y8AsgTpgAmY7PhCfg==".into(),
            file_size: 10,
            file_type: None,
            asset_id: "x".into(),
            asset_file_category: FileCategory::Main,
        }
    }

    #[test]
    fn a_well_formed_create_file_body_passes_and_types_default_to_the_extension() {
        assert_eq!(body().validate(), Ok(()));
        assert_eq!(effective_file_type(None, "a.PNG").unwrap(), "png");
        assert_eq!(effective_file_type(Some(".MP4"), "a").unwrap(), "mp4");
        assert!(effective_file_type(None, "noext").is_err());
        assert!(effective_file_type(None, ".hidden").is_err());
    }

    #[test]
    fn file_names_with_paths_dot_dot_or_control_characters_are_refused() {
        for bad in [
            "a/b.png",
            "a\\b.png",
            "..png",
            "a..b.png",
            "a\u{0}.png",
            "a\n.png",
            "",
        ] {
            assert!(check_file_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_file_name(&"x".repeat(257)).is_err());
        assert!(check_file_name(&format!("{}.png", "数".repeat(252))).is_ok());
    }

    #[test]
    fn md5_must_be_base64_of_sixteen_bytes() {
        assert!(decode_md5("1B2M2Y8AsgTpgAmY7PhCfg==").is_some());
        assert!(decode_md5("d41d8cd98f00b204e9800998ecf8427e").is_none());
        assert!(decode_md5("1B2M2Y8AsgTpgAmY7PhCfg=").is_none());
        assert!(decode_md5("!B2M2Y8AsgTpgAmY7PhCfg==").is_none());
    }

    #[test]
    fn sizes_outside_the_sdk_range_are_refused() {
        let mut b = body();
        b.file_size = 0;
        assert!(b.validate().is_err());
        b.file_size = MAX_FILE_SIZE + 1;
        assert!(b.validate().is_err());
        b.file_size = MAX_FILE_SIZE;
        assert!(b.validate().is_ok());
    }
}
