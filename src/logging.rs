//! Log output: human-readable text on stderr, coloured only when stderr is a terminal, or
//! one JSON object per line with `ASSETD_LOG_FORMAT=json`. `ASSETD_LOG` filters either way.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Plain text; ANSI colours only when writing to a terminal.
    Text,
    /// One JSON object per line (`timestamp`, `level`, `target`, `fields`, `spans`).
    Json,
}

impl LogFormat {
    /// Reads `ASSETD_LOG_FORMAT` (`text`, the default, or `json`).
    pub fn from_env() -> anyhow::Result<Self> {
        match std::env::var("ASSETD_LOG_FORMAT") {
            Err(_) => Ok(Self::Text),
            Ok(value) => Self::parse(&value),
        }
    }

    /// Parses a format name, case-insensitively; empty means text.
    pub fn parse(value: &str) -> anyhow::Result<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => {
                anyhow::bail!("ASSETD_LOG_FORMAT={other} is not a log format; use text or json")
            }
        }
    }
}

/// Installs the global subscriber writing to stderr. `default_filter` applies when
/// `ASSETD_LOG` is unset (e.g. `info` for the server, `warn` for the client).
pub fn init(default_filter: &str) -> anyhow::Result<()> {
    let format = LogFormat::from_env()?;
    let filter =
        EnvFilter::try_from_env("ASSETD_LOG").unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().with_current_span(true).init(),
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_case_insensitively_and_unknown_ones_are_refused() {
        assert_eq!(LogFormat::parse("JSON").unwrap(), LogFormat::Json);
        assert_eq!(LogFormat::parse("text").unwrap(), LogFormat::Text);
        assert_eq!(LogFormat::parse("").unwrap(), LogFormat::Text);
        let err = LogFormat::parse("yaml").unwrap_err().to_string();
        assert!(err.contains("text or json"), "{err}");
    }
}
