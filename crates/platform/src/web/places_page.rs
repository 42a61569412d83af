//! `/admin/batas-wilayah`: kelurahan boundaries (GeoJSON) that turn a GPS point into a kelurahan.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::auth::Admin;
use super::context::Ctx;
use crate::error::{AppError, AppResult};
use crate::places::{self, ImportError};

#[derive(Template, WebTemplate)]
#[template(path = "places.html")]
struct PlacesPage {
    ctx: Ctx,
    has_htmx: bool,
    areas: usize,
    points: usize,
    total: usize,
    /// Kelurahan without boundary or point: (code, name).
    missing: Vec<(String, String)>,
    errors: Vec<String>,
}

async fn page(st: &AppState, ctx: Ctx, errors: Vec<String>) -> AppResult<PlacesPage> {
    let (areas, points, total) = places::coverage(&st.db, &ctx.city).await?;
    let have: std::collections::HashSet<String> = places::shapes(&st.db, &ctx.city)
        .await?
        .iter()
        .map(|(c, _)| c.clone())
        .collect();
    let missing = ctx
        .city
        .villages()
        .into_iter()
        .filter(|v| !have.contains(v.code))
        .map(|v| (v.code.to_string(), v.name.to_string()))
        .collect();
    Ok(PlacesPage {
        has_htmx: super::assets::has_htmx(),
        areas,
        points,
        total,
        missing,
        errors,
        ctx,
    })
}

pub async fn show(State(st): State<AppState>, a: Admin) -> AppResult<impl IntoResponse> {
    page(&st, a.ctx, vec![]).await
}

/// The upload: a GeoJSON file (or pasted text); all features are checked before any is kept.
pub async fn import(
    State(st): State<AppState>,
    a: Admin,
    mut mp: Multipart,
) -> AppResult<Response> {
    let mut text = String::new();
    while let Some(field) = mp
        .next_field()
        .await
        .map_err(|_| AppError::BadRequest("multipart_invalid"))?
    {
        if matches!(field.name(), Some("geojson") | Some("text")) {
            let bytes = field.bytes().await.map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    AppError::PayloadTooLarge
                } else {
                    AppError::BadRequest("multipart_invalid")
                }
            })?;
            if !bytes.is_empty() && text.trim().is_empty() {
                text = String::from_utf8_lossy(&bytes).into_owned();
            }
        }
    }
    let lang = a.ctx.lang;
    match places::import(&st.db, &a.ctx.city, &a.user.actor(), &text).await {
        Ok(n) => {
            let msg = crate::i18n::t_args(lang, "places-imported", &[("n", n.to_string())]);
            Ok(a.ctx.redirect_with_text("/admin/batas-wilayah", &msg))
        }
        Err(ImportError::Features(errs)) => {
            let lines = errs
                .iter()
                .map(|e| {
                    let msg = crate::i18n::t_args(
                        lang,
                        &format!("err-{}", e.key),
                        &[("code", e.code.clone())],
                    );
                    if e.feature == 0 {
                        msg
                    } else {
                        crate::i18n::t_args(
                            lang,
                            "places-feature-error",
                            &[("n", e.feature.to_string()), ("message", msg)],
                        )
                    }
                })
                .collect();
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                page(&st, a.ctx, lines).await?,
            )
                .into_response())
        }
        Err(ImportError::App(e)) => Err(e),
    }
}
