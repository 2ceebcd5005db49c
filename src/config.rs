//! Runtime configuration: one struct, filled from defaults < optional TOML file <
//! `ASSETD_*` environment < command-line flags. Loading never writes anything.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use secrecy::SecretString;
use serde::Deserialize;

/// Everything the server needs to run.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Directory holding the embedded SQLite catalogue and the local blob store.
    pub data_dir: PathBuf,
    /// Address `assetd serve` listens on.
    pub listen: SocketAddr,
    /// Base URL clients use to reach this server; upload and download URLs start with it.
    /// Defaults to `http://<listen>`.
    pub public_url: Option<String>,
    /// Catalogue location: `sqlite://FILE`, `postgres://USER:PASS@HOST:PORT/DB` (shared by
    /// any number of nodes), or empty for `<data_dir>/catalog.db`.
    pub database_url: Option<String>,
    /// Blob store location: `s3://BUCKET[/PREFIX]` (settings from the `AWS_*` variables) or
    /// a directory; empty for `<data_dir>/blobs`.
    pub blob_url: Option<String>,
    /// Largest JSON request body accepted, in bytes (larger bodies get 413).
    pub max_body_bytes: usize,
    /// Largest accepted difference between `X-Sdk-Date` and the server clock, in seconds.
    pub max_clock_skew_secs: u64,
    /// Lifetime of tokens issued by `POST /v1/{project_id}/auth-tokens`, in seconds.
    pub token_ttl_secs: u64,
    /// Lifetime of upload URLs, in seconds.
    pub upload_url_ttl_secs: u64,
    /// Lifetime of download URLs, in seconds.
    pub download_url_ttl_secs: u64,
    /// Uploads still CREATING after this many seconds are swept away.
    pub abandoned_upload_secs: u64,
    /// Background job workers.
    pub workers: usize,
    /// External tools (ffmpeg, LibreOffice, poppler) running at once.
    pub tool_concurrency: usize,
    /// Wall-clock limit of one tool run, in seconds; the tool is killed after it.
    pub tool_timeout_secs: u64,
    /// Address space each tool process may use (`RLIMIT_AS`), in MiB; 0 for no limit. A
    /// hostile deck makes LibreOffice grow without bound; with the limit it fails instead.
    pub tool_memory_mb: u64,
    /// CPU time each tool process may use, in seconds; 0 for no limit.
    pub tool_cpu_secs: u64,
    /// Largest file a tool may write, in MiB; 0 for no limit.
    pub tool_output_mb: u64,
    /// A tool whose processes use no CPU time for this many seconds is killed as hung; 0
    /// never. LibreOffice at its memory limit can deadlock instead of exiting.
    pub tool_stall_secs: u64,
    /// Wall-clock limit of one job attempt, all its tool runs together, in seconds; a
    /// processing job past it is stopped and its asset FAILED. 0 for no limit.
    pub job_timeout_secs: u64,
    /// How long a claimed job stays claimed without a heartbeat, in seconds.
    pub job_lease_secs: u64,
    /// Attempts before a job fails for good.
    pub job_max_attempts: i32,
    /// Images with more pixels than this fail without being decoded.
    pub max_image_pixels: u64,
    /// Longest side of generated thumbnails, in pixels.
    pub thumbnail_size: u32,
    /// Videos wider than this are transcoded even when H.264/AAC MP4.
    pub web_max_width: u32,
    /// Videos taller than this are transcoded even when H.264/AAC MP4.
    pub web_max_height: u32,
    /// Videos above this frame rate are transcoded even when H.264/AAC MP4.
    pub web_max_fps: f64,
    /// Longer side of rendered slide pages, in pixels.
    pub page_long_side: u32,
    /// How long deleted assets stay in the recycle bin (DELETING) before they are DELETED
    /// and their files removed, in seconds.
    pub recycle_retention_secs: u64,
    /// Content MD5s (RFC 1864 base64 or hex) that the built-in reviewer rejects.
    pub review_deny_md5: Vec<String>,
    /// Videos and audio longer than this are rejected by the built-in reviewer, in seconds.
    pub review_max_duration_secs: Option<u64>,
    /// External reviewer: assetd POSTs each MAIN file's metadata and a signed download URL
    /// here and expects `{"verdict": "PASS"|"REJECT"|"MANUAL", "reason": "…"}`.
    pub review_url: Option<String>,
    /// How long the external reviewer may take before the file goes to manual review.
    pub review_timeout_secs: u64,
    /// How long a webhook receiver may take to answer, in seconds.
    pub webhook_timeout_secs: u64,
    /// How fast the background scrubber re-reads stored blobs, in bytes per second; 0 turns
    /// it off.
    pub scrub_bytes_per_sec: u64,
    /// How long a verified blob waits before the scrubber reads it again, in seconds.
    pub scrub_interval_secs: u64,
    /// How often the reconciliation sweep of the blob store runs, in seconds (and at start).
    pub reconcile_interval_secs: u64,
    /// Webhook targets allowed although they are not public addresses (loopback, private,
    /// link-local, …): host names, IP addresses or CIDR networks, e.g. `["127.0.0.1"]`.
    /// Everything else non-public is refused, checked after DNS resolution on every delivery.
    pub webhook_allow_hosts: Vec<String>,
    /// Serve `/metrics` on this address instead of on `listen` (e.g. a private interface).
    pub metrics_listen: Option<SocketAddr>,
    /// Keys shared with the libraries assets are replicated to and from: key id → base64 of
    /// 32 bytes (a TOML table, or `ASSETD_REPLICATION_KEYS=ID=BASE64,…`). Order matters: the
    /// first encrypts unless `replication_key_id` names another.
    pub replication_keys: ReplicationKeyList,
    /// The key replication info is encrypted with [default: the first of `replication_keys`].
    pub replication_key_id: Option<String>,
    /// How long replication info (and the download URLs inside it) stays valid, in seconds.
    pub replication_ttl_secs: u64,
    /// Wall-clock limit of fetching one file of a replicated asset, in seconds.
    pub replication_fetch_timeout_secs: u64,
    /// `serve` exits non-zero once the catalogue has accepted no write for this many seconds
    /// (checked every 10 s), for a supervisor to restart it; 0 never exits.
    pub catalog_unwritable_exit_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            database_url: None,
            blob_url: None,
            max_body_bytes: 1024 * 1024,
            max_clock_skew_secs: 15 * 60,
            token_ttl_secs: 24 * 3600,
            upload_url_ttl_secs: 24 * 3600,
            download_url_ttl_secs: 24 * 3600,
            abandoned_upload_secs: 24 * 3600,
            workers: 2,
            tool_concurrency: 2,
            tool_timeout_secs: 600,
            tool_memory_mb: 2048,
            tool_cpu_secs: 3600,
            tool_output_mb: 8192,
            tool_stall_secs: 120,
            job_timeout_secs: 1800,
            job_lease_secs: 30,
            job_max_attempts: 5,
            max_image_pixels: 100_000_000,
            thumbnail_size: 320,
            web_max_width: 3840,
            web_max_height: 2160,
            web_max_fps: 60.0,
            page_long_side: 1920,
            recycle_retention_secs: 7 * 24 * 3600,
            review_deny_md5: Vec::new(),
            review_max_duration_secs: None,
            review_url: None,
            review_timeout_secs: 10,
            webhook_timeout_secs: 10,
            scrub_bytes_per_sec: 8 * 1024 * 1024,
            scrub_interval_secs: 7 * 24 * 3600,
            reconcile_interval_secs: 3600,
            webhook_allow_hosts: Vec::new(),
            metrics_listen: None,
            catalog_unwritable_exit_secs: 60,
            replication_keys: ReplicationKeyList::default(),
            replication_key_id: None,
            replication_ttl_secs: 24 * 3600,
            replication_fetch_timeout_secs: 3600,
        }
    }
}

