//! The `assetd` command line: `serve`, `credentials create`, `scrub` and `storage`, with
//! global `--data-dir` and `--blob-url`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use assetd::app::{shutdown_signal, App};
use assetd::config::Config;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// Self-hosted digital asset library speaking the MetaStudio asset API.
#[derive(Debug, Parser)]
#[command(name = "assetd", version)]
struct Cli {
    /// Directory for the embedded catalogue and the local blob store [default: ./data].
    #[arg(long, global = true, env = "ASSETD_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Optional TOML configuration file; flags and ASSETD_* variables override it.
    #[arg(long, global = true, env = "ASSETD_CONFIG")]
    config: Option<PathBuf>,
    /// Blob store: s3://BUCKET[/PREFIX] (AWS_* settings) or a directory [default: <data-dir>/blobs].
    #[arg(long, global = true, env = "ASSETD_BLOB_URL")]
    blob_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server.
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080].
        #[arg(long, env = "ASSETD_LISTEN")]
        listen: Option<SocketAddr>,
        /// Base URL clients reach the server at, for upload/download URLs [default: http://<listen>].
        #[arg(long, env = "ASSETD_PUBLIC_URL")]
        public_url: Option<String>,
        /// Catalogue URL [default: sqlite://<data-dir>/catalog.db].
        #[arg(long, env = "ASSETD_DATABASE_URL")]
        database_url: Option<String>,
    },
    /// Manage access keys.
    Credentials {
        #[command(subcommand)]
        command: CredentialsCommand,
    },
    /// Re-read every stored blob now and verify it; prints the id of each file whose bytes
    /// are damaged (and marks them, so they are not served) and exits 1 if there is any.
    Scrub {
        /// Catalogue URL [default: sqlite://<data-dir>/catalog.db].
        #[arg(long, env = "ASSETD_DATABASE_URL")]
        database_url: Option<String>,
        /// Read at most this many bytes per second [default: as fast as possible].
        #[arg(long, default_value_t = 0)]
        rate: u64,
    },
    /// Print stored and logical bytes: what the blob store holds, and what the files would
    /// take if identical content were not stored once.
    Storage {
        /// Catalogue URL [default: sqlite://<data-dir>/catalog.db].
        #[arg(long, env = "ASSETD_DATABASE_URL")]
        database_url: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum CredentialsCommand {
    /// Create (or replace) an AK/SK pair bound to a project; prints both.
    Create {
        /// The project the credentials may access.
        #[arg(long)]
        project_id: String,
        /// Access key [default: generated].
        #[arg(long, requires = "secret_key")]
        access_key: Option<String>,
        /// Secret key [default: generated].
        #[arg(long, requires = "access_key")]
        secret_key: Option<String>,
        /// Grant admin-only features (VOICE_MODEL / HUMAN_MODEL_2D assets, system properties, PUBLIC sharing).
        #[arg(long)]
        admin: bool,
    },
}

fn config_from(cli: &Cli) -> anyhow::Result<Config> {
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(dir) = &cli.data_dir {
        config.data_dir = dir.clone();
    }
    if let Some(url) = &cli.blob_url {
        config.blob_url = Some(url.clone());
    }
    if let Command::Serve {
        listen,
        public_url,
        database_url,
    } = &cli.command
    {
        if let Some(v) = listen {
            config.listen = *v;
        }
        if let Some(v) = public_url {
            config.public_url = Some(v.clone());
        }
        if let Some(v) = database_url {
            config.database_url = Some(v.clone());
        }
    }
    if let Command::Scrub {
        database_url: Some(url),
        ..
    }
    | Command::Storage {
        database_url: Some(url),
    } = &cli.command
    {
        config.database_url = Some(url.clone());
    }
    Ok(config)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("ASSETD_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let config = config_from(&cli)?;
    match cli.command {
        Command::Serve { .. } => {
            let listen = config.listen;
            let app = App::build(config).await?;
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("binding {listen}"))?;
            tracing::info!(listen = %listener.local_addr()?, "assetd ready");
            app.serve(listener, shutdown_signal()).await
        }
        Command::Credentials {
            command:
                CredentialsCommand::Create {
                    project_id,
                    access_key,
                    secret_key,
                    admin,
                },
        } => {
            std::fs::create_dir_all(&config.data_dir)?;
            let catalog = assetd::catalog::open(&config.catalog_url()).await?;
            let (ak, sk) = assetd::service::auth::create_credential(
                catalog.as_ref(),
                &project_id,
                access_key,
                secret_key,
                admin,
            )
            .await?;
            println!("project_id={project_id}\naccess_key={ak}\nsecret_key={sk}\nadmin={admin}");
            Ok(())
        }
        Command::Scrub { rate, .. } => {
            let bad = scrub(&config, rate).await?;
            std::process::exit(i32::from(bad > 0));
        }
        Command::Storage { .. } => {
            let catalog = assetd::catalog::open(&config.catalog_url()).await?;
            let usage = catalog.storage_usage().await?;
            println!(
                "stored_blobs={}\nstored_bytes={}\nlogical_files={}\nlogical_bytes={}\nsaved_bytes={}",
                usage.blobs,
                usage.stored_bytes,
                usage.files,
                usage.logical_bytes,
                usage.logical_bytes.saturating_sub(usage.stored_bytes)
            );
            Ok(())
        }
    }
}

/// `assetd scrub`: verifies every LIVE blob, prints the id of each file on a damaged one,
/// and returns how many files that is.
async fn scrub(config: &Config, rate: u64) -> anyhow::Result<u64> {
    let catalog = assetd::catalog::open(&config.catalog_url())
        .await
        .context("opening the catalogue")?;
    let blobs = assetd::blobs::BlobStore::open(&config.blob_url())
        .await
        .context("opening the blob store")?;
    let storage = assetd::service::storage::Storage::new(
        catalog.clone(),
        blobs,
        std::time::Duration::from_secs(config.job_lease_secs),
    );
    let done = storage
        .scrub(time::OffsetDateTime::now_utc(), rate, None)
        .await?;
    let (count, files) = catalog.damaged_files(u32::MAX).await?;
    for file in &files {
        println!("{}", file.file_id);
        eprintln!(
            "file {} (asset {}, project {}): {}",
            file.file_id, file.asset_id, file.project_id, file.damage
        );
    }
    let secs = done.elapsed.as_secs_f64().max(1e-9);
    eprintln!(
        "scrubbed {} blobs, {} bytes in {:.1} s ({:.1} MB/s); {} damaged blobs, {} files affected",
        done.blobs,
        done.bytes,
        secs,
        done.bytes as f64 / secs / 1e6,
        done.damaged.len(),
        count
    );
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_override_environment_and_file() {
        let cli = Cli::parse_from([
            "assetd",
            "--data-dir",
            "/tmp/x",
            "serve",
            "--listen",
            "127.0.0.1:9999",
        ]);
        let config = config_from(&cli).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(config.listen.port(), 9999);
        assert_eq!(config.public_base_url(), "http://127.0.0.1:9999");
    }
}
