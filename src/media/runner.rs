//! The one bounded way to run an external tool (ffprobe, ffmpeg, LibreOffice, poppler),
//! modelled on pict-rs `src/process.rs`.
//!
//! Every call goes through [`Runner::run`]: argv only (never a shell), a cleared environment,
//! stdin closed, stdout and stderr drained while the child runs, a semaphore capping how many
//! tools run at once, and a wall-clock timeout after which the child and its whole process
//! group are killed. Each job works in a [`JobDir`] that is removed when dropped.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::sync::Semaphore;

use crate::error::Code;

/// The only directories searched for tools, and the child's `PATH`.
pub const TOOL_PATH: &str = "/usr/bin:/bin";

/// How much of the end of a tool's stderr is kept for error messages.
pub const STDERR_TAIL_BYTES: usize = 4 * 1024;

/// The most stdout a tool may write before the run fails with [`ToolError::OutputTooLarge`].
pub const MAX_STDOUT_BYTES: usize = 32 * 1024 * 1024;

/// Name prefix of the directories made by [`JobDir::new`]; [`JobDir::sweep`] removes only these.
pub const JOB_DIR_PREFIX: &str = "job-";

/// An external program assetd knows how to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tool {
    /// `ffprobe`, reads media metadata.
    Ffprobe,
    /// `ffmpeg`, extracts covers and transcodes.
    Ffmpeg,
    /// LibreOffice (`soffice`, else `libreoffice`), converts decks to PDF.
    Soffice,
    /// poppler `pdftoppm`, renders PDF pages to images.
    Pdftoppm,
    /// poppler `pdfinfo`, reads the page count.
    Pdfinfo,
    /// poppler `pdftotext`, extracts page text.
    Pdftotext,
}

impl Tool {
    /// Every tool, in start-up report order.
    pub const ALL: [Tool; 6] = [
        Tool::Ffprobe,
        Tool::Ffmpeg,
        Tool::Soffice,
        Tool::Pdftoppm,
        Tool::Pdfinfo,
        Tool::Pdftotext,
    ];

    /// The program's primary name. [`Tool::Soffice`] also accepts `libreoffice` (see
    /// [`Tool::candidates`]).
    pub fn program(&self) -> &'static str {
        self.candidates()[0]
    }

    /// The names tried, in order, in each directory of [`TOOL_PATH`].
    pub fn candidates(&self) -> &'static [&'static str] {
        match self {
            Tool::Ffprobe => &["ffprobe"],
            Tool::Ffmpeg => &["ffmpeg"],
            Tool::Soffice => &["soffice", "libreoffice"],
            Tool::Pdftoppm => &["pdftoppm"],
            Tool::Pdfinfo => &["pdfinfo"],
            Tool::Pdftotext => &["pdftotext"],
        }
    }

    /// The Debian/Ubuntu package that provides the tool.
    pub fn package(&self) -> &'static str {
        match self {
            Tool::Ffprobe | Tool::Ffmpeg => "ffmpeg",
            Tool::Soffice => "libreoffice-impress",
            Tool::Pdftoppm | Tool::Pdfinfo | Tool::Pdftotext => "poppler-utils",
        }
    }

    /// Which asset types lose processing when the tool is missing.
    pub fn affects(&self) -> &'static str {
        match self {
            Tool::Ffprobe => "VIDEO, AUDIO, MUSIC and IMAGE metadata",
            Tool::Ffmpeg => "VIDEO covers and web transcodes",
            Tool::Soffice => "PPT/PPTX decks (conversion to PDF)",
            Tool::Pdftoppm => "PPT page images",
            Tool::Pdfinfo => "PPT page counts",
            Tool::Pdftotext => "PPT page text",
        }
    }

    /// The absolute path the tool would run from, if it is installed in [`TOOL_PATH`].
    pub fn resolve(&self) -> Option<PathBuf> {
        self.candidates().iter().find_map(|name| {
            TOOL_PATH
                .split(':')
                .map(|dir| Path::new(dir).join(name))
                .find(|path| is_executable(path))
        })
    }
}

impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.program())
    }
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// Whether `tool` is installed where [`Runner::run`] looks for it.
pub fn available(tool: Tool) -> bool {
    tool.resolve().is_some()
}

/// The tools that are not installed, each with the asset types that lose processing, for one
/// start-up log line.
pub fn report_missing() -> Vec<(Tool, &'static str)> {
    Tool::ALL
        .into_iter()
        .filter(|t| !available(*t))
        .map(|t| (t, t.affects()))
        .collect()
}

/// What a successful run produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolOutput {
    /// Everything the tool wrote to stdout (at most [`MAX_STDOUT_BYTES`]).
    pub stdout: Vec<u8>,
    /// The last [`STDERR_TAIL_BYTES`] of stderr, lossily decoded and trimmed.
    pub stderr_tail: String,
}

