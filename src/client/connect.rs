//! Where the client connects and as whom: flags, then `ASSETD_*` environment, then a named
//! profile in `$XDG_CONFIG_HOME/assetd/config.toml` (default `~/.config/assetd/config.toml`).
//! The SK comes from `ASSETD_SECRET_KEY` or a file that only its owner can read, never from
//! a flag (it would show in `ps`) nor from the profile itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;
use secrecy::SecretString;
use serde::Deserialize;

use super::ClientError;

/// Connection flags (each also read from its `ASSETD_*` variable).
#[derive(Debug, Clone, Default, Args)]
pub struct ConnectionArgs {
    /// Server base URL, e.g. http://127.0.0.1:8080.
    #[arg(long, env = "ASSETD_ENDPOINT", global = true)]
    pub endpoint: Option<String>,
    /// Project id the credentials belong to.
    #[arg(long, env = "ASSETD_PROJECT_ID", global = true)]
    pub project_id: Option<String>,
    /// Access key (AK).
    #[arg(long, env = "ASSETD_ACCESS_KEY", global = true)]
    pub access_key: Option<String>,
    /// File holding the secret key (must not be readable by group or others) [default: env
    /// ASSETD_SECRET_KEY, else the profile's secret_key_file].
    #[arg(long, global = true)]
    pub secret_key_file: Option<PathBuf>,
    /// Profile in the client config file [default: `default`, when the file has it].
    #[arg(long, env = "ASSETD_PROFILE", global = true)]
    pub profile: Option<String>,
}

/// A profile of the client config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Server base URL.
    pub endpoint: Option<String>,
    /// Project id.
    pub project_id: Option<String>,
    /// Access key.
    pub access_key: Option<String>,
    /// File holding the SK (`~/` is expanded).
    pub secret_key_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    profiles: BTreeMap<String, Profile>,
}

/// Everything needed to sign requests.
#[derive(Debug, Clone)]
pub struct Connection {
    /// Base URL without a trailing slash.
    pub endpoint: String,
    /// Project id.
    pub project_id: String,
    /// Access key.
    pub access_key: String,
    /// Secret key.
    pub secret_key: SecretString,
}

/// The client config file's path.
pub fn config_path() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".config"),
    };
    Some(base.join("assetd").join("config.toml"))
}

fn expand_home(path: &Path) -> PathBuf {
    match (path.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => path.to_path_buf(),
    }
}

/// Reads the SK from `path`, refusing a file that group or others can read.
pub fn read_secret_file(path: &Path) -> Result<SecretString, ClientError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        ClientError::Usage(format!(
            "cannot read secret key file {}: {e}",
            path.display()
        ))
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode();
        if mode & 0o044 != 0 {
            return Err(ClientError::Usage(format!(
                "secret key file {} is readable by others (mode {:o}); run: chmod 600 {}",
                path.display(),
                mode & 0o777,
                path.display()
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let text = std::fs::read_to_string(path).map_err(|e| {
        ClientError::Usage(format!(
            "cannot read secret key file {}: {e}",
            path.display()
        ))
    })?;
    let sk = text.trim();
    if sk.is_empty() {
        return Err(ClientError::Usage(format!(
            "secret key file {} is empty",
            path.display()
        )));
    }
    Ok(SecretString::from(sk.to_owned()))
}

impl ConnectionArgs {
    /// Resolves flags, environment and profile into a [`Connection`].
    pub fn resolve(&self) -> Result<Connection, ClientError> {
        let profile = self.profile()?;
        let pick = |flag: &Option<String>,
                    from_profile: &Option<String>,
                    what: &str,
                    flag_name: &str| {
            // An empty variable counts as unset.
            flag.clone()
                .filter(|v| !v.trim().is_empty())
                .or_else(|| from_profile.clone())
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| {
                    ClientError::Usage(format!(
                        "no {what}: pass --{flag_name}, set ASSETD_{}, or add it to a profile in {}",
                        flag_name.replace('-', "_").to_uppercase(),
                        config_path().map_or("the config file".into(), |p| p.display().to_string())
                    ))
                })
        };
        let endpoint = pick(
            &self.endpoint,
            &profile.endpoint,
            "server endpoint",
            "endpoint",
        )?;
        let project_id = pick(
            &self.project_id,
            &profile.project_id,
            "project id",
            "project-id",
        )?;
        let access_key = pick(
            &self.access_key,
            &profile.access_key,
            "access key",
            "access-key",
        )?;
        let secret_key = if let Some(file) = &self.secret_key_file {
            read_secret_file(file)?
        } else if let Some(sk) = std::env::var("ASSETD_SECRET_KEY")
            .ok()
            .filter(|v| !v.is_empty())
        {
            SecretString::from(sk)
        } else if let Some(file) = &profile.secret_key_file {
            read_secret_file(&expand_home(file))?
        } else {
            return Err(ClientError::Usage(
                "no secret key: set ASSETD_SECRET_KEY, pass --secret-key-file FILE, or set \
                 secret_key_file in the profile"
                    .into(),
            ));
        };
        let endpoint = endpoint.trim_end_matches('/').to_owned();
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(ClientError::Usage(format!(
                "endpoint {endpoint} must start with http:// or https://"
            )));
        }
        Ok(Connection {
            endpoint,
            project_id,
            access_key,
            secret_key,
        })
    }

    /// The chosen profile: `--profile NAME` (which must exist), else `default` if present.
    fn profile(&self) -> Result<Profile, ClientError> {
        let path = config_path();
        let file = match path.as_deref().map(std::fs::read_to_string) {
            Some(Ok(text)) => toml::from_str::<ConfigFile>(&text).map_err(|e| {
                ClientError::Usage(format!(
                    "{}: {e}",
                    path.as_deref().unwrap_or(Path::new("")).display()
                ))
            })?,
            _ => ConfigFile::default(),
        };
        match &self.profile {
            Some(name) => file.profiles.get(name).cloned().ok_or_else(|| {
                ClientError::Usage(format!(
                    "no profile [profiles.{name}] in {}",
                    path.map_or("the config file".into(), |p| p.display().to_string())
                ))
            }),
            None => Ok(file.profiles.get("default").cloned().unwrap_or_default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_secret_key_file_readable_by_others_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sk");
        std::fs::write(&path, "SECRET\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_secret_file(&path).unwrap_err();
        assert!(matches!(err, ClientError::Usage(_)));
        assert!(err.to_string().contains("chmod 600"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        use secrecy::ExposeSecret;
        assert_eq!(read_secret_file(&path).unwrap().expose_secret(), "SECRET");
    }

    #[test]
    fn profiles_parse_and_unknown_keys_are_refused() {
        let file: ConfigFile = toml::from_str(
            "[profiles.default]\nendpoint = \"http://x\"\nproject_id = \"p\"\n\
             access_key = \"AK\"\nsecret_key_file = \"~/sk\"\n",
        )
        .unwrap();
        let p = &file.profiles["default"];
        assert_eq!(p.endpoint.as_deref(), Some("http://x"));
        assert!(toml::from_str::<ConfigFile>("[profiles.x]\nsecret_key = \"S\"\n").is_err());
    }
}
