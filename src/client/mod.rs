//! `assetd client VERB`: the command-line client. It signs exactly like the official SDK
//! (through [`crate::signing`]) and speaks the same REST API, so what it shows is what the
//! SDK sees.
//!
//! Exit codes: 0 success; 1 an upload ended FAILED (with `--wait`) or a local file could not
//! be read or written; 2 usage (bad flags, missing connection settings, an unsafe SK file);
//! 3 authentication or permission refused; 4 the server answered another error or could not
//! be reached.

mod api;
mod commands;
mod connect;
mod upload;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

pub use api::{Api, ApiError};
pub use connect::{Connection, ConnectionArgs};

/// `assetd client …`.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// Where to connect and as whom.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// What to do.
    #[command(subcommand)]
    pub verb: Verb,
}

/// A client command.
#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Upload files (or every file under a directory) as new assets: MD5, create, upload with
    /// a progress bar, confirm; files over 100 MB go in parallel parts and resume after an
    /// interruption.
    Upload(UploadArgs),
    /// List assets, with every filter of the list API.
    Ls(Box<LsArgs>),
    /// Show one asset.
    Show {
        /// Asset id.
        id: String,
        /// Print the API's JSON reply.
        #[arg(long)]
        json: bool,
    },
    /// Download an asset's MAIN file, checking its MD5.
    Get {
        /// Asset id.
        id: String,
        /// Where to write it [default: the file's name, in the current directory].
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
    },
    /// Delete an asset (to the recycle bin; `--force` for good).
    Rm {
        /// Asset id.
        id: String,
        /// Delete permanently instead of moving to the recycle bin.
        #[arg(long)]
        force: bool,
    },
    /// Restore an asset from the recycle bin.
    Restore {
        /// Asset id.
        id: String,
    },
}

/// `assetd client upload`.
#[derive(Debug, Args)]
pub struct UploadArgs {
    /// Files or directories (directories are walked, hidden entries skipped).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Asset type (VIDEO, IMAGE, AUDIO, MUSIC, PPT, …) [default: from each file's extension].
    #[arg(long = "type", value_name = "TYPE")]
    pub asset_type: Option<String>,
    /// Asset name (one file only) [default: the file name without extension].
    #[arg(long)]
    pub name: Option<String>,
    /// A tag for every new asset; repeat for more.
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Follow processing until every asset is ACTIVED or FAILED.
    #[arg(long)]
    pub wait: bool,
    /// One JSON line per file: {"file", "asset_id", "asset_state"}.
    #[arg(long)]
    pub json: bool,
    /// Parts uploaded at once for large files.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub parallel: u32,
    /// Files larger than this many bytes go through the large-file API in parts.
    #[arg(long, hide = true, env = "ASSETD_CLIENT_LARGE_FILE_BYTES", default_value_t = 100 * 1024 * 1024)]
    pub large_file_bytes: u64,
    /// Size of one part of a large file, in bytes (at most 100 parts are used).
    #[arg(long, hide = true, env = "ASSETD_CLIENT_PART_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub part_bytes: u64,
}