/// Why a tool run failed.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The tool is not installed in [`TOOL_PATH`].
    #[error(
        "{0} is not installed (looked in {path}); install the `{pkg}` package to process {affects}",
        path = TOOL_PATH,
        pkg = .0.package(),
        affects = .0.affects()
    )]
    Missing(Tool),
    /// The tool ran past its timeout and was killed.
    #[error(
        "{tool} did not finish within {}s and was killed; the input may be damaged or too large \
         for the configured timeout",
        after.as_secs_f64()
    )]
    TimedOut {
        /// The tool that was killed.
        tool: Tool,
        /// The timeout it ran into.
        after: Duration,
    },
    /// The tool exited unsuccessfully.
    #[error("{tool} failed ({status}): {}", or_no_output(stderr_tail))]
    Failed {
        /// The tool that failed.
        tool: Tool,
        /// Its exit status.
        status: ExitStatus,
        /// The end of its stderr, which usually names the problem.
        stderr_tail: String,
    },
    /// The tool went over one of its resource limits ([`ToolLimits`]) and was stopped.
    #[error("{tool} was stopped at its limit of {limit}; the input is too complex or hostile")]
    OverLimit {
        /// The tool.
        tool: Tool,
        /// Which limit, e.g. "600 s of CPU time" or "120 s without using any CPU (hung)".
        limit: String,
    },
    /// The tool wrote more to stdout than [`MAX_STDOUT_BYTES`].
    #[error("{tool} wrote more than {limit} bytes to stdout; its output was not kept")]
    OutputTooLarge {
        /// The tool.
        tool: Tool,
        /// The limit it went over.
        limit: usize,
    },
    /// The tool succeeded but wrote nothing usable.
    #[error("{tool} produced no {what}: the input has none, or none that decodes")]
    NoOutput {
        /// The tool.
        tool: Tool,
        /// What was expected, e.g. "video frame".
        what: &'static str,
    },
    /// A path handed to a tool is not an absolute path to a local regular file.
    #[error(
        "{} is not a plain local file: tools only get absolute paths to regular files",
        .0.display()
    )]
    NotLocalFile(PathBuf),
    /// Spawning the tool or reading its pipes failed.
    #[error("could not run {tool}: {source}")]
    Io {
        /// The tool.
        tool: Tool,
        /// The operating-system error.
        #[source]
        source: io::Error,
    },
}

fn or_no_output(tail: &str) -> &str {
    if tail.is_empty() {
        "no error output"
    } else {
        tail
    }
}

impl ToolError {
    /// Tool failures are internal; jobs turn them into an asset's `FAILED` reason.
    pub fn code(&self) -> Code {
        Code::Internal
    }

    /// Whether running the same tool on the same input again would fail the same way (bad
    /// input, timeout, refused path), as opposed to an installation or system problem that a
    /// retry after a fix may overcome.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::Failed { .. }
            | Self::TimedOut { .. }
            | Self::OutputTooLarge { .. }
            | Self::OverLimit { .. }
            | Self::NoOutput { .. }
            | Self::NotLocalFile(_) => true,
            Self::Missing(_) | Self::Io { .. } => false,
        }
    }
}

/// The argument for a file a tool must read: an absolute path to an existing regular file
/// (following symlinks). Refuses relative paths, URLs, protocol strings like `concat:` or
/// `pipe:`, devices and FIFOs.
pub fn input_path_arg(path: &Path) -> Result<OsString, ToolError> {
    let regular = std::fs::metadata(path).is_ok_and(|m| m.is_file());
    if path.is_absolute() && regular {
        Ok(path.as_os_str().to_owned())
    } else {
        Err(ToolError::NotLocalFile(path.to_owned()))
    }
}

/// The argument for a file a tool must write: an absolute path whose directory exists.
pub fn output_path_arg(path: &Path) -> Result<OsString, ToolError> {
    let dir_exists = path.parent().is_some_and(Path::is_dir);
    if path.is_absolute() && dir_exists && path.file_name().is_some() {
        Ok(path.as_os_str().to_owned())
    } else {
        Err(ToolError::NotLocalFile(path.to_owned()))
    }
}

/// Resource limits of every tool run, set with `setrlimit` in the child before it executes
/// and inherited by whatever it starts (LibreOffice's `soffice.bin`). `None` leaves a limit
/// as the server has it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ToolLimits {
    /// Address space of each process (`RLIMIT_AS`), in bytes: allocations beyond it fail.
    pub memory_bytes: Option<u64>,
    /// CPU time of each process (`RLIMIT_CPU`), in seconds: SIGKILL.
    pub cpu_secs: Option<u64>,
    /// Size of any file a tool writes (`RLIMIT_FSIZE`), in bytes: SIGXFSZ.
    pub output_bytes: Option<u64>,
    /// Seconds a tool's process group may go without using any CPU time before it is
    /// killed as hung: LibreOffice that runs into its address-space limit can deadlock
    /// instead of exiting, and would otherwise hold a worker until the job's deadline.
    pub stall_secs: Option<u64>,
}

impl ToolLimits {
    /// What a tool that died of `signal` ran into, if the signal is how a limit stops it.
    fn exceeded_by(&self, signal: i32) -> Option<String> {
        match signal {
            // The CPU limit's soft and hard values are equal, so the kernel sends SIGKILL
            // (tools like ffmpeg catch SIGXCPU and exit like any failure). Our own kills
            // come with a timeout, which is reported before the exit status is looked at.
            libc::SIGKILL | libc::SIGXCPU => Some(format!("{} s of CPU time", self.cpu_secs?)),
            libc::SIGXFSZ => Some(format!(
                "{} MiB of output in one file",
                self.output_bytes.unwrap_or(0) / MIB
            )),
            _ => None,
        }
    }
}

const MIB: u64 = 1024 * 1024;

