//! The JSON API (`/api/v1`) and its OpenAPI document (`/api/openapi.json`). Errors are
//! `{"error": "<stable_key>", "message": "…", "fields": {…}}`.

use axum::extract::{Multipart, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use utoipa::OpenApi;

use super::AppState;
use super::auth::SignedIn;
use super::context::Ctx;
use crate::accounts::{self, Account, RegisterInput};
use crate::agencies::{self, Agency, AgencyFilter};
use crate::error::{AppError, AppResult};
use crate::files::StoredFile;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/openapi.json", get(openapi_json))
        .route("/api/v1/register", post(register))
        .route("/api/v1/me", get(me))
        .route("/api/v1/agencies", get(list_agencies))
        .route("/api/v1/regions", get(regions))
        .route("/api/v1/files", post(upload))
        .route("/api/v1/deadlines", get(super::notify_pages::deadlines_api))
        .route(
            "/api/v1/notifications",
            get(super::notify_pages::notifications_api),
        )
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Balaikota API",
        description = "API kota Balaikota. Autentikasi: token akses pribadi (Bearer) dari halaman Akun."
    ),
    paths(
        register,
        me,
        list_agencies,
        regions,
        upload,
        super::notify_pages::deadlines_api,
        super::notify_pages::notifications_api
    ),
    components(schemas(
        RegisterInput,
        Account,
        Agency,
        RegionOut,
        RegionsOut,
        StoredFile,
        UploadForm,
        ApiError,
        crate::deadlines::Deadline,
        crate::deadlines::Bucket,
        super::notify_pages::DeadlineList,
        super::notify_pages::DeadlineCounts,
        crate::notify::InApp
    ))
)]
pub struct PlatformApi;

/// The document of the platform and every app.
pub fn openapi(apps: &[std::sync::Arc<dyn crate::app::CityApp>]) -> utoipa::openapi::OpenApi {
    let mut doc = PlatformApi::openapi();
    for a in apps {
        doc.merge(a.openapi());
    }
    document_errors(&mut doc);
    doc
}

/// Every operation lists the errors the shared layers give it, each with the [`ApiError`] body:
/// 400 (`query_invalid`, `body_invalid`) where it takes parameters or a body, 401 where it needs
/// a token, 404 where its path names a thing. Annotations keep the errors of their own rules.
fn document_errors(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{Ref, RefOr, ResponseBuilder};
    let body = || {
        ResponseBuilder::new().content(
            "application/json",
            utoipa::openapi::ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ApiError")))
                .build(),
        )
    };
    for (path, item) in doc.paths.paths.iter_mut() {
        let ops = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.delete,
            &mut item.patch,
        ];
        for op in ops.into_iter().flatten() {
            let takes_input = op.request_body.is_some()
                || op.parameters.as_ref().is_some_and(|p| {
                    p.iter().any(|p| {
                        matches!(p, RefOr::T(p) if p.parameter_in == utoipa::openapi::path::ParameterIn::Query)
                    })
                });
            let mut add = |code: &str, text: &str| {
                let r = op.responses.responses.entry(code.to_string());
                r.or_insert_with(|| RefOr::T(body().description(text).build()));
            };
            if takes_input {
                add("400", "query_invalid, body_invalid");
            }
            if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
                add("401", "unauthorized: no token, or one not valid");
            }
            if path.contains('{') {
                add("404", "not_found");
            }
            for (code, r) in op.responses.responses.iter_mut() {
                if let RefOr::T(r) = r
                    && !code.starts_with('2')
                    && r.content.is_empty()
                {
                    let text = match (r.description.as_str(), code.as_str()) {
                        ("", "401") => "unauthorized",
                        ("", "403") => "forbidden",
                        ("", "404") => "not_found",
                        ("", "413") => "payload_too_large",
                        ("", "422") => "validation_failed",
                        (d, _) => d,
                    };
                    *r = body().description(text).build();
                }
            }
        }
    }
}

async fn openapi_json(State(st): State<AppState>) -> Response {
    Json(openapi(&st.apps)).into_response()
}

/// A JSON body; a missing or malformed one is `400 {"error": "body_invalid"}`, never axum's
/// plain-text rejection.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;
    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(axum::extract::rejection::JsonRejection::BytesRejection(_)) => {
                Err(AppError::PayloadTooLarge)
            }
            Err(_) => Err(AppError::BadRequest("body_invalid")),
        }
    }
}

