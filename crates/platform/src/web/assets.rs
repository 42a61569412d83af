//! Static assets, embedded in the binary: our own CSS/JS from `web/src`, third-party files
//! installed by npm into `web/node_modules` at build time (never committed). URLs carry a
//! content hash, so they can be cached for a year.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

#[derive(RustEmbed)]
#[folder = "../../web/src/"]
struct Own;

#[derive(RustEmbed)]
#[folder = "../../web/node_modules/"]
#[include = "htmx.org/dist/htmx.min.js"]
#[include = "leaflet/dist/leaflet.js"]
#[include = "leaflet/dist/leaflet.css"]
#[include = "leaflet/dist/images/*.png"]
struct Vendor;

/// Third-party files by their public name (leaflet.css refers to `images/…` beside it).
const VENDOR: &[(&str, &str)] = &[
    ("htmx.min.js", "htmx.org/dist/htmx.min.js"),
    ("leaflet.js", "leaflet/dist/leaflet.js"),
    ("leaflet.css", "leaflet/dist/leaflet.css"),
];

/// Public name → (bytes, MIME type).
fn lookup(name: &str) -> Option<(Vec<u8>, String)> {
    let mime = mime_guess::from_path(name)
        .first_or_octet_stream()
        .to_string();
    let vendor = VENDOR
        .iter()
        .find(|(public, _)| *public == name)
        .map(|(_, path)| path.to_string())
        .or_else(|| {
            name.strip_prefix("images/")
                .filter(|f| !f.contains('/'))
                .map(|f| format!("leaflet/dist/images/{f}"))
        });
    match vendor {
        Some(path) => Vendor::get(&path).map(|f| (f.data.into_owned(), mime)),
        None => Own::get(name).map(|f| (f.data.into_owned(), mime)),
    }
}

static HASHES: LazyLock<HashMap<String, String>> = LazyLock::new(|| {
    let mut names: Vec<String> = Own::iter().map(|c| c.into_owned()).collect();
    names.extend(VENDOR.iter().map(|(public, _)| public.to_string()));
    names
        .into_iter()
        .filter_map(|n| lookup(&n).map(|(data, _)| (n, hex::encode(&Sha256::digest(&data)[..5]))))
        .collect()
});

/// The cache-busting URL of an asset.
pub fn url(name: &str) -> String {
    match HASHES.get(name) {
        Some(h) => format!("/assets/{name}?v={h}"),
        None => format!("/assets/{name}"),
    }
}

/// True when htmx was installed at build time (pages work without it).
pub fn has_htmx() -> bool {
    HASHES.contains_key("htmx.min.js")
}

/// True when Leaflet was installed at build time (map pages fall back to lists without it).
pub fn has_leaflet() -> bool {
    HASHES.contains_key("leaflet.js")
}

pub async fn serve(Path(path): Path<String>) -> Response {
    match lookup(&path) {
        Some((data, mime)) => {
            let mut r = data.into_response();
            if let Ok(v) = HeaderValue::from_str(&mime) {
                r.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            r.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            );
            r
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

pub async fn manifest() -> Response {
    let body = serde_json::json!({
        "name": "Balaikota",
        "short_name": "Balaikota",
        "start_url": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#0b5394",
        "lang": "id",
        "icons": [{"src": url("icon.svg"), "sizes": "any", "type": "image/svg+xml"}]
    });
    (
        [(header::CONTENT_TYPE, "application/manifest+json")],
        body.to_string(),
    )
        .into_response()
}

pub async fn service_worker() -> Response {
    let body = Own::get("sw.js")
        .map(|f| f.data.into_owned())
        .unwrap_or_default();
    (
        [
            (header::CONTENT_TYPE, "text/javascript"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}