/// Runs external tools, at most `max_concurrent` at a time. Cheap to clone.
#[derive(Clone)]
pub struct Runner {
    permits: Arc<Semaphore>,
    max_concurrent: usize,
    limits: ToolLimits,
}

impl fmt::Debug for Runner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runner")
            .field("max_concurrent", &self.max_concurrent)
            .field("idle_permits", &self.permits.available_permits())
            .finish()
    }
}

impl Runner {
    /// A runner allowing `max_concurrent` tools at once (at least one).
    pub fn new(max_concurrent: usize) -> Self {
        let max_concurrent = max_concurrent.max(1);
        Runner {
            permits: Arc::new(Semaphore::new(max_concurrent)),
            max_concurrent,
            limits: ToolLimits::default(),
        }
    }

    /// The same runner with every tool run bounded by `limits`.
    pub fn with_limits(self, limits: ToolLimits) -> Self {
        Runner { limits, ..self }
    }

    /// How many tools may run at once.
    pub fn max_concurrent(&self) -> usize {
        self.max_concurrent
    }

    /// Runs `tool` with `args` in `cwd` (also its `HOME`) and returns its stdout once it exits
    /// successfully.
    ///
    /// `timeout` is wall-clock time from spawn; waiting for a free slot is not counted. On
    /// timeout the child and its process group are killed and reaped before
    /// [`ToolError::TimedOut`] is returned. Dropping the future also kills them. Every run is
    /// counted in the metrics by tool and outcome.
    pub async fn run<S: AsRef<OsStr>>(
        &self,
        tool: Tool,
        args: &[S],
        cwd: &Path,
        timeout: Duration,
    ) -> Result<ToolOutput, ToolError> {
        let started = Instant::now();
        let result = self.run_unrecorded(tool, args, cwd, timeout).await;
        crate::telemetry::tool_run(tool, &result, started.elapsed());
        result
    }

    async fn run_unrecorded<S: AsRef<OsStr>>(
        &self,
        tool: Tool,
        args: &[S],
        cwd: &Path,
        timeout: Duration,
    ) -> Result<ToolOutput, ToolError> {
        let program = tool.resolve().ok_or(ToolError::Missing(tool))?;
        if !cwd.is_dir() {
            return Err(ToolError::Io {
                tool,
                source: io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("working directory {} does not exist", cwd.display()),
                ),
            });
        }
        let _permit = self.permits.acquire().await.map_err(|_| ToolError::Io {
            tool,
            source: io::Error::other("the tool runner was shut down"),
        })?;

        let mut cmd = Command::new(&program);
        cmd.args(args)
            .current_dir(cwd)
            .env_clear()
            .env("PATH", TOOL_PATH)
            .env("HOME", cwd)
            .env("LANG", "C.UTF-8")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        #[cfg(unix)]
        cmd.process_group(0);
        #[cfg(target_os = "linux")]
        die_with_parent(&mut cmd);
        #[cfg(unix)]
        apply_limits(&mut cmd, self.limits);

        let started = Instant::now();
        let mut child = cmd.spawn().map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => ToolError::Missing(tool),
            _ => ToolError::Io { tool, source },
        })?;
        let group = ProcessGroup::of(child.id());
        tracing::debug!(tool = %tool, pid = child.id(), "tool started");

        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(ToolError::Io {
                tool,
                source: io::Error::other("child pipes were not captured"),
            });
        };

        let work = async {
            let wait = async {
                let status = child.wait().await;
                // Descendants (soffice.bin under oosplash) may still hold the pipes open.
                group.kill();
                status
            };
            tokio::join!(
                wait,
                read_capped(stdout, MAX_STDOUT_BYTES),
                read_tail(stderr, STDERR_TAIL_BYTES)
            )
        };

        let stall = self.limits.stall_secs.map(Duration::from_secs);
        let finished = tokio::select! {
            done = tokio::time::timeout(timeout, work) => done.map_err(|_| None),
            stalled = stalled(group.pgid, stall) => Err(Some(stalled)),
        };
        let (status, stdout, stderr_tail) = match finished {
            Ok(done) => done,
            Err(stalled) => {
                let _ = child.kill().await;
                group.kill();
                tracing::debug!(tool = %tool, timeout_secs = timeout.as_secs_f64(), stalled = stalled.is_some(), "tool killed");
                return Err(match stalled {
                    Some(limit) => ToolError::OverLimit { tool, limit },
                    None => ToolError::TimedOut {
                        tool,
                        after: timeout,
                    },
                });
            }
        };
        let io_err = |source| ToolError::Io { tool, source };
        let status = status.map_err(io_err)?;
        let (stdout, overflowed) = stdout.map_err(io_err)?;
        let stderr_tail = without_paths(&stderr_tail.map_err(io_err)?, args, cwd);
        tracing::debug!(
            tool = %tool,
            %status,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "tool finished"
        );

        #[cfg(unix)]
        if let Some(limit) = std::os::unix::process::ExitStatusExt::signal(&status)
            .and_then(|signal| self.limits.exceeded_by(signal))
        {
            return Err(ToolError::OverLimit { tool, limit });
        }
        if !status.success() {
            return Err(ToolError::Failed {
                tool,
                status,
                stderr_tail,
            });
        }
        if overflowed {
            return Err(ToolError::OutputTooLarge {
                tool,
                limit: MAX_STDOUT_BYTES,
            });
        }
        Ok(ToolOutput {
            stdout,
            stderr_tail,
        })
    }
}

