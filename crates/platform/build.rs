//! Installs the front-end libraries from npm (web/package-lock.json) when they are missing, so
//! `cargo build` on a fresh clone embeds them. Without npm the build still succeeds: pages work
//! without htmx, which only enhances them.

use std::path::Path;
use std::process::Command;

fn main() {
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web");
    println!("cargo:rerun-if-changed=../../web/package-lock.json");
    println!("cargo:rerun-if-changed=../../web/src");
    let marker = web.join("node_modules/htmx.org/dist/htmx.min.js");
    if !marker.exists() {
        let ok = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&web)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            println!(
                "cargo:warning=npm ci in web/ failed: building without htmx (pages still work)"
            );
        }
    }
    let _ = std::fs::create_dir_all(web.join("node_modules"));
}