/// Query parameters; malformed ones (`?offset=abc`) are `400 {"error": "query_invalid"}` (a page
/// for browsers), never axum's plain-text rejection. For pages and the API alike.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequestParts<S>
    for Params<T>
{
    type Rejection = AppError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match <Query<T> as axum::extract::FromRequestParts<S>>::from_request_parts(parts, state)
            .await
        {
            Ok(Query(v)) => Ok(Params(v)),
            Err(_) => Err(AppError::BadRequest("query_invalid")),
        }
    }
}

/// The error body of every failed API call.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ApiError {
    /// Stable key, e.g. `validation_failed`, `unauthorized`, `csrf_invalid`.
    pub error: String,
    pub message: String,
    /// Per field: `{ "key": "nik_length", "message": "NIK harus 16 angka." }`.
    pub fields: Option<serde_json::Value>,
}

/// Register a citizen with a NIK.
#[utoipa::path(post, path = "/api/v1/register", request_body = RegisterInput,
    responses((status = 201, body = Account), (status = 422, body = ApiError)))]
async fn register(
    State(st): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<RegisterInput>,
) -> AppResult<Response> {
    let acc = accounts::register_citizen(&st.db, &st.passwords, &ctx.city, &input).await?;
    Ok((axum::http::StatusCode::CREATED, Json(acc)).into_response())
}

/// The account behind the token.
#[utoipa::path(get, path = "/api/v1/me", responses((status = 200, body = Account), (status = 401, body = ApiError)),
    security(("bearer" = [])))]
async fn me(s: SignedIn) -> Json<Account> {
    Json(s.user)
}

/// The city's agencies (OPD). Staff who read across agencies only.
#[utoipa::path(get, path = "/api/v1/agencies", params(("q" = Option<String>, Query), ("kind" = Option<String>, Query)),
    responses((status = 200, body = [Agency]), (status = 403, body = ApiError)),
    security(("bearer" = [])))]
async fn list_agencies(
    State(st): State<AppState>,
    r: super::auth::Reader,
    Params(f): Params<AgencyFilter>,
) -> AppResult<Json<Vec<Agency>>> {
    Ok(Json(agencies::list(&st.db, &r.ctx.city, &f).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RegionOut {
    pub code: String,
    pub name: String,
    pub parent: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RegionsOut {
    pub city_code: String,
    pub city_name: String,
    pub districts: Vec<RegionOut>,
    pub villages: Vec<RegionOut>,
}

/// Kecamatan and kelurahan of the city (public).
#[utoipa::path(get, path = "/api/v1/regions", responses((status = 200, body = RegionsOut)))]
async fn regions(ctx: Ctx) -> Json<RegionsOut> {
    let conv = |r: kernel::region::Region| RegionOut {
        code: r.code.into(),
        name: r.name.into(),
        parent: r.parent.into(),
    };
    Json(RegionsOut {
        city_code: ctx.city.code.clone(),
        city_name: ctx.city.name.clone(),
        districts: ctx.city.districts().into_iter().map(conv).collect(),
        villages: ctx.city.villages().into_iter().map(conv).collect(),
    })
}

/// Upload a photo (multipart field `file`). It is checked, cleaned of metadata and stored.
/// The upload form: one image (JPEG, PNG or WebP) in the field `file`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

#[utoipa::path(post, path = "/api/v1/files",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = StoredFile), (status = 400, body = ApiError, description = "multipart_invalid"),
        (status = 422, body = ApiError, description = "validation_failed: file_empty, file_too_large, file_not_image, image_too_large, image_invalid"), (status = 413, body = ApiError)),
    security(("bearer" = [])))]
async fn upload(State(st): State<AppState>, s: SignedIn, mut mp: Multipart) -> AppResult<Response> {
    let mut data = None;
    while let Some(field) = mp
        .next_field()
        .await
        .map_err(|_| AppError::BadRequest("multipart_invalid"))?
    {
        if field.name() == Some("file") {
            let bytes = field.bytes().await.map_err(|e| {
                if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    AppError::PayloadTooLarge
                } else {
                    AppError::BadRequest("multipart_invalid")
                }
            })?;
            data = Some(bytes);
        }
    }
    let data = data.ok_or(AppError::invalid("file", "file_empty"))?;
    let f = st
        .files
        .save_image(&st.db, &s.ctx.city, &s.user.actor(), data)
        .await?;
    Ok((axum::http::StatusCode::CREATED, Json(f)).into_response())
}