impl Config {
    /// Defaults, overlaid with the TOML file at `path` when one is given.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing config file {}", path.display()))
    }

    /// The base URL that upload and download URLs are built on, without a trailing slash.
    pub fn public_base_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }

    /// The catalogue URL, defaulting to a SQLite file in the data directory.
    pub fn catalog_url(&self) -> String {
        match &self.database_url {
            Some(url) if !url.is_empty() => url.clone(),
            _ => format!("sqlite://{}", self.data_dir.join("catalog.db").display()),
        }
    }

    /// The blob store URL, defaulting to the `blobs` directory in the data directory.
    pub fn blob_url(&self) -> String {
        match &self.blob_url {
            Some(url) if !url.is_empty() => url.clone(),
            _ => self.data_dir.join("blobs").display().to_string(),
        }
    }

    /// The limits every tool run gets (`tool_memory_mb`, `tool_cpu_secs`, `tool_output_mb`,
    /// `tool_stall_secs`).
    pub fn tool_limits(&self) -> crate::media::runner::ToolLimits {
        let mib = |v: u64| (v > 0).then(|| v.saturating_mul(1024 * 1024));
        crate::media::runner::ToolLimits {
            memory_bytes: mib(self.tool_memory_mb),
            cpu_secs: (self.tool_cpu_secs > 0).then_some(self.tool_cpu_secs),
            output_bytes: mib(self.tool_output_mb),
            stall_secs: (self.tool_stall_secs > 0).then_some(self.tool_stall_secs),
        }
    }

    /// Allowed signature clock skew.
    pub fn max_clock_skew(&self) -> Duration {
        Duration::from_secs(self.max_clock_skew_secs)
    }
}

