//! The `assetd` command line: `serve`, `migrate`, `credentials create|list|revoke|rotate`,
//! `doctor`, `scrub`, `storage` and the `client`, with global `--data-dir`, `--database-url`
//! and `--blob-url`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use assetd::app::{shutdown_signal, App};
use assetd::config::Config;
use clap::{Parser, Subcommand};

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
    /// Catalogue URL: sqlite://FILE or postgres://USER:PASS@HOST:PORT/DB [default: sqlite://<data-dir>/catalog.db].
    #[arg(
        long,
        global = true,
        env = "ASSETD_DATABASE_URL",
        hide_env_values = true
    )]
    database_url: Option<String>,
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
        /// Non-public webhook targets to allow: comma-separated hosts, IPs or CIDRs.
        #[arg(long, env = "ASSETD_WEBHOOK_ALLOW_HOSTS", value_delimiter = ',')]
        webhook_allow_hosts: Option<Vec<String>>,
        /// Serve `/metrics` on this address instead of the main one.
        #[arg(long, env = "ASSETD_METRICS_LISTEN")]
        metrics_listen: Option<SocketAddr>,
    },
    /// Bring the catalogue's schema up to date and exit (`serve` does this at start too).
    Migrate,
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
    /// Check what the server needs (catalogue, blob store, external tools) and print it, like
    /// `GET /ready`; exits 1 when something is missing.
    Doctor,
    /// Talk to an assetd server as a client: upload, list, show, download, delete, restore.
    Client(assetd::client::ClientArgs),
    /// Move a whole library (catalogue and blobs) between backends.
    Library {
        #[command(subcommand)]
        command: LibraryCommand,
    },
    /// Manage the keys libraries share to replicate assets.
    ReplicationKey {
        #[command(subcommand)]
        command: ReplicationKeyCommand,
    },
}

#[derive(Debug, Subcommand)]
enum LibraryCommand {
    /// Copy the library the settings select (--data-dir, --database-url, --blob-url) to
    /// another catalogue and blob store, then verify every record and every blob's MD5;
    /// exits 1 on any difference. The destination must be empty or an earlier, interrupted
    /// copy of the same library (run the same command again to resume). Stop the nodes of
    /// both sides first.
    Copy {
        /// Destination catalogue: postgres://USER:PASS@HOST:PORT/DB or sqlite://FILE
        /// [default: sqlite://<to-data-dir>/catalog.db].
        #[arg(long, required_unless_present = "to_data_dir")]
        to_database_url: Option<String>,
        /// Destination blob store: s3://BUCKET[/PREFIX] or a directory
        /// [default: <to-data-dir>/blobs].
        #[arg(long, required_unless_present = "to_data_dir")]
        to_blob_url: Option<String>,
        /// Destination data directory, for the embedded default (SQLite + local blobs).
        #[arg(long)]
        to_data_dir: Option<PathBuf>,
        /// Rows per transaction.
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u16).range(1..))]
        batch_size: u16,
    },
}

