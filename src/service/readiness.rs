//! Readiness: whether this server can do its whole job right now. Checks the catalogue (a
//! read and an empty write), the blob store (a write, read back and delete) and every external tool (present in
//! the tool path and answering its version query). `GET /ready` and `assetd doctor` report
//! the same [`Report`]; `/health` stays a cheap liveness check.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::Mutex;

use crate::app::App;
use crate::blobs::BlobStore;
use crate::catalog::Catalog;
use crate::config::Config;
use crate::media::runner::{Runner, Tool, ToolError, ToolOutput};

/// How long tool versions are remembered: they change only when packages do, and asking
/// LibreOffice takes about half a second.
const TOOL_CHECK_TTL: Duration = Duration::from_secs(30);
/// How long one version query may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(20);

/// One thing the server depends on, and how it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Check {
    /// `catalogue`, `blob_store`, or a tool's program name.
    pub name: String,
    /// Whether it works.
    pub ok: bool,
    /// The tool's version line, or what is wrong.
    pub detail: String,
}

/// Every check, in a fixed order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The checks.
    pub checks: Vec<Check>,
}

impl Report {
    /// True when every check passed.
    pub fn ready(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    /// The failed checks, as `name: detail`.
    pub fn problems(&self) -> Vec<String> {
        self.checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect()
    }

    /// One line per check, `ok`/`FAIL`, aligned, and a verdict line.
    pub fn to_text(&self) -> String {
        let width = self.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        let mut out = String::new();
        for c in &self.checks {
            let mark = if c.ok { "ok  " } else { "FAIL" };
            out.push_str(&format!("{mark} {:<width$}  {}\n", c.name, c.detail));
        }
        out.push_str(if self.ready() {
            "ready\n"
        } else {
            "NOT READY\n"
        });
        out
    }
}

/// Runs the checks; remembers tool results for a while so frequent probes stay cheap.
pub struct Readiness {
    catalog: Arc<dyn Catalog>,
    blobs: BlobStore,
    // A runner of its own: a version query must not wait behind a long transcode.
    runner: Runner,
    tools: Mutex<Option<(Instant, Vec<Check>)>>,
}

impl Readiness {
    /// Checks for `catalog` and `blobs` and the external tools.
    pub fn new(catalog: Arc<dyn Catalog>, blobs: BlobStore) -> Self {
        Self {
            catalog,
            blobs,
            runner: Runner::new(Tool::ALL.len()),
            tools: Mutex::new(None),
        }
    }

    /// Runs every check (tool results may be up to 30 s old).
    pub async fn check(&self) -> Report {
        let mut checks = vec![self.catalogue().await, self.blob_store().await];
        checks.extend(self.tool_checks().await);
        Report { checks }
    }

    async fn catalogue(&self) -> Check {
        if let Err(e) = self.catalog.job_counts().await {
            return fail("catalogue", format!("cannot read: {e}"));
        }
        match crate::app::catalog_writable(self.catalog.as_ref()).await {
            Ok(()) => ok("catalogue", "reads and writes work"),
            Err(e) => fail("catalogue", e.to_string()),
        }
    }

    async fn blob_store(&self) -> Check {
        match self.blobs.check().await {
            Ok(()) => ok("blob_store", "write, read and delete work"),
            Err(e) => fail("blob_store", e.to_string()),
        }
    }

    async fn tool_checks(&self) -> Vec<Check> {
        let mut cached = self.tools.lock().await;
        if let Some((at, checks)) = cached.as_ref() {
            if at.elapsed() < TOOL_CHECK_TTL {
                return checks.clone();
            }
        }
        let checks = check_tools(&self.runner).await;
        *cached = Some((Instant::now(), checks.clone()));
        checks
    }
}

/// Asks every tool for its version, all at once.
pub async fn check_tools(runner: &Runner) -> Vec<Check> {
    let scratch = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => {
            return Tool::ALL
                .iter()
                .map(|t| fail(t.program(), format!("no scratch directory: {e}")))
                .collect()
        }
    };
    let queries = Tool::ALL.map(|tool| {
        let (runner, dir) = (runner.clone(), scratch.path().to_path_buf());
        async move {
            let result = runner
                .run(tool, &[version_flag(tool)], &dir, VERSION_TIMEOUT)
                .await;
            tool_check(tool, result)
        }
    });
    futures::future::join_all(queries).await
}

