//! The room's settings for admins (`/admin/pengaduan`): categories (each with its agency and
//! extra questions), the city's area and the duplicate window, and staff reply templates.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form as PostForm, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::has_htmx;
use crate::store::{self, Category, CategoryInput, Question, Reply, Settings};
use kernel::FieldErrors;
use platform::agencies::{self, Agency, AgencyFilter};
use platform::error::{AppError, AppResult};
use platform::web::AppState;
use platform::web::auth::Admin;
use platform::web::context::Ctx;
use platform::web::form::Form;

#[derive(Template, WebTemplate)]
#[template(path = "admin.html")]
struct AdminPage {
    ctx: Ctx,
    has_htmx: bool,
    /// (category, agency short name)
    categories: Vec<(Category, String)>,
    agencies: Vec<Agency>,
    replies: Vec<Reply>,
    form: Form,
    box_form: Form,
    reply_form: Form,
}

async fn active_agencies(st: &AppState, ctx: &Ctx) -> AppResult<Vec<Agency>> {
    Ok(agencies::list(&st.db, &ctx.city, &AgencyFilter::default())
        .await?
        .into_iter()
        .filter(|a| a.active)
        .collect())
}

async fn admin_page(
    st: &AppState,
    ctx: Ctx,
    form: Form,
    box_form: Option<Form>,
    reply_form: Form,
) -> AppResult<AdminPage> {
    let agencies = active_agencies(st, &ctx).await?;
    let categories = store::categories(st.db.conn(), &ctx.city, false)
        .await?
        .into_iter()
        .map(|c| {
            let a = c
                .agency_id
                .and_then(|id| agencies.iter().find(|a| a.id == id))
                .map(|a| a.short_name.clone())
                .unwrap_or_default();
            (c, a)
        })
        .collect();
    let box_form = match box_form {
        Some(f) => f,
        None => {
            let s = store::settings(st.db.conn(), &ctx.city).await?;
            let mut f = Form::new();
            for (k, v) in [
                ("min_lat", s.min_lat),
                ("max_lat", s.max_lat),
                ("min_lon", s.min_lon),
                ("max_lon", s.max_lon),
            ] {
                f.set(k, &format!("{v}"));
            }
            f.set("duplicate_radius_m", &s.duplicate_radius_m.to_string());
            f.set("duplicate_days", &s.duplicate_days.to_string());
            f
        }
    };
    Ok(AdminPage {
        replies: store::replies(st.db.conn(), &ctx.city).await?,
        has_htmx: has_htmx(),
        categories,
        agencies,
        form,
        box_form,
        reply_form,
        ctx,
    })
}

/// `/admin/pengaduan`
pub async fn page(State(st): State<AppState>, a: Admin) -> AppResult<impl IntoResponse> {
    admin_page(&st, a.ctx, Form::new(), None, Form::new()).await
}

/// A category as posted: the questions as JSON (an admin's advanced field).
#[derive(Deserialize, Default, serde::Serialize)]
pub struct CategoryPost {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub name_id: String,
    #[serde(default)]
    pub name_en: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub agency_id: String,
    #[serde(default)]
    pub keywords: String,
    #[serde(default)]
    pub questions: String,
    #[serde(default)]
    pub sort: String,
    #[serde(default)]
    pub active: String,
}

impl CategoryPost {
    fn to_input(&self) -> Result<CategoryInput, FieldErrors> {
        let mut errs = FieldErrors::default();
        let questions: Vec<Question> = if self.questions.trim().is_empty() {
            vec![]
        } else {
            serde_json::from_str(&self.questions).unwrap_or_else(|_| {
                errs.add("questions", "questions_json");
                vec![]
            })
        };
        let agency_id = if self.agency_id.trim().is_empty() {
            None
        } else {
            match Uuid::parse_str(self.agency_id.trim()) {
                Ok(id) => Some(id),
                Err(_) => {
                    errs.add("agency_id", "agency_required");
                    None
                }
            }
        };
        let sort = if self.sort.trim().is_empty() {
            0
        } else {
            self.sort.trim().parse().unwrap_or_else(|_| {
                errs.add("sort", "number_invalid");
                0
            })
        };
        errs.into_result().map(|_| CategoryInput {
            code: self.code.clone(),
            name_id: self.name_id.clone(),
            name_en: self.name_en.clone(),
            description: self.description.clone(),
            agency_id,
            questions,
            keywords: self.keywords.clone(),
            sort,
        })
    }
}

