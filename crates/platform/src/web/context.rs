//! The request context: which city (from `/kota/<code>`, the host name, or the default), who is
//! asking (session cookie or bearer token), in which language, and the CSRF token. One
//! middleware builds it before routing, checks CSRF on every state-changing request, and turns
//! error responses into pages in the visitor's language.

use std::sync::OnceLock;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use super::AppState;
use super::error::{ErrorInfo, machine_error, render_error_page};
use crate::accounts::Account;
use crate::city::City;
use crate::error::AppError;
use kernel::Lang;
use kernel::roles::Role;

pub const SESSION_COOKIE: &str = "bk_session";
pub const CSRF_COOKIE: &str = "bk_csrf";
pub const LANG_COOKIE: &str = "bk_lang";
pub const CSRF_FIELD: &str = "_csrf";

tokio::task_local! {
    /// The visitor's language, for errors rendered far from the handler.
    pub static LANG: Lang;
}

/// The language of the current request (Indonesian outside a request).
pub fn current_lang() -> Lang {
    LANG.try_with(|l| *l).unwrap_or_default()
}

/// Everything a handler knows about the request beyond its own inputs.
#[derive(Clone, Debug)]
pub struct Ctx {
    pub city: City,
    /// `""` or `/kota/<code>`: prefix of every link of this city.
    pub base: String,
    pub lang: Lang,
    pub user: Option<Account>,
    pub csrf: String,
    /// The path within the city (without the prefix), for "next" links and the language switch.
    pub path: String,
    /// Authenticated by bearer token (API client), not by cookie.
    pub via_token: bool,
    pub flash: Option<String>,
    /// Unread in-app notifications (the bell), counted for pages only.
    pub unread: u64,
}

/// What is known of a visitor when no city is chosen yet (the setup page).
#[derive(Clone, Debug)]
pub struct Visitor {
    pub lang: Lang,
    pub csrf: String,
}

impl Ctx {
    pub fn t(&self, key: &str) -> String {
        crate::i18n::t(self.lang, key)
    }

    pub fn ta(&self, key: &str, name: &str, value: &str) -> String {
        crate::i18n::t_args(self.lang, key, &[(name, value.to_string())])
    }

    /// A link within this city.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A redirect within this city that shows a message (an i18n key) once on arrival.
    pub fn redirect_with(&self, path: &str, msg_key: &str) -> Response {
        self.redirect_with_text(path, &self.t(msg_key))
    }

    /// The same, with a message already worded (counts, names).
    pub fn redirect_with_text(&self, path: &str, text: &str) -> Response {
        let m: String = url::form_urlencoded::byte_serialize(text.as_bytes()).collect();
        let sep = if path.contains('?') { '&' } else { '?' };
        Redirect::to(&format!("{}{path}{sep}pesan={m}", self.base)).into_response()
    }

    pub fn asset(&self, name: &str) -> String {
        super::assets::url(name)
    }

    pub fn role(&self) -> Option<Role> {
        self.user.as_ref().map(|u| u.role)
    }

    pub fn is_staff(&self) -> bool {
        self.role().is_some_and(Role::is_staff)
    }

    pub fn can(&self, f: fn(Role) -> bool) -> bool {
        self.role().is_some_and(f)
    }

    pub fn is_admin(&self) -> bool {
        self.can(Role::administers)
    }

    pub fn reads_everything(&self) -> bool {
        self.can(Role::reads_everything)
    }

    pub fn reads_audit(&self) -> bool {
        self.can(Role::reads_audit)
    }

    pub fn role_label(&self) -> String {
        self.role()
            .map(|r| r.label(self.lang).to_string())
            .unwrap_or_default()
    }

    pub fn user_name(&self) -> String {
        self.user
            .as_ref()
            .map(|u| u.full_name.clone())
            .unwrap_or_default()
    }

    pub fn other_lang(&self) -> &'static str {
        if self.lang == Lang::Id { "en" } else { "id" }
    }

    pub fn lang_code(&self) -> &'static str {
        self.lang.code()
    }

    /// The language-switch link back to this page.
    pub fn switch_lang_url(&self) -> String {
        let next: String = url::form_urlencoded::byte_serialize(self.path.as_bytes()).collect();
        format!("{}/bahasa/{}?next={}", self.base, self.other_lang(), next)
    }

    pub fn color(&self) -> &str {
        &self.city.main_color
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Ctx>()
            .cloned()
            .ok_or(AppError::UnknownCity)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Visitor {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Visitor>()
            .cloned()
            .ok_or(AppError::NotFound)
    }
}

/// Paths that work without a city (and before setup).
fn is_global(path: &str) -> bool {
    path.starts_with("/assets/")
        || matches!(
            path,
            "/healthz"
                | "/readyz"
                | "/metrics"
                | "/api/openapi.json"
                | "/manifest.webmanifest"
                | "/sw.js"
        )
}

