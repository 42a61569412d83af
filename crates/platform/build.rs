//! Installs the front-end libraries from npm (web/package-lock.json) when they are missing, so
//! `cargo build` on a fresh clone embeds them. Without npm the build still succeeds: pages work
//! without htmx and Leaflet, which only enhance them.

use std::path::Path;
use std::process::Command;

fn main() {
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web");
    println!("cargo:rerun-if-changed=../../web/package-lock.json");
    println!("cargo:rerun-if-changed=../../web/src");
    let markers = ["htmx.org/dist/htmx.min.js", "leaflet/dist/leaflet.js"];
    if markers
        .iter()
        .any(|m| !web.join("node_modules").join(m).exists())
    {
        let ok = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&web)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            println!(
                "cargo:warning=npm ci in web/ failed: building without htmx and Leaflet (pages still work, maps show as lists)"
            );
        }
    }
    let _ = std::fs::create_dir_all(web.join("node_modules"));
}
