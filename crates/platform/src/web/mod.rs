//! The web chrome every app shares: state, the request context (city, visitor, language,
//! CSRF), capability extractors, error pages, assets, health and metrics, and the router.

pub mod api;
pub mod assets;
pub mod auth;
pub mod chart;
pub mod context;
pub mod error;
pub mod form;
pub mod map;
pub mod notify_pages;
pub mod pages;
pub mod places_page;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, header};
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::accounts::Passwords;
use crate::app::CityApp;
use crate::city::CityCache;
use crate::db::Db;
use crate::files::FileStore;

pub use context::Ctx;

/// Settings the web layer needs.
#[derive(Debug, Clone, Default)]
pub struct WebSettings {
    /// The city served when neither host name nor `/kota/<code>` says otherwise.
    pub default_city: Option<String>,
    /// Mark cookies `Secure` (behind HTTPS) and send HSTS.
    pub secure_cookies: bool,
    /// Map background tiles, e.g. `https://tile.openstreetmap.org/{z}/{x}/{y}.png`; empty: maps
    /// show their points on a plain background (no request leaves the server's pages).
    pub map_tiles: String,
    /// Credit shown on maps for the tiles.
    pub map_attribution: String,
}

/// The usual public tiles (OpenStreetMap's own servers; a busy city should use its own).
pub const OSM_TILES: &str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png";
pub const OSM_ATTRIBUTION: &str = "© OpenStreetMap";

impl WebSettings {
    /// The Content-Security-Policy: our own origin only, plus the tile server's for images.
    pub fn csp(&self) -> String {
        let tiles = tile_origin(&self.map_tiles)
            .map(|o| format!(" {o}"))
            .unwrap_or_default();
        format!(
            "default-src 'self'; img-src 'self' data: blob:{tiles}; style-src 'self'; \
             script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; \
             base-uri 'self'"
        )
    }
}

/// `https://{s}.tile.example.org/{z}/{x}/{y}.png` → `https://*.tile.example.org`.
fn tile_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let host = rest.split('/').next().filter(|h| !h.is_empty())?;
    let host = host.replace("{s}", "*");
    host.chars()
        .all(|c| c.is_ascii_alphanumeric() || ".-:*".contains(c))
        .then(|| format!("{scheme}://{host}"))
}

#[cfg(test)]
mod csp_tests {
    use super::*;

    #[test]
    fn the_tile_server_is_allowed_for_images_only() {
        let mut s = WebSettings {
            map_tiles: "https://{s}.tile.example.org/{z}/{x}/{y}.png".into(),
            ..Default::default()
        };
        let csp = s.csp();
        assert!(csp.contains("img-src 'self' data: blob: https://*.tile.example.org;"));
        assert!(csp.contains("script-src 'self';"));
        s.map_tiles = String::new();
        assert!(s.csp().contains("img-src 'self' data: blob:;"));
        // Anything that is not a plain host never reaches the header.
        s.map_tiles = "https://evil.org; script-src *".into();
        assert!(!s.csp().contains("evil"));
        s.map_tiles = "javascript:alert(1)".into();
        assert!(!s.csp().contains("javascript"));
    }
}

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub cities: CityCache,
    pub passwords: Passwords,
    pub files: FileStore,
    pub settings: Arc<WebSettings>,
    pub apps: Arc<Vec<Arc<dyn CityApp>>>,
    pub notifier: crate::notify::Notifier,
}

/// Upload requests may be this large; everything else is far smaller.
pub const MAX_BODY: usize = 12 * 1024 * 1024;