/// A replacement error body keeps the `Allow` of a 405 (RFC 9110 requires it).
fn keep_allow(old: &Response, mut new: Response) -> Response {
    if let Some(allow) = old.headers().get(header::ALLOW) {
        new.headers_mut().insert(header::ALLOW, allow.clone());
    }
    new
}

/// Whether the client wants JSON rather than a page.
pub fn wants_json(path: &str, headers: &HeaderMap) -> bool {
    let path = match path.strip_prefix("/kota/") {
        Some(rest) => rest.find('/').map(|i| &rest[i..]).unwrap_or("/"),
        None => path,
    };
    path.starts_with("/api/")
        || path.starts_with("/open311/")
        || headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("application/json") && !a.contains("text/html"))
}

fn choose_lang(jar: &CookieJar, headers: &HeaderMap, user: Option<&Account>) -> Lang {
    if let Some(l) = jar.get(LANG_COOKIE).and_then(|c| Lang::parse(c.value())) {
        return l;
    }
    if let Some(u) = user {
        return u.lang;
    }
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(Lang::from_accept_language)
        .unwrap_or_default()
}

fn host_of(headers: &HeaderMap) -> Option<String> {
    let h = headers.get(header::HOST)?.to_str().ok()?;
    Some(h.split(':').next().unwrap_or(h).to_lowercase())
}

fn strip_prefix(uri: &Uri, prefix_len: usize) -> Option<Uri> {
    let pq = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let rest = &pq[prefix_len..];
    let rest = if rest.is_empty() || rest.starts_with('?') {
        format!("/{rest}")
    } else {
        rest.to_string()
    };
    rest.parse().ok()
}

/// Finds the city of a request. `Ok(None)` means no city applies (setup not done yet).
async fn resolve_city(
    st: &AppState,
    req: &mut Request,
) -> Result<Option<(City, String)>, AppError> {
    let path = req.uri().path().to_string();
    if let Some(rest) = path.strip_prefix("/kota/") {
        let raw = rest.split('/').next().unwrap_or("");
        let code = kernel::region::normalize_regency_code(raw).ok_or(AppError::UnknownCity)?;
        let city = st
            .cities
            .by_code(&st.db, &code)
            .await?
            .ok_or(AppError::UnknownCity)?;
        let prefix_len = "/kota/".len() + raw.len();
        if let Some(uri) = strip_prefix(req.uri(), prefix_len) {
            *req.uri_mut() = uri;
        }
        return Ok(Some((city, format!("/kota/{raw}"))));
    }
    if let Some(host) = host_of(req.headers())
        && let Some(city) = st.cities.by_host(&st.db, &host).await?
    {
        return Ok(Some((city, String::new())));
    }
    if let Some(code) = &st.settings.default_city
        && let Some(city) = st.cities.by_code(&st.db, code).await?
    {
        return Ok(Some((city, String::new())));
    }
    let all = {
        if st.cities.is_empty(&st.db).await? {
            return Ok(None);
        }
        st.cities.all().await
    };
    // One city and no default: that one. Several and no default: the first, by code.
    Ok(all.into_iter().next().map(|c| (c, String::new())))
}

fn is_unsafe(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|s| s.trim().to_string())
}

fn query_param(uri: &Uri, name: &str) -> Option<String> {
    uri.query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    })
}

/// Reads the CSRF token of a request: header, query, or urlencoded body field. The body is
/// read (within the limit) and put back.
async fn csrf_of(req: Request) -> Result<(Option<String>, Request), AppError> {
    if let Some(h) = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
    {
        return Ok((Some(h.to_string()), req));
    }
    if let Some(q) = query_param(req.uri(), CSRF_FIELD) {
        return Ok((Some(q), req));
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok((None, req));
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, super::MAX_BODY)
        .await
        .map_err(|_| AppError::PayloadTooLarge)?;
    let token = url::form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == CSRF_FIELD)
        .map(|(_, v)| v.into_owned());
    Ok((token, Request::from_parts(parts, Body::from(bytes))))
}

fn cookie(name: &'static str, value: String, secure: bool, http_only: bool) -> Cookie<'static> {
    let mut c = Cookie::new(name, value);
    c.set_path("/");
    c.set_same_site(SameSite::Lax);
    c.set_http_only(http_only);
    c.set_secure(secure);
    c
}

pub fn session_cookie(value: String, secure: bool) -> Cookie<'static> {
    let mut c = cookie(SESSION_COOKIE, value, secure, true);
    c.set_max_age(time_days(crate::sessions::SESSION_DAYS));
    c
}

pub fn lang_cookie(lang: Lang, secure: bool) -> Cookie<'static> {
    let mut c = cookie(LANG_COOKIE, lang.code().to_string(), secure, true);
    c.set_max_age(time_days(365));
    c
}

fn time_days(d: i64) -> time::Duration {
    time::Duration::days(d)
}

