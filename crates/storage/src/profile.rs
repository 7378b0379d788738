//! The AWS shared profile files (`~/.aws/credentials`, `~/.aws/config`), read when the
//! environment holds no keys: profile `AWS_PROFILE`, else `default`. Only static keys (and a
//! session token) are read; SSO and `credential_process` profiles need the AWS CLI to export
//! keys first.

use std::path::PathBuf;

use crate::Error;

/// Keys (and region) of one profile.
pub(crate) struct Credentials {
    pub(crate) access_key_id: String,
    pub(crate) secret_access_key: String,
    pub(crate) session_token: Option<String>,
    pub(crate) region: Option<String>,
}

fn home_file(variable: &str, name: &str) -> Option<PathBuf> {
    std::env::var_os(variable)
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".aws").join(name)))
}

/// `key = value` pairs of section `wanted` (with or without a `profile ` prefix) of an INI file.
fn section(text: &str, wanted: &str) -> Vec<(String, String)> {
    let mut inside = false;
    let mut pairs = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim();
            inside = name == wanted || name.strip_prefix("profile ").map(str::trim) == Some(wanted);
        } else if inside && !line.starts_with(['#', ';']) {
            if let Some((key, value)) = line.split_once('=') {
                pairs.push((key.trim().to_ascii_lowercase(), value.trim().to_string()));
            }
        }
    }
    pairs
}

fn read(path: Option<PathBuf>) -> Result<Option<String>, Error> {
    let Some(path) = path else { return Ok(None) };
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io { path: path.display().to_string(), source }),
    }
}

/// The selected profile's keys, if the credentials file has them.
pub(crate) fn credentials() -> Result<Option<Credentials>, Error> {
    let profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into());
    let Some(text) = read(home_file("AWS_SHARED_CREDENTIALS_FILE", "credentials"))? else { return Ok(None) };
    let pairs = section(&text, &profile);
    let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let (Some(access_key_id), Some(secret_access_key)) =
        (get("aws_access_key_id"), get("aws_secret_access_key"))
    else {
        return Ok(None);
    };
    let config = read(home_file("AWS_CONFIG_FILE", "config"))?.unwrap_or_default();
    let region = section(&config, &profile).into_iter().find(|(k, _)| k == "region").map(|(_, v)| v);
    Ok(Some(Credentials {
        access_key_id,
        secret_access_key,
        session_token: get("aws_session_token"),
        region,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_found_with_or_without_the_profile_prefix() {
        let text = "[default]\naws_access_key_id = A\n# note\n[profile work]\nRegion = eu-west-1\n[other]\nregion=x\n";
        assert_eq!(section(text, "default"), [("aws_access_key_id".to_string(), "A".to_string())]);
        assert_eq!(section(text, "work"), [("region".to_string(), "eu-west-1".to_string())]);
        assert!(section(text, "missing").is_empty());
    }
}
