//! How an `AppError` becomes a response: JSON `{"error", "message", "fields"}` with a stable key,
//! which the context middleware replaces by a page in the visitor's language for HTML requests.
//! Internal causes are logged, never shown.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use super::context::current_lang;
use crate::error::AppError;
use crate::i18n;
use kernel::Lang;

/// Left on error responses so the HTML page can say more than the status.
#[derive(Clone, Debug)]
pub struct ErrorInfo {
    pub key: &'static str,
}

fn message(e: &AppError, lang: Lang) -> String {
    match e {
        AppError::Csrf => i18n::t(lang, "error-csrf"),
        AppError::UnknownCity => i18n::t(lang, "error-unknown-city"),
        AppError::Invalid(_) => i18n::t(lang, "err-validation_failed"),
        other => i18n::t(lang, &format!("error-title-{}", other.status())),
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let lang = current_lang();
        if let AppError::Internal(cause) = &self {
            tracing::error!(error = ?cause, "internal error");
        }
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut body = json!({ "error": self.key(), "message": message(&self, lang) });
        if let AppError::Invalid(errs) = &self {
            let mut fields = serde_json::Map::new();
            for e in &errs.0 {
                fields.entry(e.field.clone()).or_insert_with(
                    || json!({"key": e.key, "message": i18n::field_error(lang, e)}),
                );
            }
            body["fields"] = serde_json::Value::Object(fields);
        }
        let mut resp = (status, axum::Json(body)).into_response();
        resp.extensions_mut().insert(ErrorInfo { key: self.key() });
        resp
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    lang: &'static str,
    title: String,
    text: String,
    home: String,
    status: u16,
    skip: String,
}

/// An error page in the city's frame: its header, the visitor's links and bell, so a signed-in
/// person who reaches a page they may not open still has their way on.
#[derive(Template)]
#[template(path = "error_page.html")]
struct FramedErrorPage {
    ctx: super::context::Ctx,
    has_htmx: bool,
    title: String,
    text: String,
    home: String,
    /// Staff go back to their workspace, everyone else to the home page.
    home_path: &'static str,
    status: u16,
}

/// The status shown, its title and its text.
fn wording(status: StatusCode, info: Option<ErrorInfo>, lang: Lang) -> (u16, String, String) {
    let code = status.as_u16();
    let known = [400, 401, 403, 404, 405, 413, 422, 429, 500];
    let shown = if known.contains(&code) {
        code
    } else if code >= 500 {
        500
    } else {
        400
    };
    let text = match info.map(|i| i.key) {
        Some("csrf_invalid") => i18n::t(lang, "error-csrf"),
        Some("unknown_city") => i18n::t(lang, "error-unknown-city"),
        _ => i18n::t(lang, &format!("error-text-{shown}")),
    };
    (code, i18n::t(lang, &format!("error-title-{shown}")), text)
}

/// The error page: in the city's frame when the request reached a city (`ctx`), otherwise
/// plain and self-contained (it must render even when the city is unknown).
pub fn render_error_page(
    status: StatusCode,
    info: Option<ErrorInfo>,
    lang: Lang,
    ctx: Option<super::context::Ctx>,
) -> Response {
    if let Some(ctx) = ctx {
        let (code, title, text) = wording(status, info.clone(), ctx.lang);
        let staff = ctx.is_staff();
        let page = FramedErrorPage {
            has_htmx: super::assets::has_htmx(),
            title,
            text,
            home: i18n::t(
                ctx.lang,
                if staff {
                    "error-back-workspace"
                } else {
                    "error-back-home"
                },
            ),
            home_path: if staff { "/staf" } else { "/" },
            status: code,
            ctx,
        };
        if let Ok(html) = page.render() {
            return (status, Html(html)).into_response();
        }
    }
    let (code, title, text) = wording(status, info, lang);
    let page = ErrorPage {
        lang: lang.code(),
        title,
        text,
        home: i18n::t(lang, "error-back-home"),
        status: code,
        skip: i18n::t(lang, "skip-link"),
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => (status, "error").into_response(),
    }
}

/// The stable key of an error response that carries none (a framework's own rejection).
fn key_of_status(code: u16) -> &'static str {
    match code {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "timeout",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "unprocessable",
        429 => "too_many_requests",
        c if c >= 500 => "internal_error",
        _ => "bad_request",
    }
}

/// An error for a client that reads JSON (or Open311's XML) in place of a body it cannot read:
/// the framework's plain-text rejections (405, a panic's 500) get the API's shape, or
/// GeoReport v2's `[{"code", "description"}]` under `/open311/`.
pub fn machine_error(status: StatusCode, path: &str, lang: Lang) -> Response {
    let code = status.as_u16();
    let shown = if code >= 500 { 500 } else { code };
    let title = i18n::t(lang, &format!("error-title-{shown}"));
    let key = key_of_status(code);
    let mut resp = if path.contains("/open311/") {
        if path.ends_with(".xml") {
            let xml = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><errors><error><code>{code}</code><description>{key}</description></error></errors>"
            );
            (
                status,
                [(axum::http::header::CONTENT_TYPE, "text/xml; charset=utf-8")],
                xml,
            )
                .into_response()
        } else {
            (
                status,
                axum::Json(json!([{ "code": code, "description": key }])),
            )
                .into_response()
        }
    } else {
        (
            status,
            axum::Json(json!({ "error": key, "message": title })),
        )
            .into_response()
    };
    resp.extensions_mut().insert(ErrorInfo { key });
    resp
}
