//! Settings: command-line flag, then `BALAIKOTA_*` environment variable (clap reads both), then
//! `balaikota.toml`, then the default. Every key is documented in README.md.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{DbArgs, ServeArgs};

/// `balaikota.toml`: the same keys as the flags, with underscores.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub database_url: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub city: Option<String>,
    pub port: Option<u16>,
    pub bind: Option<String>,
    pub demo: Option<bool>,
    pub json_logs: Option<bool>,
    pub secure_cookies: Option<bool>,
    pub map_tiles: Option<String>,
    pub map_attribution: Option<String>,
    /// `[notify]`: email, SMS gateway, links, retries.
    pub notify: Option<platform::notify::NotifySettings>,
}

pub fn load(path: Option<&Path>) -> anyhow::Result<File> {
    let (path, required) = match path {
        Some(p) => (p.to_path_buf(), true),
        None => (PathBuf::from("balaikota.toml"), false),
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display())),
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => Ok(File::default()),
        Err(e) => Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
    }
}

/// The settings in force.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub database_url: Option<String>,
    pub data_dir: PathBuf,
    pub city: Option<String>,
    pub port: u16,
    pub bind: String,
    pub demo: bool,
    pub json_logs: bool,
    pub secure_cookies: bool,
    /// Empty: maps without a background.
    pub map_tiles: String,
    pub map_attribution: String,
    pub notify: platform::notify::NotifySettings,
}

pub fn resolve(db: &DbArgs, serve: Option<&ServeArgs>, f: &File) -> Resolved {
    let d = ServeArgs::default();
    let s = serve.unwrap_or(&d);
    Resolved {
        database_url: db.database_url.clone().or_else(|| f.database_url.clone()),
        data_dir: db
            .data_dir
            .clone()
            .or_else(|| f.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from("data")),
        city: db
            .city
            .clone()
            .or_else(|| f.city.clone())
            .and_then(|c| kernel::region::normalize_regency_code(&c).or(Some(c))),
        port: s.port.or(f.port).unwrap_or(8080),
        bind: s
            .bind
            .clone()
            .or_else(|| f.bind.clone())
            .unwrap_or_else(|| "127.0.0.1".into()),
        demo: s.demo || f.demo.unwrap_or(false),
        json_logs: s.json_logs || f.json_logs.unwrap_or(false),
        secure_cookies: s.secure_cookies || f.secure_cookies.unwrap_or(false),
        map_tiles: match s.map_tiles.clone().or_else(|| f.map_tiles.clone()) {
            Some(t) if t == "none" => String::new(),
            Some(t) => t,
            None => platform::web::OSM_TILES.into(),
        },
        map_attribution: f
            .map_attribution
            .clone()
            .unwrap_or_else(|| platform::web::OSM_ATTRIBUTION.into()),
        notify: {
            let mut n = f.notify.clone().unwrap_or_default();
            if let Some(u) = &s.smtp_url {
                n.smtp_url = u.clone();
            }
            if let Some(u) = &s.public_url {
                n.public_url = u.clone();
            }
            n
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Map tiles: OpenStreetMap unless set; `none` turns the background off; the flag wins.
    #[test]
    fn map_tiles_default_none_and_override() {
        let db = DbArgs::default();
        let r = resolve(&db, None, &File::default());
        assert_eq!(r.map_tiles, platform::web::OSM_TILES);
        let f = File {
            map_tiles: Some("none".into()),
            ..Default::default()
        };
        assert_eq!(resolve(&db, None, &f).map_tiles, "");
        let flag = ServeArgs {
            map_tiles: Some("https://peta.binjaikota.example.id/{z}/{x}/{y}.png".into()),
            ..Default::default()
        };
        assert_eq!(
            resolve(&db, Some(&flag), &f).map_tiles,
            "https://peta.binjaikota.example.id/{z}/{x}/{y}.png"
        );
    }

    /// The example in README.md is a valid `balaikota.toml`.
    #[test]
    fn readme_notify_example_parses() {
        let readme = include_str!("../../../README.md");
        let block = readme
            .split("```toml\n")
            .nth(1)
            .and_then(|b| b.split("```").next())
            .unwrap_or_default();
        let f: File = toml::from_str(block).unwrap_or_else(|e| panic!("{e}"));
        let n = f.notify.unwrap_or_default();
        assert!(n.smtp_url.starts_with("smtp://"));
        let sms = n.sms.unwrap_or_else(|| panic!("sms section"));
        assert_eq!(sms.success_contains.as_deref(), Some("\"status\":\"ok\""));
        assert_eq!(
            sms.headers.get("Authorization").map(String::as_str),
            Some("Bearer TOKEN")
        );
        assert!(
            toml::from_str::<File>("[notify]\nsmtp = \"x\"\n").is_err(),
            "unknown keys are refused"
        );
    }
}
