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

/// A plain, self-contained error page (it must render even when the city is unknown).
pub fn render_error_page(status: StatusCode, info: Option<ErrorInfo>, lang: Lang) -> Response {
    let code = status.as_u16();
    let known = [400, 401, 403, 404, 413, 422, 429, 500];
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
    let page = ErrorPage {
        lang: lang.code(),
        title: i18n::t(lang, &format!("error-title-{shown}")),
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
