//! The `assetd` command line: `serve` and `credentials create`, with global `--data-dir`.

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
        /// Non-public webhook targets to allow: comma-separated hosts, IPs or CIDRs.
        #[arg(long, env = "ASSETD_WEBHOOK_ALLOW_HOSTS", value_delimiter = ',')]
        webhook_allow_hosts: Option<Vec<String>>,
    },
    /// Manage access keys.
    Credentials {
        #[command(subcommand)]
        command: CredentialsCommand,
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
    if let Command::Serve {
        listen,
        public_url,
        database_url,
        webhook_allow_hosts,
    } = &cli.command
    {
        if let Some(v) = webhook_allow_hosts {
            config.webhook_allow_hosts = v.clone();
        }
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
    }
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