/// Replication keys in the order they were written: key id and base64 key.
#[derive(Debug, Clone, Default)]
pub struct ReplicationKeyList(pub Vec<(String, SecretString)>);

impl ReplicationKeyList {
    /// Parses `ID=BASE64,ID=BASE64` (the form of `ASSETD_REPLICATION_KEYS`).
    pub fn parse(list: &str) -> anyhow::Result<Self> {
        let mut keys = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, key) = entry
                .split_once('=')
                .with_context(|| "replication keys are written ID=BASE64, comma-separated")?;
            keys.push((
                id.trim().to_owned(),
                SecretString::from(key.trim().to_owned()),
            ));
        }
        Ok(Self(keys))
    }
}

impl<'de> Deserialize<'de> for ReplicationKeyList {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> serde::de::Visitor<'de> for Entries {
            type Value = ReplicationKeyList;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a table of key id = \"base64 of 32 bytes\"")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut keys = Vec::new();
                while let Some((id, key)) = map.next_entry::<String, String>()? {
                    keys.push((id, SecretString::from(key)));
                }
                Ok(ReplicationKeyList(keys))
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_values_override_defaults_and_unknown_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("assetd.toml");
        std::fs::write(&path, "listen = \"0.0.0.0:9000\"\nmax_body_bytes = 10\n").unwrap();
        let config = Config::load(Some(&path)).unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.max_body_bytes, 10);
        assert_eq!(config.token_ttl_secs, 24 * 3600);

        std::fs::write(&path, "lisen = \"0.0.0.0:9000\"\n").unwrap();
        assert!(Config::load(Some(&path)).is_err());
    }

    #[test]
    fn replication_keys_keep_the_order_they_were_written_in() {
        use secrecy::ExposeSecret;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("assetd.toml");
        std::fs::write(
            &path,
            "[replication_keys]\nzeta = \"Wg==\"\nalpha = \"QQ==\"\n",
        )
        .unwrap();
        let config = Config::load(Some(&path)).unwrap();
        let ids: Vec<&str> = config
            .replication_keys
            .0
            .iter()
            .map(|(id, _)| id.as_str())
            .collect();
        assert_eq!(ids, ["zeta", "alpha"]);
        let parsed = ReplicationKeyList::parse("b=Qg==, a=QQ==").unwrap();
        assert_eq!(parsed.0[0].0, "b");
        assert_eq!(parsed.0[1].1.expose_secret(), "QQ==");
        assert!(ReplicationKeyList::parse("no-equals-sign").is_err());
    }

    #[test]
    fn public_url_defaults_to_the_listen_address() {
        let config = Config::default();
        assert_eq!(config.public_base_url(), "http://127.0.0.1:8080");
        let config = Config {
            public_url: Some("https://assets.example/".into()),
            ..Config::default()
        };
        assert_eq!(config.public_base_url(), "https://assets.example");
    }
}
