//! The real `assetd` binary as a child process, for tests that kill it with SIGKILL and
//! restart it on the same data directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `assetd` with no inherited `ASSETD_*` settings and quiet logs.
pub fn assetd() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_assetd"));
    for (key, _) in std::env::vars() {
        if key.starts_with("ASSETD_") {
            command.env_remove(key);
        }
    }
    command.env("ASSETD_LOG", "warn");
    command
}

/// The blob store of the server on `data_dir`: under `ASSETD_TEST_BLOB_URL`, a prefix that
/// is the same for every start on that directory; `None` for the local default.
pub fn blob_url_for(data_dir: &Path) -> Option<String> {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(data_dir.display().to_string().as_bytes());
    super::test_blob_url(&hex::encode(&digest[..8]))
}

/// The blob store a server on `data_dir` uses, opened directly (to look behind its back).
pub async fn store_for(data_dir: &Path) -> assetd::blobs::BlobStore {
    let url =
        blob_url_for(data_dir).unwrap_or_else(|| data_dir.join("blobs").display().to_string());
    assetd::blobs::BlobStore::open(&url).await.unwrap()
}

/// Keys of the objects under `prefix` in `store`.
pub async fn objects(store: &assetd::blobs::BlobStore, prefix: &str) -> Vec<String> {
    use futures::StreamExt;
    store.list(prefix).map(|r| r.unwrap().0).collect().await
}

/// `assetd --data-dir DATA_DIR` on that directory's catalogue: a PostgreSQL database of its
/// own when tests run on PostgreSQL (see [`super::postgres::database_for`]), and its blob
/// store (see [`blob_url_for`]).
pub fn assetd_on(data_dir: &Path) -> Command {
    let mut command = assetd();
    command.arg("--data-dir").arg(data_dir);
    if let Some(url) = super::postgres::database_for(data_dir) {
        command.env("ASSETD_DATABASE_URL", url);
    }
    if let Some(url) = blob_url_for(data_dir) {
        command.arg("--blob-url").arg(url);
    }
    command
}

/// A running `assetd serve`, SIGKILLed when dropped.
pub struct ChildServer {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    log: PathBuf,
}

impl ChildServer {
    /// Serves `data_dir` (with `config` when given) on a free loopback port, logging to `log`,
    /// and waits for `/health`.
    pub async fn start(data_dir: &Path, config: Option<&Path>, log: PathBuf) -> Self {
        Self::start_with_env(data_dir, config, log, &[]).await
    }

    /// [`ChildServer::start`] with extra environment variables, e.g. `ASSETD_LOG=info`.
    pub async fn start_with_env(
        data_dir: &Path,
        config: Option<&Path>,
        log: PathBuf,
        env: &[(&str, &str)],
    ) -> Self {
        let mut command = assetd_on(data_dir);
        if let Some(config) = config {
            command.arg("--config").arg(config);
        }
        command.envs(env.iter().copied());
        Self::serve(command, log).await
    }

    /// Runs `command` (an [`assetd`] with global options) as `serve` on a free loopback port,
    /// logging to `log`, and waits for `/health`.
    pub async fn serve(mut command: Command, log: PathBuf) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let out = std::fs::File::create(&log).unwrap();
        let child = command
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .expect("assetd starts");
        let mut server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        server.wait_healthy().await;
        server
    }

    async fn wait_healthy(&mut self) {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = http.get(format!("{}/health", self.base)).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("assetd exited with {status}:\n{}", self.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "assetd not healthy after 60 s:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// What the server wrote so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (at most `within`) for the server to exit on its own and returns its status.
    pub async fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "assetd still running after {within:?}:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILL: no shutdown hooks, no flushing beyond what the kernel already has.
    pub fn kill_9(&mut self) {
        self.child.kill().expect("SIGKILL");
        let status = self.child.wait().unwrap();
        assert!(!status.success(), "killed, not exited: {status}");
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
