//! e-Masyarakat's JSON API for mobile apps (OpenAPI, bearer tokens from the account page):
//! categories, submit (photos uploaded first through `/api/v1/files`), my reports, one report
//! with its public timeline, support, and the reporter's answers (confirm, dispute, answer).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use platform::web::api::Params;
use serde::Serialize;

use crate::domain;
use crate::store::{self, ActionInput, Category, Report, ReportInput, TimelineEntry};
use platform::error::{AppError, AppResult};
use platform::web::AppState;
use platform::web::api::ApiJson;
use platform::web::auth::SignedIn;
use platform::web::context::Ctx;

/// The active categories (Open311 services), with their extra questions.
#[utoipa::path(get, path = "/api/v1/pengaduan/kategori", tag = "masyarakat", responses((status = 200, body = [Category])))]
pub async fn categories(State(st): State<AppState>, ctx: Ctx) -> AppResult<Json<Vec<Category>>> {
    Ok(Json(
        store::categories(st.db.conn(), &ctx.city, true).await?,
    ))
}

/// Submit a complaint. `photos` are ids from `POST /api/v1/files` (one to three).
#[utoipa::path(post, path = "/api/v1/pengaduan", tag = "masyarakat", request_body = ReportInput,
    responses((status = 201, body = Report), (status = 422, body = platform::web::api::ApiError), (status = 401)),
    security(("bearer" = [])))]
pub async fn submit(
    State(st): State<AppState>,
    s: SignedIn,
    ApiJson(input): ApiJson<ReportInput>,
) -> AppResult<Response> {
    let r = store::submit(
        &st.db,
        &st.notifier,
        &st.files,
        &s.ctx.city,
        &s.user,
        &input,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(r)).into_response())
}

/// My reports, newest first.
#[utoipa::path(get, path = "/api/v1/pengaduan/saya", tag = "masyarakat", responses((status = 200, body = [Report]), (status = 401)),
    security(("bearer" = [])))]
pub async fn mine(State(st): State<AppState>, s: SignedIn) -> AppResult<Json<Vec<Report>>> {
    Ok(Json(
        store::of_reporter(&st.db, &s.ctx.city, s.user.id, 200).await?,
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ReportDetail {
    pub report: Report,
    /// The agency holding it, by name.
    pub agency_name: Option<String>,
    /// The officer handling it, for the reporter and staff while it is open.
    pub officer_name: Option<String>,
    /// The stage whose deadline runs now; absent while the agency works on it and once closed.
    pub current_step: Option<store::Step>,
    pub timeline: Vec<TimelineEntry>,
}

/// One report with its public timeline (as the viewer may see it).
#[utoipa::path(get, path = "/api/v1/pengaduan/{code}", tag = "masyarakat", params(("code" = String, Path)),
    responses((status = 200, body = ReportDetail), (status = 404)))]
pub async fn one(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(code): Path<String>,
) -> AppResult<Json<ReportDetail>> {
    let r = store::get_by_code(st.db.conn(), &ctx.city, &code)
        .await?
        .ok_or(AppError::NotFound)?;
    let viewer = crate::web::viewer_of(&ctx, &r);
    if !domain::may_see_report(r.privacy, viewer) {
        return Err(AppError::NotFound);
    }
    let mut timeline = store::timeline(&st.db, &ctx.city, r.id, false).await?;
    if !domain::may_see_reporter(r.privacy, viewer) {
        for e in &mut timeline {
            e.actor = String::new();
        }
    }
    let current_step = store::current_step(&st.db, &ctx.city, &r.code, st.notifier.now()).await?;
    let (agency_name, officer_name) = crate::web::holder(&st, &ctx, &r, viewer).await?;
    let mut r = r;
    if !domain::may_see_officer(viewer) {
        r.assignee_id = None;
    }
    Ok(Json(ReportDetail {
        agency_name,
        officer_name,
        report: r,
        current_step,
        timeline,
    }))
}

/// "Saya juga": support and follow someone else's open report.
#[utoipa::path(post, path = "/api/v1/pengaduan/{code}/dukung", tag = "masyarakat", params(("code" = String, Path)),
    responses((status = 200, body = Report), (status = 422, body = platform::web::api::ApiError)), security(("bearer" = [])))]
pub async fn support(
    State(st): State<AppState>,
    s: SignedIn,
    Path(code): Path<String>,
) -> AppResult<Json<Report>> {
    let mut r = store::support(&st.db, &st.notifier, &s.ctx.city, &s.user, &code).await?;
    // A supporter follows the report as the public sees it.
    r.assignee_id = None;
    Ok(Json(r))
}

/// An action: the reporter's confirm / dispute / answer; staff actions as on the staff page
/// (photos by id).
#[utoipa::path(post, path = "/api/v1/pengaduan/{code}/aksi", tag = "masyarakat", params(("code" = String, Path)), request_body = ActionInput,
    responses((status = 200, body = Report), (status = 403), (status = 422, body = platform::web::api::ApiError)), security(("bearer" = [])))]
pub async fn act(
    State(st): State<AppState>,
    s: SignedIn,
    Path(code): Path<String>,
    ApiJson(input): ApiJson<ActionInput>,
) -> AppResult<Json<Report>> {
    Ok(Json(
        store::act(
            &st.db,
            &st.notifier,
            &st.files,
            &s.ctx.city,
            &s.user,
            &code,
            &input,
        )
        .await?,
    ))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(categories, submit, mine, one, support, act, nearby),
    components(schemas(
        Category,
        store::Question,
        Report,
        ReportInput,
        ActionInput,
        ReportDetail,
        store::Step,
        TimelineEntry
    ))
)]
pub struct MasyarakatApi;

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NearbyQuery {
    /// The category's code.
    kategori: String,
    lat: f64,
    lon: f64,
}

/// Open reports of the same category near a place (to support instead of reporting again).
#[utoipa::path(get, path = "/api/v1/pengaduan/sekitar", tag = "masyarakat", params(NearbyQuery),
    responses((status = 200, body = [store::Nearby])))]
pub async fn nearby(
    State(st): State<AppState>,
    ctx: Ctx,
    Params(q): Params<std::collections::BTreeMap<String, String>>,
) -> AppResult<Json<Vec<store::Nearby>>> {
    // Parsed by hand so a malformed query gets the stable JSON error, not a plain-text one.
    let num = |k: &str, limit: f64| {
        q.get(k)
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && v.abs() <= limit)
    };
    let kategori = q
        .get("kategori")
        .map(|k| k.trim())
        .filter(|k| !k.is_empty());
    let (Some(lat), Some(lon), Some(kategori)) = (num("lat", 90.0), num("lon", 180.0), kategori)
    else {
        return Err(AppError::BadRequest("query_invalid"));
    };
    let q = NearbyQuery {
        kategori: kategori.to_string(),
        lat,
        lon,
    };
    Ok(Json(
        store::nearby(
            &st.db,
            &ctx.city,
            &q.kategori,
            (q.lat, q.lon),
            ctx.user.as_ref().map(|u| u.id),
            st.notifier.now(),
        )
        .await?,
    ))
}