/// `text` (a tool's stderr) with the server's paths taken out: every absolute path among
/// `args` becomes its file name and the job directory `cwd` disappears, so failure reasons
/// shown to clients name files, not where the server keeps them.
fn without_paths<S: AsRef<OsStr>>(text: &str, args: &[S], cwd: &Path) -> String {
    let mut paths: Vec<(String, String)> = args
        .iter()
        .map(|a| Path::new(a.as_ref()))
        .filter(|p| p.is_absolute())
        .filter_map(|p| {
            let name = p.file_name()?.to_string_lossy().into_owned();
            Some((p.to_str()?.to_owned(), name))
        })
        .collect();
    if let Some(dir) = cwd.to_str() {
        paths.push((format!("{dir}/"), String::new()));
        paths.push((dir.to_owned(), ".".to_owned()));
    }
    // Longest first, so a file inside the job directory keeps its name.
    paths.sort_by_key(|(path, _)| std::cmp::Reverse(path.len()));
    paths
        .iter()
        .filter(|(path, _)| path.len() > 1)
        .fold(text.to_owned(), |text, (path, name)| {
            text.replace(path, name)
        })
}

/// Asks the kernel to SIGKILL the tool when the thread that started it dies, so a server that
/// is killed (SIGKILL, OOM) does not leave it running. Tools are started only from the
/// runtime's worker threads, which live as long as the process. Grandchildren (LibreOffice's
/// `soffice.bin`) are not covered; [`JobDir::sweep`] stops those at the next start.
#[cfg(target_os = "linux")]
fn die_with_parent(cmd: &mut Command) {
    let parent = std::process::id();
    // SAFETY: the closure runs in the child between fork and exec. It only makes the
    // async-signal-safe calls prctl(2) and getppid(2) and allocates nothing, not even on its
    // error path.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(io::Error::last_os_error());
            }
            // The server may have died before the request took effect.
            if u32::try_from(libc::getppid()).ok() != Some(parent) {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

/// Sets `limits` in the child between fork and exec (see [`ToolLimits`]).
#[cfg(unix)]
fn apply_limits(cmd: &mut Command, limits: ToolLimits) {
    if limits == ToolLimits::default() {
        return;
    }
    let to_rlim = |v: u64| libc::rlim_t::try_from(v).unwrap_or(libc::RLIM_INFINITY);
    let settings = [
        (
            libc::RLIMIT_AS,
            limits.memory_bytes.map(|v| (to_rlim(v), to_rlim(v))),
        ),
        (
            libc::RLIMIT_CPU,
            limits.cpu_secs.map(|v| (to_rlim(v), to_rlim(v))),
        ),
        (
            libc::RLIMIT_FSIZE,
            limits.output_bytes.map(|v| (to_rlim(v), to_rlim(v))),
        ),
    ];
    // SAFETY: the closure runs in the child between fork and exec. It only calls
    // getrlimit(2) and setrlimit(2), which are async-signal-safe, on a copy of the array above, and allocates
    // nothing, not even on its error path.
    unsafe {
        cmd.pre_exec(move || {
            for (resource, value) in settings {
                if let Some((soft, hard)) = value {
                    // Never above the server's own hard limit: raising it would be refused.
                    let mut current = libc::rlimit {
                        rlim_cur: 0,
                        rlim_max: 0,
                    };
                    if libc::getrlimit(resource, &mut current) == -1 {
                        return Err(io::Error::last_os_error());
                    }
                    let limit = libc::rlimit {
                        rlim_cur: soft.min(current.rlim_max),
                        rlim_max: hard.min(current.rlim_max),
                    };
                    if libc::setrlimit(resource, &limit) == -1 {
                        return Err(io::Error::last_os_error());
                    }
                }
            }
            Ok(())
        });
    }
}

/// Kills the processes whose working directory is inside `dir`: tools, and their children,
/// that a killed server left running in a job directory (every tool runs in its job's
/// directory, and its children inherit it).
#[cfg(target_os = "linux")]
fn kill_processes_in(dir: &Path) {
    let (Ok(dir), Ok(procs)) = (std::fs::canonicalize(dir), std::fs::read_dir("/proc")) else {
        return;
    };
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        let inside =
            std::fs::read_link(entry.path().join("cwd")).is_ok_and(|cwd| cwd.starts_with(&dir));
        if inside && pid > 1 && u32::try_from(pid).ok() != Some(std::process::id()) {
            tracing::warn!(pid, dir = %dir.display(), "killing a tool left running by a previous run");
            // SAFETY: kill(2) has no memory-safety preconditions; ESRCH (gone) is fine.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn kill_processes_in(_dir: &Path) {}

/// Completes once the processes of group `pgid` together have used no CPU time for `limit`
/// (checked every few seconds), with what to report; never completes without a group or a
/// limit. A tool that computes always gains CPU time; one deadlocked (or blocked on input
/// that never comes) does not.
async fn stalled(pgid: Option<i32>, limit: Option<Duration>) -> String {
    let (Some(pgid), Some(limit)) = (pgid, limit) else {
        return std::future::pending().await;
    };
    let poll = (limit / 4).clamp(Duration::from_millis(100), Duration::from_secs(5));
    let Some(mut last) = group_cpu_ticks(pgid) else {
        return std::future::pending().await;
    };
    let mut since = Instant::now();
    loop {
        tokio::time::sleep(poll).await;
        let Some(now) = group_cpu_ticks(pgid) else {
            return std::future::pending().await;
        };
        if now != last {
            (last, since) = (now, Instant::now());
        } else if since.elapsed() >= limit {
            return format!("{} s without using any CPU (hung)", limit.as_secs());
        }
    }
}

/// The CPU time (user + system, in clock ticks) of the live processes in group `pgid`,
/// from `/proc`; `None` where `/proc` is not there.
fn group_cpu_ticks(pgid: i32) -> Option<u64> {
    let procs = std::fs::read_dir("/proc").ok()?;
    let mut total = 0;
    for entry in procs.flatten() {
        if !entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // After the command name in parentheses: state ppid pgrp session tty tpgid flags
        // minflt cminflt majflt cmajflt utime stime …
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(2).and_then(|g| g.parse::<i32>().ok()) != Some(pgid) {
            continue;
        }
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        total += ticks(11) + ticks(12);
    }
    Some(total)
}

/// The child's process group (the child is its leader). Killed explicitly once the leader has
/// exited or timed out, and on drop if the run future is abandoned.
struct ProcessGroup {
    pgid: Option<i32>,
    killed: AtomicBool,
}

impl ProcessGroup {
    fn of(pid: Option<u32>) -> Self {
        ProcessGroup {
            pgid: pid.and_then(|p| i32::try_from(p).ok()).filter(|p| *p > 1),
            killed: AtomicBool::new(false),
        }
    }

    fn kill(&self) {
        if self.killed.swap(true, Ordering::SeqCst) {
            return;
        }
        #[cfg(unix)]
        if let Some(pgid) = self.pgid {
            // SAFETY: kill(2) has no memory-safety preconditions; a negative pid addresses the
            // process group we created with process_group(0). ESRCH (already gone) is fine.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Reads `reader` to its end, keeping at most `cap` bytes; the flag says whether more came.
async fn read_capped<R: AsyncRead + Unpin>(
    mut reader: R,
    cap: usize,
) -> io::Result<(Vec<u8>, bool)> {
    let mut kept = Vec::new();
    let mut overflowed = false;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            return Ok((kept, overflowed));
        }
        let room = cap.saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
        overflowed |= n > room;
    }
}

/// Reads `reader` to its end, keeping only the last `tail` bytes as trimmed text.
async fn read_tail<R: AsyncRead + Unpin>(mut reader: R, tail: usize) -> io::Result<String> {
    let mut kept: Vec<u8> = Vec::new();
    let mut cut = false;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&buf[..n]);
        if kept.len() > 2 * tail {
            kept.drain(..kept.len() - tail);
            cut = true;
        }
    }
    if kept.len() > tail {
        kept.drain(..kept.len() - tail);
        cut = true;
    }
    let text = String::from_utf8_lossy(&kept);
    // A cut tail starts mid-line (possibly mid-character); start at the next full line.
    let text = match (cut, text.find('\n')) {
        (true, Some(i)) => &text[i + 1..],
        _ => &text[..],
    };
    Ok(text.trim().to_owned())
}

/// A per-job scratch directory under a parent (e.g. `<data_dir>/work`), removed with
/// everything in it when dropped.
#[derive(Debug)]
pub struct JobDir {
    dir: tempfile::TempDir,
}

impl JobDir {
    /// Creates `parent` if needed and a fresh, private `job-*` directory inside it.
    pub fn new(parent: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(parent)?;
        let dir = tempfile::Builder::new()
            .prefix(JOB_DIR_PREFIX)
            .tempdir_in(parent)?;
        Ok(JobDir { dir })
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A path for `name` inside the directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Removes `job-*` directories left in `parent` by a crashed process, first killing any
    /// tool still running in one; call at start-up, before any job runs. Returns how many were
    /// removed; a missing `parent` is not an error.
    pub fn sweep(parent: &Path) -> io::Result<usize> {
        let entries = match std::fs::read_dir(parent) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut removed = 0;
        for entry in entries {
            let entry = entry?;
            let is_job = entry
                .file_name()
                .to_string_lossy()
                .starts_with(JOB_DIR_PREFIX);
            if is_job && entry.file_type()?.is_dir() {
                kill_processes_in(&entry.path());
                std::fs::remove_dir_all(entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

impl AsRef<Path> for JobDir {
    fn as_ref(&self) -> &Path {
        self.path()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch() -> JobDir {
        JobDir::new(&std::env::temp_dir().join("assetd-media-tests")).unwrap()
    }

    fn ffmpeg_installed() -> bool {
        if available(Tool::Ffmpeg) {
            return true;
        }
        eprintln!("skipping: ffmpeg is not installed in {TOOL_PATH}");
        false
    }

    /// Pids of live processes whose working directory is `dir`.
    fn processes_in(dir: &Path) -> Vec<u32> {
        let Ok(procs) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        procs
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let pid: u32 = e.file_name().to_str()?.parse().ok()?;
                let cwd = std::fs::read_link(e.path().join("cwd")).ok()?;
                (cwd == dir).then_some(pid)
            })
            .collect()
    }

    #[tokio::test]
    async fn a_tool_that_runs_past_its_timeout_is_killed_and_its_dir_removed() {
        if !ffmpeg_installed() {
            return;
        }
        let runner = Runner::new(2);
        let job = scratch();
        let dir = job.path().to_owned();
        let args = [
            "-nostdin", "-v", "error", "-re", "-f", "lavfi", "-i", "testsrc2", "-f", "null", "-",
        ];
        let started = Instant::now();
        let err = runner
            .run(Tool::Ffmpeg, &args, &dir, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(
            matches!(err, ToolError::TimedOut { tool: Tool::Ffmpeg, after } if after == Duration::from_secs(1)),
            "{err}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(
            err.to_string().contains("did not finish within 1s"),
            "{err}"
        );
        assert!(processes_in(&dir).is_empty(), "ffmpeg survived its timeout");
        drop(job);
        assert!(!dir.exists(), "job dir was not removed");
    }

    #[tokio::test]
    async fn a_timed_out_libreoffice_takes_its_whole_process_group_with_it() {
        if !available(Tool::Soffice) {
            eprintln!("skipping: LibreOffice is not installed in {TOOL_PATH}");
            return;
        }
        // `soffice` is a shell script that starts oosplash, which starts soffice.bin; headless
        // with no document it never exits. Killing only the direct child would orphan the rest.
        let job = scratch();
        let dir = job.path().to_owned();
        let runner = Runner::new(1);
        let args = ["--headless", "--norestore", "--nologo"];
        let run = runner.run(Tool::Soffice, &args, &dir, Duration::from_secs(4));
        let most_seen = async {
            let mut most = 0;
            for _ in 0..35 {
                most = most.max(processes_in(&dir).len());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            most
        };
        let (result, most_seen) = tokio::join!(run, most_seen);
        assert!(
            matches!(result, Err(ToolError::TimedOut { .. })),
            "{result:?}"
        );
        assert!(most_seen >= 2, "LibreOffice never started a second process");
        for _ in 0..50 {
            if processes_in(&dir).is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            processes_in(&dir),
            Vec::<u32>::new(),
            "LibreOffice processes survived"
        );
    }

    #[tokio::test]
    async fn an_abandoned_run_kills_its_tool_and_frees_the_permit() {
        if !ffmpeg_installed() {
            return;
        }
        let runner = Runner::new(1);
        let job = scratch();
        let dir = job.path().to_owned();
        let args = [
            "-nostdin", "-re", "-f", "lavfi", "-i", "testsrc2", "-f", "null", "-",
        ];
        let run = runner.run(Tool::Ffmpeg, &args, &dir, Duration::from_secs(60));
        let _ = tokio::time::timeout(Duration::from_millis(500), run).await;
        // kill_on_drop sends SIGKILL; give the kernel a moment to tear the process down.
        for _ in 0..50 {
            if processes_in(&dir).is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            processes_in(&dir).is_empty(),
            "abandoned ffmpeg kept running"
        );
        assert_eq!(runner.permits.available_permits(), 1, "permit leaked");
    }

    #[tokio::test]
    async fn a_failing_tool_reports_its_status_and_stderr() {
        if !available(Tool::Ffprobe) {
            eprintln!("skipping: ffprobe is not installed");
            return;
        }
        let job = scratch();
        let err = Runner::new(1)
            .run(
                Tool::Ffprobe,
                &["-v", "error", "/nonexistent/input.mp4"],
                job.path(),
                Duration::from_secs(10),
            )
            .await
            .unwrap_err();
        let ToolError::Failed {
            tool, stderr_tail, ..
        } = &err
        else {
            panic!("expected Failed, got {err:?}");
        };
        assert_eq!(*tool, Tool::Ffprobe);
        assert!(stderr_tail.contains("No such file"), "{stderr_tail}");
        assert!(err
            .to_string()
            .starts_with("ffprobe failed (exit status: 1): "));
        assert!(err.is_permanent());
    }

    #[tokio::test]
    async fn the_child_sees_only_the_minimal_environment() {
        if !ffmpeg_installed() {
            return;
        }
        // ffmpeg's `-report` honours FFREPORT from the environment; with a cleared env it
        // must not see a variable set in ours. Checking the env directly needs /proc.
        let job = scratch();
        let dir = job.path().to_owned();
        let runner = Runner::new(1);
        let args = [
            "-nostdin", "-re", "-f", "lavfi", "-i", "testsrc2", "-f", "null", "-",
        ];
        let run = runner.run(Tool::Ffmpeg, &args, &dir, Duration::from_secs(2));
        let check = async {
            for _ in 0..100 {
                if let Some(pid) = processes_in(&dir).first() {
                    let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
                    let mut vars: Vec<String> = env
                        .split(|b| *b == 0)
                        .filter(|v| !v.is_empty())
                        .map(|v| String::from_utf8_lossy(v).into_owned())
                        .collect();
                    vars.sort();
                    return vars;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Vec::new()
        };
        let (_, vars) = tokio::join!(run, check);
        assert_eq!(
            vars,
            [
                format!("HOME={}", dir.display()),
                "LANG=C.UTF-8".to_owned(),
                format!("PATH={TOOL_PATH}"),
            ]
        );
    }

    #[tokio::test]
    async fn the_semaphore_caps_concurrent_runs() {
        if !ffmpeg_installed() {
            return;
        }
        let runner = Runner::new(1);
        let job = scratch();
        let args = [
            "-nostdin", "-v", "error", "-re", "-f", "lavfi", "-i", "testsrc2", "-t", "0.4", "-f",
            "null", "-",
        ];
        let started = Instant::now();
        let (a, b) = tokio::join!(
            runner.run(Tool::Ffmpeg, &args, job.path(), Duration::from_secs(10)),
            runner.run(Tool::Ffmpeg, &args, job.path(), Duration::from_secs(10)),
        );
        a.unwrap();
        b.unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(800),
            "two 0.4 s runs overlapped: {:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn stdout_is_returned_and_stderr_is_only_a_tail() {
        if !ffmpeg_installed() {
            return;
        }
        let job = scratch();
        // 8 KiB of raw gray pixels on stdout; lots of stats on stderr.
        let args = [
            "-nostdin",
            "-f",
            "lavfi",
            "-i",
            "color=gray:size=64x64:rate=25",
            "-frames:v",
            "2",
            "-pix_fmt",
            "gray",
            "-f",
            "rawvideo",
            "-loglevel",
            "debug",
            "-",
        ];
        let out = Runner::new(1)
            .run(Tool::Ffmpeg, &args, job.path(), Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(out.stdout.len(), 2 * 64 * 64);
        assert!(out.stderr_tail.len() <= STDERR_TAIL_BYTES);
        assert!(!out.stderr_tail.is_empty());
    }

    #[tokio::test]
    async fn a_missing_working_directory_is_not_reported_as_a_missing_tool() {
        let err = Runner::new(1)
            .run(
                Tool::Ffprobe,
                &["-version"],
                Path::new("/nonexistent/assetd-job"),
                Duration::from_secs(5),
            )
            .await
            .unwrap_err();
        if available(Tool::Ffprobe) {
            assert!(matches!(err, ToolError::Io { .. }), "{err:?}");
            assert!(err.to_string().contains("working directory"), "{err}");
        } else {
            assert!(matches!(err, ToolError::Missing(Tool::Ffprobe)));
        }
    }

    #[test]
    fn missing_tools_say_what_to_install_and_what_breaks() {
        let msg = ToolError::Missing(Tool::Pdftoppm).to_string();
        assert_eq!(
            msg,
            "pdftoppm is not installed (looked in /usr/bin:/bin); install the `poppler-utils` \
             package to process PPT page images"
        );
        assert_eq!(Tool::Soffice.candidates(), ["soffice", "libreoffice"]);
        let reported: Vec<Tool> = report_missing().into_iter().map(|(t, _)| t).collect();
        for tool in Tool::ALL {
            assert_eq!(reported.contains(&tool), !available(tool), "{tool}");
        }
    }

    #[test]
    fn only_absolute_paths_to_regular_files_are_passed_to_tools() {
        let job = scratch();
        let file = job.file("in.mp4");
        std::fs::write(&file, b"x").unwrap();
        assert_eq!(input_path_arg(&file).unwrap(), file.as_os_str());
        for refused in [
            "in.mp4",
            "concat:/a.mp4|/b.mp4",
            "http://example.com/a.mp4",
            "pipe:0",
            "/dev/zero",
            "/nonexistent/a.mp4",
        ] {
            assert!(input_path_arg(Path::new(refused)).is_err(), "{refused}");
        }
        assert!(input_path_arg(job.path()).is_err(), "a directory");
        assert!(output_path_arg(&job.file("out.jpg")).is_ok());
        assert!(output_path_arg(Path::new("out.jpg")).is_err());
        assert!(output_path_arg(Path::new("/nonexistent/out.jpg")).is_err());
    }

    #[test]
    fn job_dirs_are_removed_on_drop_and_leftovers_are_swept() {
        let parent = std::env::temp_dir()
            .join("assetd-media-tests")
            .join(format!("sweep-{}", uuid::Uuid::new_v4()));
        let job = JobDir::new(&parent).unwrap();
        let path = job.path().to_owned();
        std::fs::write(job.file("partial.mp4"), b"data").unwrap();
        assert!(path.starts_with(&parent));
        drop(job);
        assert!(!path.exists());

        let leftover = JobDir::new(&parent).unwrap();
        let kept = parent.join("not-a-job");
        std::fs::create_dir_all(&kept).unwrap();
        let leftover_path = leftover.path().to_owned();
        std::mem::forget(leftover);
        assert_eq!(JobDir::sweep(&parent).unwrap(), 1);
        assert!(!leftover_path.exists());
        assert!(kept.exists());
        std::fs::remove_dir_all(&parent).unwrap();
        assert_eq!(JobDir::sweep(&parent).unwrap(), 0);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_sweep_stops_tools_a_crashed_run_left_in_its_job_dirs() {
        let parent = std::env::temp_dir()
            .join("assetd-media-tests")
            .join(format!("orphans-{}", uuid::Uuid::new_v4()));
        let leftover = JobDir::new(&parent).unwrap();
        let dir = leftover.path().to_owned();
        std::mem::forget(leftover);
        let mut orphan = std::process::Command::new("/bin/sleep")
            .arg("60")
            .current_dir(&dir)
            .spawn()
            .unwrap();
        let bystander = JobDir::new(&std::env::temp_dir().join("assetd-media-tests")).unwrap();
        let mut other = std::process::Command::new("/bin/sleep")
            .arg("60")
            .current_dir(bystander.path())
            .spawn()
            .unwrap();
        assert_eq!(JobDir::sweep(&parent).unwrap(), 1);
        let status = orphan.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(libc::SIGKILL)
        );
        assert!(!dir.exists());
        assert!(
            other.try_wait().unwrap().is_none(),
            "only tools in swept dirs are killed"
        );
        other.kill().unwrap();
        other.wait().unwrap();
        std::fs::remove_dir_all(&parent).unwrap();
    }

    #[tokio::test]
    async fn tool_errors_name_files_not_server_paths() {
        if !available(Tool::Ffprobe) {
            eprintln!("skipping: ffprobe is not installed");
            return;
        }
        let job = scratch();
        let input = job.file("upload.mp4");
        std::fs::write(&input, b"not media at all").unwrap();
        let err = Runner::new(1)
            .run(
                Tool::Ffprobe,
                &[OsStr::new("-v"), OsStr::new("error"), input.as_os_str()],
                job.path(),
                Duration::from_secs(30),
            )
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("upload.mp4"), "{msg}");
        assert!(!msg.contains(job.path().to_str().unwrap()), "{msg}");
        assert!(!msg.contains("/tmp"), "{msg}");
    }

    #[tokio::test]
    async fn a_tool_over_its_cpu_time_is_stopped_with_a_reason() {
        if !ffmpeg_installed() {
            return;
        }
        let job = scratch();
        let runner = Runner::new(1).with_limits(ToolLimits {
            cpu_secs: Some(1),
            ..ToolLimits::default()
        });
        // Generates and encodes frames as fast as it can, forever.
        let args = [
            "-nostdin",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1280x720",
            "-c:v",
            "mpeg4",
            "-f",
            "null",
            "-",
        ];
        let err = runner
            .run(Tool::Ffmpeg, &args, job.path(), Duration::from_secs(300))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ToolError::OverLimit { tool: Tool::Ffmpeg, limit } if limit == "1 s of CPU time"),
            "{err:?}"
        );
        assert!(err.is_permanent());
    }

    #[tokio::test]
    async fn a_tool_writing_past_the_output_limit_is_stopped_with_a_reason() {
        if !ffmpeg_installed() {
            return;
        }
        let job = scratch();
        let runner = Runner::new(1).with_limits(ToolLimits {
            output_bytes: Some(MIB),
            ..ToolLimits::default()
        });
        let out = job.file("huge.raw");
        let out = out.to_str().unwrap();
        let args = [
            "-nostdin",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x480",
            "-frames:v",
            "100",
            "-f",
            "rawvideo",
            "-y",
            out,
        ];
        let err = runner
            .run(Tool::Ffmpeg, &args, job.path(), Duration::from_secs(300))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ToolError::OverLimit { limit, .. } if limit == "1 MiB of output in one file"),
            "{err:?}"
        );
        assert!(std::fs::metadata(out).unwrap().len() <= MIB);
    }

    #[tokio::test]
    async fn a_tool_over_its_memory_limit_fails_instead_of_growing() {
        if !ffmpeg_installed() {
            return;
        }
        let job = scratch();
        // One 8192×8192 RGBA frame alone is 256 MiB.
        let args = [
            "-nostdin",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "color=red:size=8192x8192",
            "-frames:v",
            "1",
            "-pix_fmt",
            "rgba",
            "-f",
            "rawvideo",
            "-",
        ];
        let limited = Runner::new(1).with_limits(ToolLimits {
            memory_bytes: Some(192 * MIB),
            ..ToolLimits::default()
        });
        let err = limited
            .run(Tool::Ffmpeg, &args, job.path(), Duration::from_secs(300))
            .await
            .unwrap_err();
        assert!(err.is_permanent(), "{err:?}");
        assert!(!matches!(err, ToolError::TimedOut { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn a_hung_tool_is_killed_once_it_stops_using_cpu() {
        if !ffmpeg_installed() {
            return;
        }
        let job = scratch();
        // ffmpeg opening a FIFO nobody writes to blocks forever without using any CPU, as a
        // deadlocked LibreOffice does.
        let fifo = job.file("never.fifo");
        let path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo(3) reads a valid NUL-terminated path and has no other preconditions.
        assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
        let input = fifo.to_str().unwrap();
        let args = ["-nostdin", "-v", "error", "-i", input, "-f", "null", "-"];
        let runner = Runner::new(1).with_limits(ToolLimits {
            stall_secs: Some(1),
            ..ToolLimits::default()
        });
        let err = runner
            .run(Tool::Ffmpeg, &args, job.path(), Duration::from_secs(300))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ToolError::OverLimit { limit, .. } if limit == "1 s without using any CPU (hung)"),
            "{err:?}"
        );
        assert!(err.is_permanent());
        assert!(
            processes_in(job.path()).is_empty(),
            "the hung ffmpeg survived"
        );
    }

    #[tokio::test]
    async fn stderr_tail_keeps_the_end_from_a_line_start() {
        let text: String = (0..2000).map(|i| format!("line {i}\n")).collect();
        let tail = read_tail(text.as_bytes(), 100).await.unwrap();
        assert!(tail.len() <= 100);
        assert!(tail.starts_with("line "), "{tail}");
        assert!(tail.ends_with("line 1999"), "{tail}");
        assert_eq!(read_tail(&b"short\n"[..], 100).await.unwrap(), "short");
        let (kept, over) = read_capped(&[7u8; 10][..], 4).await.unwrap();
        assert_eq!((kept.len(), over), (4, true));
    }
}