/// The flag that makes `tool` print its version and exit 0.
fn version_flag(tool: Tool) -> &'static str {
    match tool {
        Tool::Ffmpeg | Tool::Ffprobe => "-version",
        Tool::Soffice => "--version",
        Tool::Pdftoppm | Tool::Pdfinfo | Tool::Pdftotext => "-v",
    }
}

/// A tool's check from its version query: the first line it printed, or why it failed.
pub fn tool_check(tool: Tool, result: Result<ToolOutput, ToolError>) -> Check {
    match result {
        Ok(out) => {
            // poppler prints its version on stderr.
            let stdout = String::from_utf8_lossy(&out.stdout);
            let line = stdout
                .lines()
                .chain(out.stderr_tail.lines())
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("version unknown");
            ok(tool.program(), line)
        }
        Err(e) => fail(tool.program(), e.to_string()),
    }
}

fn ok(name: &str, detail: &str) -> Check {
    Check {
        name: name.to_owned(),
        ok: true,
        detail: detail.to_owned(),
    }
}

fn fail(name: &str, detail: String) -> Check {
    Check {
        name: name.to_owned(),
        ok: false,
        detail,
    }
}

/// What `assetd doctor` prints: the server's own checks, run from its configuration. A
/// catalogue or blob store that cannot even be opened is reported, not raised.
pub async fn doctor(config: &Config) -> Report {
    match App::build(config.clone()).await {
        Ok(app) => app.readiness.check().await,
        Err(e) => {
            let mut checks = vec![fail("catalogue / blob store", format!("{e:#}"))];
            checks.extend(check_tools(&Runner::new(Tool::ALL.len())).await);
            Report { checks }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_tool_fails_with_the_package_to_install() {
        let check = tool_check(Tool::Pdftoppm, Err(ToolError::Missing(Tool::Pdftoppm)));
        assert!(!check.ok);
        assert_eq!(check.name, "pdftoppm");
        assert!(check.detail.contains("poppler-utils"), "{}", check.detail);
    }

    #[test]
    fn the_version_is_the_first_line_on_stdout_or_else_stderr() {
        let out = ToolOutput {
            stdout: b"\nffmpeg version 5.1\nbuilt with gcc\n".to_vec(),
            stderr_tail: String::new(),
        };
        assert_eq!(
            tool_check(Tool::Ffmpeg, Ok(out)).detail,
            "ffmpeg version 5.1"
        );
        let out = ToolOutput {
            stdout: Vec::new(),
            stderr_tail: "pdfinfo version 22.12.0\nCopyright".into(),
        };
        let check = tool_check(Tool::Pdfinfo, Ok(out));
        assert!(check.ok);
        assert_eq!(check.detail, "pdfinfo version 22.12.0");
    }

    #[test]
    fn the_report_is_ready_only_when_every_check_passed() {
        let mut report = Report {
            checks: vec![ok("catalogue", "fine"), ok("ffmpeg", "ffmpeg version 5")],
        };
        assert!(report.ready());
        assert!(report.to_text().ends_with("ready\n"));
        report.checks.push(fail("soffice", "not installed".into()));
        assert!(!report.ready());
        assert_eq!(report.problems(), vec!["soffice: not installed"]);
        assert!(report.to_text().contains("FAIL soffice"));
        assert!(report.to_text().ends_with("NOT READY\n"));
    }

    #[tokio::test]
    async fn every_installed_tool_reports_a_version() {
        let checks = check_tools(&Runner::new(2)).await;
        assert_eq!(checks.len(), Tool::ALL.len());
        for check in checks {
            // On a machine without the tools, each is reported missing with its package.
            if check.ok {
                assert_ne!(check.detail, "version unknown", "{check:?}");
            } else {
                assert!(check.detail.contains("install"), "{check:?}");
            }
        }
    }
}
