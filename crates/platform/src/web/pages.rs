//! The platform's own pages: home, about, regions, register, login, account, staff workspace,
//! agencies, users, audit log, first-run setup, and file downloads.

use super::api::Params;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{ConnectInfo, Form as AxForm, Path, State};
use axum::http::header;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar};
use chrono::{NaiveDate, TimeZone, Utc};
use futures::StreamExt;
use serde::Deserialize;
use uuid::Uuid;

use super::AppState;
use super::auth::{Admin, AuditReader, Reader, SignedIn, Staff};
use super::context::{Ctx, SESSION_COOKIE, Visitor, lang_cookie, session_cookie};
use super::form::Form;
use crate::accounts::{self, AccountFilter, LoginError, RegisterInput, StaffInput};
use crate::agencies::{self, AgencyFilter, AgencyInput};
use crate::audit::{self, AuditFilter};
use crate::error::{AppError, AppResult};
use crate::sessions;
use kernel::format;
use kernel::region::Region;
use kernel::roles::Role;
use kernel::{Lang, contact::Phone};

fn has_htmx() -> bool {
    super::assets::has_htmx()
}

/// A redirect within the city, with a message shown once.
fn to(ctx: &Ctx, path: &str, msg: Option<&str>) -> Response {
    match msg {
        Some(m) => ctx.redirect_with(path, m),
        None => Redirect::to(&ctx.url(path)).into_response(),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
struct HomePage {
    ctx: Ctx,
    has_htmx: bool,
    region_line: String,
    services: Vec<(String, String)>,
}

/// The apps' links of one kind, as (url, label).
fn app_links(
    st: &AppState,
    ctx: &Ctx,
    which: fn(&dyn crate::app::CityApp) -> Vec<(&'static str, &'static str)>,
) -> Vec<(String, String)> {
    st.apps
        .iter()
        .flat_map(|a| which(a.as_ref()))
        .map(|(path, key)| (ctx.url(path), ctx.t(key)))
        .collect()
}

pub async fn home(State(st): State<AppState>, ctx: Ctx) -> impl IntoResponse {
    let services = app_links(&st, &ctx, |a| a.citizen_links());
    let districts = ctx.city.districts().len().to_string();
    let villages = ctx.city.villages().len().to_string();
    let region_line = crate::i18n::t_args(
        ctx.lang,
        "home-region",
        &[
            ("city", ctx.city.name.clone()),
            ("districts", districts),
            ("villages", villages),
        ],
    );
    HomePage {
        ctx,
        has_htmx: has_htmx(),
        region_line,
        services,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "about.html")]
struct AboutPage {
    ctx: Ctx,
    has_htmx: bool,
    version: &'static str,
}

pub async fn about(ctx: Ctx) -> impl IntoResponse {
    AboutPage {
        ctx,
        has_htmx: has_htmx(),
        version: env!("CARGO_PKG_VERSION"),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "regions.html")]
struct RegionsPage {
    ctx: Ctx,
    has_htmx: bool,
    districts: Vec<(Region, Vec<Region>)>,
}

pub async fn regions(ctx: Ctx) -> impl IntoResponse {
    let villages = ctx.city.villages();
    let districts = ctx
        .city
        .districts()
        .into_iter()
        .map(|d| {
            let vs = villages
                .iter()
                .filter(|v| v.parent == d.code)
                .cloned()
                .collect();
            (d, vs)
        })
        .collect();
    RegionsPage {
        ctx,
        has_htmx: has_htmx(),
        districts,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "register.html")]
struct RegisterPage {
    ctx: Ctx,
    has_htmx: bool,
    form: Form,
}

pub async fn register_form(ctx: Ctx) -> impl IntoResponse {
    RegisterPage {
        ctx,
        has_htmx: has_htmx(),
        form: Form::new(),
    }
}

pub async fn register_submit(
    State(st): State<AppState>,
    ctx: Ctx,
    jar: CookieJar,
    AxForm(input): AxForm<RegisterInput>,
) -> AppResult<Response> {
    let input = RegisterInput {
        password_confirm: Some(input.password_confirm.clone().unwrap_or_default()),
        ..input
    };
    match accounts::register_citizen(&st.db, &st.passwords, &ctx.city, &input).await {
        Ok(acc) => {
            let token = sessions::create(&st.db, &ctx.city, &acc).await?;
            let jar = jar.add(session_cookie(token, st.settings.secure_cookies));
            Ok((jar, to(&ctx, "/", Some("register-done"))).into_response())
        }
        Err(AppError::Invalid(errs)) => {
            let form = Form::with_values(&input).with_errors(&errs, ctx.lang);
            Ok((
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                RegisterPage {
                    ctx,
                    has_htmx: has_htmx(),
                    form,
                },
            )
                .into_response())
        }
        Err(e) => Err(e),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    ctx: Ctx,
    has_htmx: bool,
    form: Form,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// Only local paths may be "next" (no open redirects).
fn safe_next(next: Option<&str>) -> Option<String> {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .map(str::to_string)
}

pub async fn login_form(ctx: Ctx, Params(q): Params<NextQuery>) -> impl IntoResponse {
    let mut form = Form::new();
    form.set("next", &safe_next(q.next.as_deref()).unwrap_or_default());
    LoginPage {
        ctx,
        has_htmx: has_htmx(),
        form,
    }
}

#[derive(Deserialize, serde::Serialize)]
pub struct LoginInput {
    #[serde(default)]
    identifier: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

pub async fn login_submit(
    State(st): State<AppState>,
    ctx: Ctx,
    jar: CookieJar,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    AxForm(input): AxForm<LoginInput>,
) -> AppResult<Response> {
    let client = Some(peer.ip().to_string());
    let result = accounts::authenticate(
        &st.db,
        &st.passwords,
        &ctx.city,
        &input.identifier,
        &input.password,
        client.as_deref(),
    )
    .await?;
    match result {
        Ok(acc) => {
            if let Some(old) = jar.get(SESSION_COOKIE) {
                sessions::delete(&st.db, old.value()).await?;
            }
            let token = sessions::create(&st.db, &ctx.city, &acc).await?;
            let jar = jar.add(session_cookie(token, st.settings.secure_cookies));
            let dest = safe_next(Some(&input.next)).unwrap_or_else(|| {
                if acc.role.is_staff() {
                    ctx.url("/staf")
                } else {
                    ctx.url("/")
                }
            });
            Ok((jar, Redirect::to(&dest)).into_response())
        }
        Err(why) => {
            let key = if why == LoginError::Locked {
                "login-locked"
            } else {
                "login-failed"
            };
            let mut form = Form::with_values(&input);
            form.errors.push(("identifier".into(), ctx.t(key)));
            let status = if why == LoginError::Locked {
                axum::http::StatusCode::TOO_MANY_REQUESTS
            } else {
                axum::http::StatusCode::UNAUTHORIZED
            };
            let mut resp = LoginPage {
                ctx,
                has_htmx: has_htmx(),
                form,
            }
            .into_response();
            // A login page with a message, not the generic 401 redirect.
            if status == axum::http::StatusCode::TOO_MANY_REQUESTS {
                *resp.status_mut() = status;
            } else {
                *resp.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
            }
            Ok(resp)
        }
    }
}

pub async fn logout(State(st): State<AppState>, ctx: Ctx, jar: CookieJar) -> AppResult<Response> {
    if let Some(c) = jar.get(SESSION_COOKIE) {
        sessions::delete(&st.db, c.value()).await?;
    }
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/"));
    Ok((jar, to(&ctx, "/", Some("logged-out"))).into_response())
}

pub async fn switch_lang(
    State(st): State<AppState>,
    ctx: Ctx,
    jar: CookieJar,
    Path(lang): Path<String>,
    Params(q): Params<NextQuery>,
) -> AppResult<Response> {
    let lang = Lang::parse(&lang).ok_or(AppError::NotFound)?;
    if let Some(u) = &ctx.user {
        accounts::set_lang(&st.db, u, lang).await?;
    }
    let jar = jar.add(lang_cookie(lang, st.settings.secure_cookies));
    let dest = safe_next(q.next.as_deref())
        .map(|n| ctx.url(&n))
        .unwrap_or_else(|| ctx.url("/"));
    Ok((jar, Redirect::to(&dest)).into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "account.html")]
struct AccountPage {
    ctx: Ctx,
    has_htmx: bool,
    user: accounts::Account,
    agency: Option<String>,
    form: Form,
    tokens: Vec<(sessions::ApiToken, String, String)>,
    new_token: Option<String>,
    prefs: crate::notify::Prefs,
}

async fn account_page(
    st: &AppState,
    ctx: Ctx,
    user: accounts::Account,
    form: Form,
    new_token: Option<String>,
) -> AppResult<AccountPage> {
    let agency = match user.agency_id {
        Some(id) => agencies::get(&st.db, &ctx.city, id).await?.map(|a| a.name),
        None => None,
    };
    let prefs = crate::notify::prefs_of(st.db.conn(), &user.city_code, user.id).await?;
    let tz = ctx.city.tz;
    let tokens = sessions::list_tokens(&st.db, &ctx.city, &user)
        .await?
        .into_iter()
        .map(|t| {
            let created = format::datetime_short(t.created_at, tz, ctx.lang);
            let used = t
                .last_used_at
                .map(|u| format::datetime_short(u, tz, ctx.lang))
                .unwrap_or_else(|| "–".into());
            (t, created, used)
        })
        .collect();
    Ok(AccountPage {
        ctx,
        has_htmx: has_htmx(),
        user,
        agency,
        form,
        tokens,
        new_token,
        prefs,
    })
}

pub async fn account(State(st): State<AppState>, s: SignedIn) -> AppResult<Response> {
    Ok(account_page(&st, s.ctx, s.user, Form::new(), None)
        .await?
        .into_response())
}

#[derive(Deserialize, serde::Serialize)]
pub struct PasswordInput {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    new_confirm: String,
}

pub async fn change_password(
    State(st): State<AppState>,
    s: SignedIn,
    AxForm(i): AxForm<PasswordInput>,
) -> AppResult<Response> {
    match accounts::change_password(
        &st.db,
        &st.passwords,
        &s.ctx.city,
        &s.user,
        &i.current,
        &i.new,
        &i.new_confirm,
    )
    .await
    {
        Ok(()) => {
            // This browser stays logged in with a new session.
            let token = sessions::create(&st.db, &s.ctx.city, &s.user).await?;
            let jar = CookieJar::new().add(session_cookie(token, st.settings.secure_cookies));
            Ok((jar, to(&s.ctx, "/akun", Some("account-password-done"))).into_response())
        }
        Err(AppError::Invalid(errs)) => {
            let form = Form::new().with_errors(&errs, s.ctx.lang);
            let page = account_page(&st, s.ctx, s.user, form, None).await?;
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize, serde::Serialize)]
pub struct TokenInput {
    #[serde(default)]
    name: String,
}

pub async fn create_token(
    State(st): State<AppState>,
    s: SignedIn,
    AxForm(i): AxForm<TokenInput>,
) -> AppResult<Response> {
    match sessions::create_token(&st.db, &s.ctx.city, &s.user, &i.name).await {
        Ok((secret, _)) => Ok(account_page(&st, s.ctx, s.user, Form::new(), Some(secret))
            .await?
            .into_response()),
        Err(AppError::Invalid(errs)) => {
            let form = Form::with_values(&i).with_errors(&errs, s.ctx.lang);
            let page = account_page(&st, s.ctx, s.user, form, None).await?;
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}

pub async fn revoke_token(
    State(st): State<AppState>,
    s: SignedIn,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    sessions::revoke_token(&st.db, &s.ctx.city, &s.user, id).await?;
    Ok(to(&s.ctx, "/akun", None))
}

#[derive(Template, WebTemplate)]
#[template(path = "staff.html")]
struct StaffPage {
    ctx: Ctx,
    has_htmx: bool,
    lead: String,
    agency: Option<String>,
    links: Vec<(String, String)>,
    figures: Vec<crate::app::Figure>,
    /// "Waiting for you" for those who act; "At a glance" for those who watch.
    figures_title: String,
}

pub async fn staff_home(State(st): State<AppState>, s: Staff) -> AppResult<impl IntoResponse> {
    let agency = match s.user.agency_id {
        Some(id) => agencies::get(&st.db, &s.ctx.city, id)
            .await?
            .map(|a| a.name),
        None => None,
    };
    let lead = crate::i18n::t_args(
        s.ctx.lang,
        "staff-lead",
        &[
            ("name", s.user.full_name.clone()),
            ("role", s.user.role.label(s.ctx.lang).to_string()),
        ],
    );
    let mut links = app_links(&st, &s.ctx, |a| a.staff_links());
    if s.ctx.is_admin() {
        links.extend(app_links(&st, &s.ctx, |a| a.admin_links()));
    }
    let mut figures = Vec::new();
    for a in st.apps.iter() {
        figures.extend(a.staff_figures(&st, &s.ctx, &s.user).await?);
    }
    let watches = matches!(s.user.role, Role::Leader | Role::Inspectorate);
    let figures_title = s.ctx.t(if watches {
        "staff-at-a-glance"
    } else {
        "staff-waiting"
    });
    Ok(StaffPage {
        figures,
        figures_title,
        ctx: s.ctx,
        has_htmx: has_htmx(),
        lead,
        agency,
        links,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "agencies.html")]
struct AgenciesPage {
    ctx: Ctx,
    has_htmx: bool,
    rows: Vec<(agencies::Agency, String, String)>,
    kinds: Vec<(&'static str, &'static str)>,
    q: String,
    kind: String,
    count_line: String,
}

fn kinds(lang: Lang) -> Vec<(&'static str, &'static str)> {
    agencies::KINDS
        .iter()
        .map(|(c, id, en)| (*c, if lang == Lang::Id { *id } else { *en }))
        .collect()
}

fn show_phone(p: &Option<String>) -> String {
    p.as_deref()
        .and_then(|p| Phone::parse(p).ok())
        .map(|p| p.display())
        .unwrap_or_default()
}

pub async fn agencies_list(
    State(st): State<AppState>,
    r: Reader,
    Params(f): Params<AgencyFilter>,
) -> AppResult<impl IntoResponse> {
    let list = agencies::list(&st.db, &r.ctx.city, &f).await?;
    let lang = r.ctx.lang;
    let count_line = crate::i18n::t_args(
        lang,
        "agencies-count",
        &[("count", format::number(list.len() as i64, lang))],
    );
    let rows = list
        .into_iter()
        .map(|a| {
            let kind = agencies::kind_label(&a.kind, lang).to_string();
            let phone = show_phone(&a.phone);
            (a, kind, phone)
        })
        .collect();
    Ok(AgenciesPage {
        has_htmx: has_htmx(),
        rows,
        kinds: kinds(lang),
        q: f.q.unwrap_or_default(),
        kind: f.kind.unwrap_or_default(),
        count_line,
        ctx: r.ctx,
    })
}

pub async fn agencies_csv(
    State(st): State<AppState>,
    r: Reader,
    Params(f): Params<AgencyFilter>,
) -> AppResult<Response> {
    let list = agencies::list(&st.db, &r.ctx.city, &f).await?;
    let mut out = String::from("id,name,short_name,kind,region_code,email,phone,active\n");
    for a in list {
        let cells = [
            a.id.to_string(),
            a.name,
            a.short_name,
            a.kind,
            a.region_code.unwrap_or_default(),
            a.email.unwrap_or_default(),
            a.phone.unwrap_or_default(),
            a.active.to_string(),
        ];
        out.push_str(&kernel::csv::line(cells));
    }
    Ok(csv_download(&format!("opd-{}.csv", r.ctx.city.code), out))
}

/// A CSV file to download.
pub fn csv_download(filename: &str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response()
}

#[derive(Template, WebTemplate)]
#[template(path = "agency_form.html")]
struct AgencyFormPage {
    ctx: Ctx,
    has_htmx: bool,
    title: String,
    action: String,
    form: Form,
    kinds: Vec<(&'static str, &'static str)>,
    parents: Vec<agencies::Agency>,
    regions: Vec<(String, String)>,
    editing: bool,
}

async fn agency_form_page(
    st: &AppState,
    ctx: Ctx,
    form: Form,
    id: Option<Uuid>,
) -> AppResult<AgencyFormPage> {
    let parents = agencies::list(&st.db, &ctx.city, &AgencyFilter::default())
        .await?
        .into_iter()
        .filter(|a| Some(a.id) != id)
        .collect();
    let mut regions: Vec<(String, String)> = Vec::new();
    let villages = ctx.city.villages();
    for d in ctx.city.districts() {
        regions.push((d.code.to_string(), format!("Kec. {}", d.name)));
        for v in villages.iter().filter(|v| v.parent == d.code) {
            regions.push((
                v.code.to_string(),
                format!("— Kel. {} ({})", v.name, d.name),
            ));
        }
    }
    let (title, action) = match id {
        Some(id) => (ctx.t("agencies-edit"), ctx.url(&format!("/admin/opd/{id}"))),
        None => (ctx.t("agencies-new"), ctx.url("/admin/opd/baru")),
    };
    Ok(AgencyFormPage {
        kinds: kinds(ctx.lang),
        has_htmx: has_htmx(),
        title,
        action,
        form,
        parents,
        regions,
        editing: id.is_some(),
        ctx,
    })
}

pub async fn agency_new(State(st): State<AppState>, a: Admin) -> AppResult<impl IntoResponse> {
    agency_form_page(&st, a.ctx, Form::new(), None).await
}

pub async fn agency_create(
    State(st): State<AppState>,
    a: Admin,
    AxForm(input): AxForm<AgencyInput>,
) -> AppResult<Response> {
    match agencies::create(&st.db, &a.ctx.city, &a.user.actor(), &input).await {
        Ok(_) => Ok(to(&a.ctx, "/admin/opd", Some("agencies-saved"))),
        Err(AppError::Invalid(errs)) => {
            let form = Form::with_values(&input).with_errors(&errs, a.ctx.lang);
            let page = agency_form_page(&st, a.ctx, form, None).await?;
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}

pub async fn agency_edit(
    State(st): State<AppState>,
    a: Admin,
    Path(id): Path<Uuid>,
) -> AppResult<impl IntoResponse> {
    let ag = agencies::get(&st.db, &a.ctx.city, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut form = Form::new();
    form.set("name", &ag.name);
    form.set("short_name", &ag.short_name);
    form.set("kind", &ag.kind);
    form.set(
        "parent_id",
        &ag.parent_id.map(|p| p.to_string()).unwrap_or_default(),
    );
    form.set("region_code", &ag.region_code.unwrap_or_default());
    form.set("email", &ag.email.unwrap_or_default());
    form.set("phone", &show_phone(&ag.phone));
    if ag.active {
        form.set("active", "1");
    }
    agency_form_page(&st, a.ctx, form, Some(id)).await
}

pub async fn agency_update(
    State(st): State<AppState>,
    a: Admin,
    Path(id): Path<Uuid>,
    AxForm(input): AxForm<AgencyInput>,
) -> AppResult<Response> {
    match agencies::update(&st.db, &a.ctx.city, &a.user.actor(), id, &input).await {
        Ok(_) => Ok(to(&a.ctx, "/admin/opd", Some("agencies-saved"))),
        Err(AppError::Invalid(errs)) => {
            let form = Form::with_values(&input).with_errors(&errs, a.ctx.lang);
            let page = agency_form_page(&st, a.ctx, form, Some(id)).await?;
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}

struct UserRow {
    name: String,
    login: String,
    role: String,
    agency: String,
    contact: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "users.html")]
struct UsersPage {
    ctx: Ctx,
    has_htmx: bool,
    rows: Vec<UserRow>,
    roles: Vec<(&'static str, &'static str)>,
    q: String,
    role: String,
}

fn roles(lang: Lang, staff_only: bool) -> Vec<(&'static str, &'static str)> {
    Role::ALL
        .iter()
        .filter(|r| !staff_only || r.is_staff())
        .map(|r| (r.code(), r.label(lang)))
        .collect()
}

pub async fn users_list(
    State(st): State<AppState>,
    a: Admin,
    Params(f): Params<AccountFilter>,
) -> AppResult<impl IntoResponse> {
    let lang = a.ctx.lang;
    let all_agencies = agencies::list(&st.db, &a.ctx.city, &AgencyFilter::default()).await?;
    let rows = accounts::list(&st.db, &a.ctx.city, &f, 500)
        .await?
        .into_iter()
        .map(|u| UserRow {
            login: u
                .username
                .clone()
                .or_else(|| u.masked_nik())
                .unwrap_or_default(),
            role: u.role.label(lang).to_string(),
            agency: u
                .agency_id
                .and_then(|id| all_agencies.iter().find(|x| x.id == id))
                .map(|x| x.short_name.clone())
                .unwrap_or_default(),
            contact: [u.email.clone().unwrap_or_default(), show_phone(&u.phone)]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" · "),
            name: u.full_name,
        })
        .collect();
    Ok(UsersPage {
        has_htmx: has_htmx(),
        rows,
        roles: roles(lang, false),
        q: f.q.unwrap_or_default(),
        role: f.role.unwrap_or_default(),
        ctx: a.ctx,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "user_form.html")]
struct UserFormPage {
    ctx: Ctx,
    has_htmx: bool,
    form: Form,
    roles: Vec<(&'static str, &'static str)>,
    agencies: Vec<agencies::Agency>,
}

pub async fn user_new(State(st): State<AppState>, a: Admin) -> AppResult<impl IntoResponse> {
    let agencies = agencies::list(&st.db, &a.ctx.city, &AgencyFilter::default()).await?;
    Ok(UserFormPage {
        has_htmx: has_htmx(),
        form: Form::new(),
        roles: roles(a.ctx.lang, true),
        agencies,
        ctx: a.ctx,
    })
}

pub async fn user_create(
    State(st): State<AppState>,
    a: Admin,
    AxForm(input): AxForm<StaffInput>,
) -> AppResult<Response> {
    match accounts::create_staff(&st.db, &st.passwords, &a.ctx.city, &a.user.actor(), &input).await
    {
        Ok(_) => Ok(to(&a.ctx, "/admin/pengguna", Some("users-saved"))),
        Err(AppError::Invalid(errs)) => {
            let agencies = agencies::list(&st.db, &a.ctx.city, &AgencyFilter::default()).await?;
            let form = Form::with_values(&input).with_errors(&errs, a.ctx.lang);
            let page = UserFormPage {
                has_htmx: has_htmx(),
                form,
                roles: roles(a.ctx.lang, true),
                agencies,
                ctx: a.ctx,
            };
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}

struct AuditRow {
    time: String,
    actor: String,
    action: String,
    subject: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "audit.html")]
struct AuditPage {
    ctx: Ctx,
    has_htmx: bool,
    lead: String,
    rows: Vec<AuditRow>,
    older: Option<String>,
    f_action: String,
    f_actor: String,
    f_subject: String,
    f_from: String,
    f_until: String,
}

#[derive(Deserialize, Default)]
pub struct AuditQuery {
    action: Option<String>,
    actor: Option<String>,
    subject_type: Option<String>,
    subject_id: Option<String>,
    from: Option<String>,
    until: Option<String>,
    before: Option<i64>,
}

const AUDIT_PAGE: u64 = 50;

pub async fn audit_list(
    State(st): State<AppState>,
    r: AuditReader,
    Params(q): Params<AuditQuery>,
) -> AppResult<impl IntoResponse> {
    let tz = r.ctx.city.tz;
    let day = |s: &Option<String>, add: i64| {
        s.as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .and_then(|d| tz.from_local_datetime(&d).single())
            .map(|d| d.with_timezone(&Utc) + chrono::Duration::days(add))
    };
    let filter = AuditFilter {
        action: q.action.clone(),
        subject_type: q.subject_type.clone(),
        subject_id: q.subject_id.clone(),
        actor: q.actor.clone(),
        from: day(&q.from, 0),
        until: day(&q.until, 1),
        before_seq: q.before,
    };
    let list = audit::list(&st.db, &r.ctx.city.code, &filter, AUDIT_PAGE).await?;
    let total = audit::count(&st.db, &r.ctx.city.code).await?;
    let lang = r.ctx.lang;
    let older = (list.len() as u64 == AUDIT_PAGE).then(|| {
        let last = list.last().map(|e| e.seq).unwrap_or_default();
        let mut params = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("action", &q.action),
            ("actor", &q.actor),
            ("subject_type", &q.subject_type),
            ("from", &q.from),
            ("until", &q.until),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                params.append_pair(k, v);
            }
        }
        params.append_pair("before", &last.to_string());
        r.ctx.url(&format!("/audit?{}", params.finish()))
    });
    let rows = list
        .into_iter()
        .map(|e| AuditRow {
            time: format::datetime_short(e.at, tz, lang),
            actor: e.actor,
            action: e.action,
            subject: audit::subject_label(
                &e.subject_type,
                &e.subject_id,
                e.after.as_deref().or(e.before.as_deref()),
            ),
        })
        .collect();
    let lead = crate::i18n::t_args(
        lang,
        "audit-lead",
        &[("count", format::number(total as i64, lang))],
    );
    Ok(AuditPage {
        has_htmx: has_htmx(),
        lead,
        rows,
        older,
        f_action: q.action.unwrap_or_default(),
        f_actor: q.actor.unwrap_or_default(),
        f_subject: q.subject_type.unwrap_or_default(),
        f_from: q.from.unwrap_or_default(),
        f_until: q.until.unwrap_or_default(),
        ctx: r.ctx,
    })
}

/// New audit entries of this city, as server-sent events, for the live log.
pub async fn audit_stream(State(st): State<AppState>, r: AuditReader) -> impl IntoResponse {
    let city = r.ctx.city.clone();
    let lang = r.ctx.lang;
    let rx = st.db.events().subscribe();
    let stream = tokio_stream_from(rx).filter_map(move |e| {
        let city = city.clone();
        async move {
            if e.city_code != city.code {
                return None;
            }
            let at = chrono::DateTime::from_timestamp_micros(e.at_us).unwrap_or_default();
            let data = serde_json::json!({
                "time": format::datetime_short(at, city.tz, lang),
                "actor": e.actor,
                "action": e.action,
                "subject": e.subject,
            });
            Some(Ok::<_, std::convert::Infallible>(
                SseEvent::default().data(data.to_string()),
            ))
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

fn tokio_stream_from(
    rx: tokio::sync::broadcast::Receiver<crate::events::Event>,
) -> impl futures::Stream<Item = crate::events::Event> {
    futures::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(e) => return Some((e, rx)),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "setup.html")]
struct SetupPage {
    lang: &'static str,
    csrf: String,
    form: Form,
    t_title: String,
    t_lead: String,
    t_summary: String,
    t_city: String,
    t_city_hint: String,
    t_own_nik: String,
    t_username: String,
    t_username_hint: String,
    t_name: String,
    t_password: String,
    t_password_hint: String,
    t_submit: String,
}

fn setup_page(v: &Visitor, form: Form) -> SetupPage {
    let t = |k: &str| crate::i18n::t(v.lang, k);
    SetupPage {
        lang: v.lang.code(),
        csrf: v.csrf.clone(),
        form,
        t_title: t("setup-title"),
        t_lead: t("setup-lead"),
        t_summary: t("error-summary"),
        t_city: t("field-city-code"),
        t_city_hint: t("field-city-code-hint"),
        t_own_nik: t("field-own-nik"),
        t_username: t("field-username"),
        t_username_hint: t("field-username-hint"),
        t_name: t("field-full-name"),
        t_password: t("field-password"),
        t_password_hint: t("field-password-hint"),
        t_submit: t("setup-submit"),
    }
}

async fn setup_open(st: &AppState) -> AppResult<bool> {
    st.cities.is_empty(&st.db).await
}

pub async fn setup_form(State(st): State<AppState>, v: Visitor) -> AppResult<Response> {
    if !setup_open(&st).await? {
        return Ok(Redirect::to("/").into_response());
    }
    Ok(setup_page(&v, Form::new()).into_response())
}

#[derive(Deserialize, serde::Serialize)]
pub struct SetupInput {
    #[serde(default)]
    city_code: String,
    #[serde(default)]
    own_nik_only: Option<String>,
    #[serde(default)]
    username: String,
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    password: String,
}

pub async fn setup_submit(
    State(st): State<AppState>,
    v: Visitor,
    AxForm(i): AxForm<SetupInput>,
) -> AppResult<Response> {
    if !setup_open(&st).await? {
        return Ok(Redirect::to("/").into_response());
    }
    let staff = StaffInput {
        username: i.username.clone(),
        full_name: i.full_name.clone(),
        role: "admin".into(),
        password: i.password.clone(),
        ..Default::default()
    };
    match crate::seed::setup_city(
        &st.db,
        &st.passwords,
        &i.city_code,
        None,
        i.own_nik_only.is_some(),
        &staff,
    )
    .await
    {
        Ok(city) => {
            st.cities.reload(&st.db).await?;
            let _ = city;
            let m: String = url::form_urlencoded::byte_serialize(
                crate::i18n::t(v.lang, "setup-done").as_bytes(),
            )
            .collect();
            Ok(Redirect::to(&format!("/masuk?pesan={m}")).into_response())
        }
        Err(AppError::Invalid(errs)) => {
            let form = Form::with_values(&i).with_errors(&errs, v.lang);
            Ok((
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                setup_page(&v, form),
            )
                .into_response())
        }
        Err(e) => Err(e),
    }
}

async fn send_file(st: &AppState, s: &SignedIn, id: Uuid, thumb: bool) -> AppResult<Response> {
    let f = st
        .files
        .get(&st.db, &s.ctx.city, id)
        .await?
        .ok_or(AppError::NotFound)?;
    // Owners and staff may see a file; apps will widen this for public photos.
    if f.owner_id != Some(s.user.id) && !s.user.role.is_staff() {
        return Err(AppError::Forbidden);
    }
    let (path, ct) = if thumb {
        (f.thumb_path.clone(), "image/jpeg".to_string())
    } else {
        (f.path.clone(), f.content_type.clone())
    };
    let bytes = st.files.read(&path).await?;
    Ok((
        [
            (header::CONTENT_TYPE, ct),
            (header::CACHE_CONTROL, "private, max-age=86400".into()),
        ],
        bytes,
    )
        .into_response())
}

pub async fn file_get(
    State(st): State<AppState>,
    s: SignedIn,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    send_file(&st, &s, id, false).await
}

pub async fn file_thumb(
    State(st): State<AppState>,
    s: SignedIn,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    send_file(&st, &s, id, true).await
}