pub async fn middleware(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    let jar = CookieJar::from_headers(req.headers());
    let headers = req.headers().clone();
    let path = req.uri().path().to_string();
    let json = wants_json(&path, &headers);
    let secure = st.settings.secure_cookies;

    let pre_lang = choose_lang(&jar, &headers, None);
    let (csrf, new_csrf) = match jar
        .get(CSRF_COOKIE)
        .map(|c| c.value().to_string())
        .filter(|v| v.len() >= 20)
    {
        Some(v) => (v, false),
        None => (crate::sessions::random_token(24), true),
    };

    // The page's context, kept to frame an error page in the city's header.
    let mut page_ctx: Option<Ctx> = None;
    let result = async {
        if is_global(&path) {
            return Ok(next.run(req).await);
        }
        let resolved = resolve_city(&st, &mut req).await?;
        let Some((city, base)) = resolved else {
            // No city yet: only the setup page.
            if req.uri().path() != "/setup" {
                return Ok(Redirect::to("/setup").into_response());
            }
            if is_unsafe(req.method()) {
                let (token, r) = csrf_of(req).await?;
                req = r;
                if token.as_deref() != Some(csrf.as_str()) {
                    return Err(AppError::Csrf);
                }
            }
            req.extensions_mut().insert(Visitor {
                lang: pre_lang,
                csrf: csrf.clone(),
            });
            return Ok(next.run(req).await);
        };

        let bearer = bearer(req.headers());
        let (user, via_token) = if let Some(secret) = &bearer {
            (
                crate::sessions::lookup_token(&st.db, &city, secret).await?,
                true,
            )
        } else if let Some(c) = jar.get(SESSION_COOKIE) {
            (
                crate::sessions::lookup(&st.db, &city, c.value()).await?,
                false,
            )
        } else {
            (None, false)
        };
        if bearer.is_some() && user.is_none() {
            return Err(AppError::Unauthorized);
        }
        let lang = choose_lang(&jar, &headers, user.as_ref());

        // CSRF on every state-changing request made with cookies.
        // API calls without a session cookie cannot be forged by another site (no ambient
        // credentials), so only cookie-authenticated requests need the token.
        let cookie_auth = jar.get(SESSION_COOKIE).is_some();
        let api_without_cookie = (req.uri().path().starts_with("/api/")
            || req.uri().path().starts_with("/open311/"))
            && !cookie_auth;
        if is_unsafe(req.method()) && !via_token && !api_without_cookie {
            let (token, r) = csrf_of(req).await?;
            req = r;
            if token.as_deref() != Some(csrf.as_str()) {
                return Err(AppError::Csrf);
            }
        }
        let flash = query_param(req.uri(), "pesan");
        let inner_path = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default();
        let unread = match &user {
            Some(u) if !json => crate::notify::unread_count(&st.db, &city.code, u.id)
                .await
                .unwrap_or(0),
            _ => 0,
        };
        let ctx = Ctx {
            city,
            base,
            lang,
            user,
            csrf: csrf.clone(),
            path: inner_path,
            via_token,
            flash,
            unread,
        };
        if !json {
            page_ctx = Some(ctx.clone());
        }
        req.extensions_mut().insert(ctx);
        req.extensions_mut().insert(Visitor {
            lang,
            csrf: csrf.clone(),
        });
        Ok(LANG.scope(lang, next.run(req)).await)
    }
    .await;

    let mut resp = match result {
        Ok(r) => r,
        Err(e) => LANG.scope(pre_lang, async move { e.into_response() }).await,
    };
    // Pages for errors of HTML requests (404s from routing, 403s, panics…).
    let status = resp.status();
    if (status.is_client_error() || status.is_server_error()) && !json {
        let is_html = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("text/html"));
        if status == StatusCode::UNAUTHORIZED {
            let next: String = url::form_urlencoded::byte_serialize(path.as_bytes()).collect();
            let base = path
                .strip_prefix("/kota/")
                .map(|r| format!("/kota/{}", r.split('/').next().unwrap_or("")))
                .unwrap_or_default();
            resp = Redirect::to(&format!("{base}/masuk?next={next}")).into_response();
        } else if !is_html {
            let info = resp.extensions().get::<ErrorInfo>().cloned();
            resp = keep_allow(&resp, render_error_page(status, info, pre_lang, page_ctx));
        }
    } else if (status.is_client_error() || status.is_server_error()) && json {
        let readable = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("application/json") || c.starts_with("text/xml"));
        if !readable {
            resp = keep_allow(&resp, machine_error(status, &path, pre_lang));
        }
    }
    if new_csrf
        && let Ok(v) = HeaderValue::from_str(&cookie(CSRF_COOKIE, csrf, secure, false).to_string())
    {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

static METRICS: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's Prometheus recorder (installed once).
pub fn metrics_handle() -> &'static PrometheusHandle {
    METRICS.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Counts requests and their durations by route (not by raw path, to keep labels few).
pub async fn track_metrics(req: Request, next: Next) -> Response {
    let _ = metrics_handle();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let start = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels)
        .record(start.elapsed().as_secs_f64());
    resp
}