/// The whole application as one router: the city/context middleware runs before routing, so a
/// `/kota/<code>` prefix is stripped before the routes are matched.
pub fn router(state: AppState) -> Router {
    use notify_pages as np;
    let mut inner: Router<AppState> = Router::new()
        .route("/", get(pages::home))
        .route("/tentang", get(pages::about))
        .route("/wilayah", get(pages::regions))
        .route(
            "/daftar",
            get(pages::register_form).post(pages::register_submit),
        )
        .route("/masuk", get(pages::login_form).post(pages::login_submit))
        .route("/keluar", post(pages::logout))
        .route("/bahasa/{lang}", get(pages::switch_lang))
        .route("/akun", get(pages::account))
        .route("/akun/sandi", post(pages::change_password))
        .route("/akun/token", post(pages::create_token))
        .route("/akun/token/{id}/cabut", post(pages::revoke_token))
        .route("/staf", get(pages::staff_home))
        .route("/admin/opd", get(pages::agencies_list))
        .route("/admin/opd.csv", get(pages::agencies_csv))
        .route(
            "/admin/opd/baru",
            get(pages::agency_new).post(pages::agency_create),
        )
        .route(
            "/admin/opd/{id}",
            get(pages::agency_edit).post(pages::agency_update),
        )
        .route("/admin/pengguna", get(pages::users_list))
        .route(
            "/admin/pengguna/baru",
            get(pages::user_new).post(pages::user_create),
        )
        .route("/audit", get(pages::audit_list))
        .route("/audit/langsung", get(pages::audit_stream))
        .route("/setup", get(pages::setup_form).post(pages::setup_submit))
        .route("/tenggat", get(np::deadlines_page))
        .route("/notifikasi", get(np::notifications_page))
        .route("/notifikasi/baca", post(np::notifications_read))
        .route("/akun/notifikasi", post(np::prefs_save))
        .route("/l/{code}", get(np::short_link))
        .route("/admin/notifikasi", get(np::notify_admin))
        .route("/admin/notifikasi/webhook", post(np::webhook_save))
        .route(
            "/admin/kalender",
            get(np::calendar_show).post(np::calendar_settings),
        )
        .route("/admin/kalender.csv", get(np::calendar_csv))
        .route("/admin/kalender/impor", post(np::calendar_import))
        .route("/admin/kalender/{date}/hapus", post(np::holiday_delete))
        .route("/admin/tenggat", get(np::policies_list))
        .route(
            "/admin/tenggat/{kind}",
            get(np::policy_edit).post(np::policy_save),
        )
        .route("/admin/templat", get(np::templates_list))
        .route(
            "/admin/templat/{key}/{lang}",
            get(np::template_edit).post(np::template_save),
        )
        .route("/admin/templat/{key}/{lang}/asli", post(np::template_reset))
        .route(
            "/admin/batas-wilayah",
            get(places_page::show).post(places_page::import),
        )
        .route("/admin/kotak-keluar", get(np::outbox_page))
        .route("/admin/kotak-keluar/{id}/ulang", post(np::outbox_retry))
        .route("/berkas/{id}", get(pages::file_get))
        .route("/berkas/{id}/kecil", get(pages::file_thumb))
        .merge(api::routes())
        .route("/healthz", get(health))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .route("/assets/{*path}", get(assets::serve))
        .route("/manifest.webmanifest", get(assets::manifest))
        .route("/sw.js", get(assets::service_worker));
    for app in state.apps.iter() {
        inner = inner.merge(app.routes());
    }
    let inner = inner
        .fallback(|| async { crate::AppError::NotFound })
        .route_layer(axum::middleware::from_fn(context::track_metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state.clone());

    let csp = HeaderValue::from_str(&state.settings.csp())
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"));
    let mut outer = Router::new()
        .fallback_service(inner)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            context::middleware,
        ))
        .layer(CatchPanicLayer::new())
        .layer(CompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(60),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            csp,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static("geolocation=(self), camera=(self), microphone=()"),
        ));
    if state.settings.secure_cookies {
        outer = outer.layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        ));
    }
    let x_request_id = HeaderName::from_static("x-request-id");
    outer
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
                tracing::info_span!("request", method = %req.method(), uri = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
}

async fn health() -> &'static str {
    "ok"
}

async fn ready(
    axum::extract::State(st): axum::extract::State<AppState>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match st.db.ping().await {
        Ok(()) => "ready".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "database unavailable",
            )
                .into_response()
        }
    }
}

async fn metrics() -> impl axum::response::IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        context::metrics_handle().render(),
    )
}