fn refused<T: IntoResponse>(page: T) -> Response {
    (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
}

/// `POST /admin/pengaduan/kategori`: a new category.
pub async fn category_create(
    State(st): State<AppState>,
    a: Admin,
    PostForm(p): PostForm<CategoryPost>,
) -> AppResult<Response> {
    let result = match p.to_input() {
        Ok(input) => store::create_category(&st.db, &a.ctx.city, &a.user.actor(), &input)
            .await
            .map(|_| ()),
        Err(e) => Err(AppError::Invalid(e)),
    };
    match result {
        Ok(()) => Ok(a.ctx.redirect_with("/admin/pengaduan", "saved")),
        Err(AppError::Invalid(errs)) => {
            let form = Form::with_values(&p).with_errors(&errs, a.ctx.lang);
            Ok(refused(
                admin_page(&st, a.ctx, form, None, Form::new()).await?,
            ))
        }
        Err(e) => Err(e),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_category.html")]
struct CategoryPage {
    ctx: Ctx,
    has_htmx: bool,
    code: String,
    agencies: Vec<Agency>,
    form: Form,
}

async fn category_page(st: &AppState, ctx: Ctx, code: &str, form: Form) -> AppResult<CategoryPage> {
    Ok(CategoryPage {
        agencies: active_agencies(st, &ctx).await?,
        has_htmx: has_htmx(),
        code: code.to_string(),
        form,
        ctx,
    })
}

/// `/admin/pengaduan/kategori/{code}`: edit one category.
pub async fn category_edit(
    State(st): State<AppState>,
    a: Admin,
    Path(code): Path<String>,
) -> AppResult<impl IntoResponse> {
    let c = store::category_by_code(st.db.conn(), &a.ctx.city, &code)
        .await?
        .ok_or(AppError::NotFound)?;
    let post = CategoryPost {
        code: c.code.clone(),
        name_id: c.name_id.clone(),
        name_en: c.name_en.clone(),
        description: c.description.clone(),
        agency_id: c.agency_id.map(|a| a.to_string()).unwrap_or_default(),
        keywords: c.keywords.clone(),
        questions: if c.questions.is_empty() {
            String::new()
        } else {
            serde_json::to_string_pretty(&c.questions).unwrap_or_default()
        },
        sort: String::new(),
        active: if c.active { "1".into() } else { String::new() },
    };
    category_page(&st, a.ctx, &c.code, Form::with_values(&post)).await
}

pub async fn category_save(
    State(st): State<AppState>,
    a: Admin,
    Path(code): Path<String>,
    PostForm(p): PostForm<CategoryPost>,
) -> AppResult<Response> {
    let result = match p.to_input() {
        Ok(input) => store::update_category(
            &st.db,
            &a.ctx.city,
            &a.user.actor(),
            &code,
            &input,
            !p.active.is_empty(),
        )
        .await
        .map(|_| ()),
        Err(e) => Err(AppError::Invalid(e)),
    };
    match result {
        Ok(()) => Ok(a.ctx.redirect_with("/admin/pengaduan", "saved")),
        Err(AppError::Invalid(errs)) => {
            let form = Form::with_values(&p).with_errors(&errs, a.ctx.lang);
            Ok(refused(category_page(&st, a.ctx, &code, form).await?))
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize, serde::Serialize)]
pub struct BoxPost {
    #[serde(default)]
    pub min_lat: String,
    #[serde(default)]
    pub max_lat: String,
    #[serde(default)]
    pub min_lon: String,
    #[serde(default)]
    pub max_lon: String,
    #[serde(default)]
    pub duplicate_radius_m: String,
    #[serde(default)]
    pub duplicate_days: String,
}

/// `POST /admin/pengaduan/wilayah`: the city's box and the duplicate window.
pub async fn save_box(
    State(st): State<AppState>,
    a: Admin,
    PostForm(p): PostForm<BoxPost>,
) -> AppResult<Response> {
    let mut errs = FieldErrors::default();
    let mut num = |field: &'static str, v: &str| -> f64 {
        v.trim()
            .replace(',', ".")
            .parse::<f64>()
            .unwrap_or_else(|_| {
                errs.add(field, "number_invalid");
                0.0
            })
    };
    let s = Settings {
        min_lat: num("min_lat", &p.min_lat),
        max_lat: num("max_lat", &p.max_lat),
        min_lon: num("min_lon", &p.min_lon),
        max_lon: num("max_lon", &p.max_lon),
        duplicate_radius_m: num("duplicate_radius_m", &p.duplicate_radius_m) as i32,
        duplicate_days: num("duplicate_days", &p.duplicate_days) as i32,
    };
    let result = if errs.is_empty() {
        store::save_settings(&st.db, &a.ctx.city, &a.user.actor(), s).await
    } else {
        Err(AppError::Invalid(errs))
    };
    match result {
        Ok(()) => Ok(a.ctx.redirect_with("/admin/pengaduan", "saved")),
        Err(AppError::Invalid(errs)) => {
            let form = Form::with_values(&p).with_errors(&errs, a.ctx.lang);
            Ok(refused(
                admin_page(&st, a.ctx, Form::new(), Some(form), Form::new()).await?,
            ))
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize, serde::Serialize)]
pub struct ReplyPost {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub body: String,
}

/// `POST /admin/pengaduan/balasan`: a new reply template.
pub async fn reply_add(
    State(st): State<AppState>,
    a: Admin,
    PostForm(p): PostForm<ReplyPost>,
) -> AppResult<Response> {
    let now = st.notifier.now();
    match store::add_reply(&st.db, &a.ctx.city, &a.user.actor(), &p.title, &p.body, now).await {
        Ok(_) => Ok(a.ctx.redirect_with("/admin/pengaduan", "saved")),
        Err(AppError::Invalid(errs)) => {
            let form = Form::with_values(&p).with_errors(&errs, a.ctx.lang);
            Ok(refused(
                admin_page(&st, a.ctx, Form::new(), None, form).await?,
            ))
        }
        Err(e) => Err(e),
    }
}

/// `POST /admin/pengaduan/balasan/{id}/hapus`
pub async fn reply_delete(
    State(st): State<AppState>,
    a: Admin,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    store::delete_reply(&st.db, &a.ctx.city, &a.user.actor(), id).await?;
    Ok(a.ctx.redirect_with("/admin/pengaduan", "deleted"))
}