/// `assetd client ls`: every filter of `list_assets` as a flag.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Asset types, comma-separated (asset_type).
    #[arg(long = "type", value_name = "TYPES")]
    pub asset_type: Option<String>,
    /// Asset states, comma-separated (asset_state).
    #[arg(long)]
    pub state: Option<String>,
    /// Name contains this (exact with `--exact name`).
    #[arg(long)]
    pub name: Option<String>,
    /// Tag filter; repeat for several.
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// INTERSECTION (all tags) or UNION_SET (any tag).
    #[arg(long)]
    pub tag_combination_type: Option<String>,
    /// Fields matched exactly instead of as substrings (name, tag).
    #[arg(long = "exact", value_name = "FIELD")]
    pub accurate_query_field: Option<String>,
    /// Page size (0–100).
    #[arg(long)]
    pub limit: Option<u32>,
    /// Assets skipped.
    #[arg(long)]
    pub offset: Option<u64>,
    /// create_time, update_time or asset_order.
    #[arg(long)]
    pub sort_key: Option<String>,
    /// asc or desc.
    #[arg(long)]
    pub sort_dir: Option<String>,
    /// Created at or after (RFC 3339).
    #[arg(long)]
    pub start_time: Option<String>,
    /// Created at or before (RFC 3339).
    #[arg(long)]
    pub end_time: Option<String>,
    /// CUSTOMIZATION, SYSTEM or ALL.
    #[arg(long)]
    pub asset_source: Option<String>,
    /// SHARER or SHAREE.
    #[arg(long)]
    pub role: Option<String>,
    /// Asset ids; repeat for several.
    #[arg(long = "asset-id", value_name = "ID")]
    pub asset_ids: Vec<String>,
    /// Services the asset supports.
    #[arg(long)]
    pub supported_service: Option<String>,
    /// System property filter KEY:value; repeat for several.
    #[arg(long = "system-property", value_name = "KEY:VALUE")]
    pub system_properties: Vec<String>,
    /// Created with this X-App-UserId.
    #[arg(long)]
    pub app_user_id: Option<String>,
    /// Voice sex values, comma-separated.
    #[arg(long)]
    pub sex: Option<String>,
    /// Voice languages, comma-separated.
    #[arg(long)]
    pub language: Option<String>,
    /// Voice provider.
    #[arg(long)]
    pub voice_provider: Option<String>,
    /// Real-time voices only (true/false).
    #[arg(long)]
    pub is_realtime_voice: Option<bool>,
    /// Avatars whose actions are editable (true/false).
    #[arg(long)]
    pub action_editable: Option<bool>,
    /// Avatars with an action library (true/false).
    #[arg(long)]
    pub is_with_action_library: Option<bool>,
    /// Avatars that can walk (true/false).
    #[arg(long)]
    pub is_movable: Option<bool>,
    /// Avatar model version.
    #[arg(long)]
    pub human_model_2d_version: Option<String>,
    /// Avatars compiled for this device.
    #[arg(long)]
    pub include_device_name: Option<String>,
    /// Avatars not compiled for this device.
    #[arg(long)]
    pub exclude_device_name: Option<String>,
    /// Style id (the server refuses it: styles are not modelled).
    #[arg(long)]
    pub style_id: Option<String>,
    /// Print the API's JSON reply.
    #[arg(long)]
    pub json: bool,
}

/// Why a client command failed; decides the exit code.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Bad flags or settings.
    #[error("{0}")]
    Usage(String),
    /// The server refused the credentials or the operation.
    #[error("{0}")]
    Auth(ApiError),
    /// The server answered another error, or could not be reached.
    #[error("{0}")]
    Server(ApiError),
    /// A local file could not be read or written.
    #[error("{0}")]
    Local(String),
    /// Processing ended FAILED for at least one upload (`--wait`).
    #[error("{0}")]
    Failed(String),
}

impl ClientError {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Failed(_) | Self::Local(_) => 1,
            Self::Usage(_) => 2,
            Self::Auth(_) => 3,
            Self::Server(_) => 4,
        }
    }
}

impl From<ApiError> for ClientError {
    fn from(e: ApiError) -> Self {
        if e.is_auth() {
            Self::Auth(e)
        } else {
            Self::Server(e)
        }
    }
}

/// Runs a client command to completion and returns the exit code.
pub fn main(args: ClientArgs) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Runs a client command.
pub async fn run(args: ClientArgs) -> Result<(), ClientError> {
    let connection = args.connection.resolve()?;
    let api = Api::new(connection)?;
    match args.verb {
        Verb::Upload(upload) => upload::run(&api, upload).await,
        Verb::Ls(ls) => commands::ls(&api, *ls).await,
        Verb::Show { id, json } => commands::show(&api, &id, json).await,
        Verb::Get { id, output } => commands::get(&api, &id, output).await,
        Verb::Rm { id, force } => commands::rm(&api, &id, force).await,
        Verb::Restore { id } => commands::restore(&api, &id).await,
    }
}