#[derive(Debug, Subcommand)]
enum ReplicationKeyCommand {
    /// Print a new random key as `ID=BASE64`, for `replication_keys` /
    /// `ASSETD_REPLICATION_KEYS` of every library that shares it.
    Create {
        /// Key id [default: generated].
        #[arg(long)]
        id: Option<String>,
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
    /// List access keys with their project and admin flag (never the secret keys).
    List {
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Delete an access key: requests signed with it and its tokens are refused from now on.
    Revoke {
        /// The access key to delete.
        #[arg(long)]
        access_key: String,
    },
    /// Give an access key a new secret key, printed once; tokens issued under the old one stop
    /// working.
    Rotate {
        /// The access key whose secret key is replaced.
        #[arg(long)]
        access_key: String,
    },
}

fn config_from(cli: &Cli) -> anyhow::Result<Config> {
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(dir) = &cli.data_dir {
        config.data_dir = dir.clone();
    }
    // Secrets come from the environment, never from flags (which `ps` shows).
    if let Some(keys) = std::env::var("ASSETD_REPLICATION_KEYS")
        .ok()
        .filter(|v| !v.trim().is_empty())
    {
        config.replication_keys = assetd::config::ReplicationKeyList::parse(&keys)
            .context("reading ASSETD_REPLICATION_KEYS")?;
    }
    if let Some(id) = std::env::var("ASSETD_REPLICATION_KEY_ID")
        .ok()
        .filter(|v| !v.trim().is_empty())
    {
        config.replication_key_id = Some(id);
    }
    if let Some(url) = &cli.database_url {
        config.database_url = Some(url.clone());
    }
    if let Some(url) = &cli.blob_url {
        config.blob_url = Some(url.clone());
    }
    if let Command::Serve {
        listen,
        public_url,
        webhook_allow_hosts,
        metrics_listen,
    } = &cli.command
    {
        if let Some(v) = webhook_allow_hosts {
            config.webhook_allow_hosts = v.clone();
        }
        if let Some(v) = metrics_listen {
            config.metrics_listen = Some(*v);
        }
        if let Some(v) = listen {
            config.listen = *v;
        }
        if let Some(v) = public_url {
            config.public_url = Some(v.clone());
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Client(args) = cli.command {
        // The client's stdout is its output; logs stay quiet on stderr unless asked for.
        if let Err(e) = assetd::logging::init("warn") {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
        return assetd::client::main(args);
    }
    // PostgreSQL's notices ("relation … already exists, skipping") are not news.
    if let Err(e) = assetd::logging::init("info,sqlx::postgres::notice=warn") {
        eprintln!("error: {e:#}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = config_from(&cli)?;
    match cli.command {
        Command::Serve { .. } => {
            let listen = config.listen;
            let metrics_listen = config.metrics_listen;
            let app = App::build(config).await?;
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("binding {listen}"))?;
            let metrics = match metrics_listen {
                Some(addr) => Some(
                    tokio::net::TcpListener::bind(addr)
                        .await
                        .with_context(|| format!("binding the metrics address {addr}"))?,
                ),
                None => None,
            };
            tracing::info!(listen = %listener.local_addr()?, "assetd ready");
            app.serve_with_metrics(listener, metrics, shutdown_signal())
                .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Doctor => {
            let report = assetd::service::readiness::doctor(&config).await;
            print!("{}", report.to_text());
            Ok(if report.ready() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Migrate => {
            open_catalog(&config).await?;
            println!("the catalogue's schema is up to date");
            Ok(ExitCode::SUCCESS)
        }
        Command::Credentials { command } => {
            let catalog = open_catalog(&config).await?;
            credentials(catalog.as_ref(), command).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Library {
            command:
                LibraryCommand::Copy {
                    to_database_url,
                    to_blob_url,
                    to_data_dir,
                    batch_size,
                },
        } => {
            let from = assetd::library::Location {
                database_url: config.catalog_url(),
                blob_url: config.blob_url(),
            };
            if let Some(dir) = &to_data_dir {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating data directory {}", dir.display()))?;
            }
            let defaults = Config {
                data_dir: to_data_dir.unwrap_or_default(),
                database_url: to_database_url,
                blob_url: to_blob_url,
                ..Config::default()
            };
            let to = assetd::library::Location {
                database_url: defaults.catalog_url(),
                blob_url: defaults.blob_url(),
            };
            let report = assetd::library::copy(&from, &to, usize::from(batch_size)).await?;
            print!("{}", report.to_text());
            Ok(if report.mismatch_count == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Scrub { rate, .. } => {
            let bad = scrub(&config, rate).await?;
            Ok(if bad > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
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
            Ok(ExitCode::SUCCESS)
        }
        Command::ReplicationKey {
            command: ReplicationKeyCommand::Create { id },
        } => {
            println!("{}", assetd::service::replication::new_key(id.as_deref())?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Client(_) => unreachable!("handled before the runtime starts"),
    }
}

/// Opens (and migrates) the catalogue the settings select, for the one-shot commands.
async fn open_catalog(
    config: &Config,
) -> anyhow::Result<std::sync::Arc<dyn assetd::catalog::Catalog>> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    assetd::catalog::open(&config.catalog_url())
        .await
        .context("opening the catalogue")
}

async fn credentials(
    catalog: &dyn assetd::catalog::Catalog,
    command: CredentialsCommand,
) -> anyhow::Result<()> {
    use assetd::service::auth;
    match command {
        CredentialsCommand::Create {
            project_id,
            access_key,
            secret_key,
            admin,
        } => {
            let (ak, sk) =
                auth::create_credential(catalog, &project_id, access_key, secret_key, admin)
                    .await?;
            println!("project_id={project_id}\naccess_key={ak}\nsecret_key={sk}\nadmin={admin}");
        }
        CredentialsCommand::List { json } => {
            let list = catalog.list_credentials().await?;
            if json {
                for c in list {
                    let created = assetd::http::routes::assets::rfc3339(c.created_at);
                    println!(
                        "{}",
                        serde_json::json!({
                            "access_key": c.access_key,
                            "project_id": c.project_id,
                            "admin": c.is_admin,
                            "created_at": created,
                        })
                    );
                }
            } else {
                println!(
                    "{:<24} {:<36} {:<5} CREATED",
                    "ACCESS_KEY", "PROJECT_ID", "ADMIN"
                );
                for c in list {
                    println!(
                        "{:<24} {:<36} {:<5} {}",
                        c.access_key,
                        c.project_id,
                        c.is_admin,
                        assetd::http::routes::assets::rfc3339(c.created_at)
                    );
                }
            }
        }
        CredentialsCommand::Revoke { access_key } => {
            auth::revoke_credential(catalog, &access_key).await?;
            println!("revoked access_key={access_key}");
        }
        CredentialsCommand::Rotate { access_key } => {
            let sk = auth::rotate_credential(catalog, &access_key).await?;
            println!("access_key={access_key}\nsecret_key={sk}");
        }
    }
    Ok(())
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
