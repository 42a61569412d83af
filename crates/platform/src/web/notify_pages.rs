//! Pages of the deadline and notification engine: the operators' deadline overview, the bell,
//! channel choices, short links, and the admin's calendar, deadline kinds (ladders), message
//! wording, webhook and outbox.

use super::api::Params;
use askama::Template;
use askama_web::WebTemplate;
use axum::Json;
use axum::extract::{Form as AxForm, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::AppState;
use super::auth::{Admin, Reader, SignedIn};
use super::context::Ctx;
use super::form::Form;
use crate::calendar::{self, ImportError, SettingsInput};
use crate::clock::to_us;
use crate::deadlines::{self, Bucket, Deadline, PolicyInput};
use crate::error::{AppError, AppResult};
use crate::notify::{self, OutboxItem, Prefs, WebhookInput, templates};
use kernel::format;
use kernel::{FieldError, FieldErrors, Lang};

fn invalid(page: impl IntoResponse) -> Response {
    (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
}

/// One deadline as a row.
pub struct Row {
    pub d: Deadline,
    pub due: String,
    pub left: String,
    pub state_label: String,
}

fn row(ctx: &Ctx, d: Deadline) -> Row {
    let due = d
        .due_at
        .map(|t| format::datetime_short(t, ctx.city.tz, ctx.lang))
        .unwrap_or_else(|| "–".into());
    let left = match (d.left_secs, d.late_by_secs) {
        (Some(s), _) => ctx.ta(
            "deadline-left",
            "span",
            &format::span(chrono::Duration::seconds(s), ctx.lang),
        ),
        (None, Some(s)) => ctx.ta(
            "deadline-late",
            "span",
            &format::span(chrono::Duration::seconds(s), ctx.lang),
        ),
        _ => String::new(),
    };
    let state_label = ctx.t(&format!("deadline-state-{}", d.state));
    Row {
        d,
        due,
        left,
        state_label,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "deadlines.html")]
struct DeadlinesPage {
    ctx: Ctx,
    has_htmx: bool,
    counts: Vec<(Bucket, u64, String)>,
    bucket: Bucket,
    rows: Vec<Row>,
    page: u64,
    more: bool,
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    app: Option<String>,
    #[serde(default)]
    hal: Option<u64>,
}

const PAGE: u64 = 50;

/// `/tenggat`: open deadlines across all apps, breached first.
pub async fn deadlines_page(
    State(st): State<AppState>,
    r: Reader,
    Params(q): Params<ListQuery>,
) -> AppResult<impl IntoResponse> {
    let ctx = r.ctx;
    let now = st.notifier.now();
    let counts = deadlines::counts(&st.db, &ctx.city, now).await?;
    let bucket = q
        .status
        .as_deref()
        .and_then(Bucket::parse)
        .or_else(|| counts.iter().find(|(_, n)| *n > 0).map(|(b, _)| *b))
        .unwrap_or(Bucket::Breached);
    let page = q.hal.unwrap_or(1).max(1);
    let mut list = deadlines::overview(
        &st.db,
        &ctx.city,
        bucket,
        q.app.as_deref(),
        now,
        PAGE + 1,
        (page - 1).saturating_mul(PAGE),
    )
    .await?;
    let more = list.len() as u64 > PAGE;
    list.truncate(PAGE as usize);
    let rows = list.into_iter().map(|d| row(&ctx, d)).collect();
    let counts = counts
        .into_iter()
        .map(|(b, n)| (b, n, ctx.t(&format!("bucket-{}", b.code()))))
        .collect();
    Ok(DeadlinesPage {
        ctx,
        has_htmx: super::assets::has_htmx(),
        counts,
        bucket,
        rows,
        page,
        more,
    })
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeadlineCounts {
    pub breached: u64,
    pub at_risk: u64,
    pub upcoming: u64,
    pub paused: u64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeadlineList {
    pub counts: DeadlineCounts,
    pub status: Bucket,
    pub items: Vec<Deadline>,
    /// Pass as `offset` for the next page (absent on the last page).
    pub next_offset: Option<u64>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApiListQuery {
    /// breached (default), at_risk, upcoming or paused
    #[serde(default)]
    status: Option<String>,
    /// Only one app's deadlines (`perizinan`).
    #[serde(default)]
    app: Option<String>,
    /// Deadlines a page: 1 to 500 (default 50; larger is read as 500).
    #[serde(default)]
    limit: Option<u64>,
    /// How many to skip: the `next_offset` of the page before.
    #[serde(default)]
    offset: Option<u64>,
}

/// Open deadlines of the city, soonest due first, for the command center and other clients.
#[utoipa::path(get, path = "/api/v1/deadlines", tag = "deadlines",
    params(ApiListQuery),
    responses((status = 200, body = DeadlineList), (status = 400, description = "status_invalid"), (status = 401), (status = 403)),
    security(("bearer" = [])))]
pub async fn deadlines_api(
    State(st): State<AppState>,
    r: Reader,
    Params(q): Params<ApiListQuery>,
) -> AppResult<Json<DeadlineList>> {
    let bucket = match q.status.as_deref() {
        None | Some("") => Bucket::Breached,
        Some(s) => Bucket::parse(s).ok_or(AppError::BadRequest("status_invalid"))?,
    };
    // The document says int64, as SQL holds them: larger ones are refused, not read as a page.
    if [q.limit, q.offset]
        .into_iter()
        .flatten()
        .any(|n| n > i64::MAX as u64)
    {
        return Err(AppError::BadRequest("query_invalid"));
    }
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let offset = q.offset.unwrap_or(0);
    let now = st.notifier.now();
    let counts = deadlines::counts(&st.db, &r.ctx.city, now).await?;
    let n = |b: Bucket| {
        counts
            .iter()
            .find(|(x, _)| *x == b)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    };
    let mut items = deadlines::overview(
        &st.db,
        &r.ctx.city,
        bucket,
        q.app.as_deref(),
        now,
        limit + 1,
        offset,
    )
    .await?;
    let next_offset = (items.len() as u64 > limit).then_some(offset.saturating_add(limit));
    items.truncate(limit as usize);
    Ok(Json(DeadlineList {
        counts: DeadlineCounts {
            breached: n(Bucket::Breached),
            at_risk: n(Bucket::AtRisk),
            upcoming: n(Bucket::Upcoming),
            paused: n(Bucket::Paused),
        },
        status: bucket,
        items,
        next_offset,
    }))
}

#[derive(Template, WebTemplate)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    ctx: Ctx,
    has_htmx: bool,
    items: Vec<(notify::InApp, String)>,
}

/// `/notifikasi`: the bell's list.
pub async fn notifications_page(
    State(st): State<AppState>,
    s: SignedIn,
) -> AppResult<impl IntoResponse> {
    let items = notify::inbox(&st.db, &s.ctx.city.code, s.user.id, 100)
        .await?
        .into_iter()
        .map(|n| {
            let when = format::datetime_short(n.created_at, s.ctx.city.tz, s.ctx.lang);
            (n, when)
        })
        .collect();
    Ok(NotificationsPage {
        ctx: s.ctx,
        has_htmx: super::assets::has_htmx(),
        items,
    })
}

pub async fn notifications_read(State(st): State<AppState>, s: SignedIn) -> AppResult<Response> {
    notify::mark_all_read(
        &st.db,
        &s.ctx.city.code,
        s.user.id,
        to_us(st.notifier.now()),
    )
    .await?;
    Ok(s.ctx.redirect_with("/notifikasi", "notifications-marked"))
}

/// The bell for API clients: unread count and the latest notices.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications",
    responses((status = 200, body = Vec<notify::InApp>), (status = 401)),
    security(("bearer" = [])))]
pub async fn notifications_api(
    State(st): State<AppState>,
    s: SignedIn,
) -> AppResult<Json<Vec<notify::InApp>>> {
    Ok(Json(
        notify::inbox(&st.db, &s.ctx.city.code, s.user.id, 100).await?,
    ))
}

#[derive(Deserialize, Default)]
pub struct PrefsInput {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    sms: Option<String>,
    #[serde(default)]
    in_app: Option<String>,
}

pub async fn prefs_save(
    State(st): State<AppState>,
    s: SignedIn,
    AxForm(input): AxForm<PrefsInput>,
) -> AppResult<Response> {
    notify::save_prefs(
        &st.db,
        &s.user,
        Prefs {
            email: input.email.is_some(),
            sms: input.sms.is_some(),
            in_app: input.in_app.is_some(),
        },
    )
    .await?;
    Ok(s.ctx.redirect_with("/akun", "prefs-saved"))
}

/// `/l/{code}`: a short link from an SMS.
pub async fn short_link(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(code): Path<String>,
) -> AppResult<Response> {
    let path = notify::short_target(&st.db, &ctx.city, &code)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Redirect::to(&ctx.url(&path)).into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "notify_admin.html")]
struct NotifyAdminPage {
    ctx: Ctx,
    has_htmx: bool,
    email: String,
    sms: bool,
    public_url: String,
    max_attempts: i32,
    webhook: Option<notify::WebhookView>,
    form: Form,
    counts: Vec<(&'static str, u64, String)>,
}

async fn notify_admin_page(st: &AppState, ctx: Ctx, form: Form) -> AppResult<NotifyAdminPage> {
    let webhook = notify::webhook_of(&st.db, &ctx.city).await?;
    let counts = notify::outbox_counts(&st.db, &ctx.city)
        .await?
        .into_iter()
        .map(|(s, n)| (s, n, ctx.t(&format!("outbox-{s}"))))
        .collect();
    let mut form = form;
    if form.v("url").is_empty()
        && let Some(w) = &webhook
    {
        form.set("url", &w.url);
        if w.active {
            form.set("active", "1");
        }
    }
    Ok(NotifyAdminPage {
        email: st.notifier.email_transport(),
        sms: st.notifier.sms_configured(),
        public_url: st.notifier.base_url(&ctx.city),
        max_attempts: st.notifier.settings().max_attempts,
        webhook,
        form,
        counts,
        has_htmx: super::assets::has_htmx(),
        ctx,
    })
}

/// `/admin/notifikasi`: channels, webhook, and the way to the calendar, kinds, wording, outbox.
pub async fn notify_admin(State(st): State<AppState>, a: Admin) -> AppResult<impl IntoResponse> {
    notify_admin_page(&st, a.ctx, Form::new()).await
}

pub async fn webhook_save(
    State(st): State<AppState>,
    a: Admin,
    AxForm(input): AxForm<WebhookInput>,
) -> AppResult<Response> {
    match notify::save_webhook(&st.db, &a.ctx.city, &a.user.actor(), &input).await {
        Ok(()) => Ok(a.ctx.redirect_with("/admin/notifikasi", "saved")),
        Err(AppError::Invalid(errs)) => {
            let mut form = Form::new().with_errors(&errs, a.ctx.lang);
            form.set("url", &input.url);
            if input.active.is_some() {
                form.set("active", "1");
            }
            Ok(invalid(notify_admin_page(&st, a.ctx, form).await?))
        }
        Err(e) => Err(e),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "calendar.html")]
struct CalendarPage {
    ctx: Ctx,
    has_htmx: bool,
    form: Form,
    import_form: Form,
    import_errors: Vec<String>,
    holidays: Vec<(String, String, String, String)>,
    workdays: String,
}

async fn calendar_page(
    st: &AppState,
    ctx: Ctx,
    form: Option<Form>,
    import_form: Form,
    import_errors: Vec<String>,
) -> AppResult<CalendarPage> {
    let s = calendar::settings(st.db.conn(), &ctx.city).await?;
    let form = form.unwrap_or_else(|| {
        let mut f = Form::new();
        f.set("open", &s.open_hhmm());
        f.set("close", &s.close_hhmm());
        if s.saturday_work {
            f.set("saturday_work", "1");
        }
        f
    });
    let holidays = calendar::holidays(st.db.conn(), &ctx.city)
        .await?
        .into_iter()
        .map(|h| {
            let noon = h
                .date
                .and_hms_opt(12, 0, 0)
                .map(|d| d.and_utc())
                .unwrap_or_default();
            (
                h.date.format("%Y-%m-%d").to_string(),
                format::date_long(noon, chrono_tz::UTC, ctx.lang),
                ctx.t(&format!("holiday-{}", h.kind.code())),
                h.name,
            )
        })
        .collect();
    let workdays = ctx.t(if s.saturday_work {
        "calendar-mon-sat"
    } else {
        "calendar-mon-fri"
    });
    Ok(CalendarPage {
        ctx,
        has_htmx: super::assets::has_htmx(),
        form,
        import_form,
        import_errors,
        holidays,
        workdays,
    })
}

/// `/admin/kalender`
pub async fn calendar_show(State(st): State<AppState>, a: Admin) -> AppResult<impl IntoResponse> {
    calendar_page(&st, a.ctx, None, Form::new(), vec![]).await
}

pub async fn calendar_settings(
    State(st): State<AppState>,
    a: Admin,
    AxForm(input): AxForm<SettingsInput>,
) -> AppResult<Response> {
    match calendar::save_settings(&st.db, &a.ctx.city, &a.user.actor(), &input).await {
        Ok(_) => Ok(a.ctx.redirect_with("/admin/kalender", "saved")),
        Err(AppError::Invalid(errs)) => {
            let mut form = Form::new().with_errors(&errs, a.ctx.lang);
            form.set("open", &input.open);
            form.set("close", &input.close);
            if input.saturday_work.is_some() {
                form.set("saturday_work", "1");
            }
            Ok(invalid(
                calendar_page(&st, a.ctx, Some(form), Form::new(), vec![]).await?,
            ))
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize, Default)]
pub struct ImportInput {
    #[serde(default)]
    csv: String,
}

pub async fn calendar_import(
    State(st): State<AppState>,
    a: Admin,
    AxForm(input): AxForm<ImportInput>,
) -> AppResult<Response> {
    match calendar::import_csv(&st.db, &a.ctx.city, &a.user.actor(), &input.csv).await {
        Ok(r) => {
            let msg = crate::i18n::t_args(
                a.ctx.lang,
                "calendar-imported",
                &[
                    ("added", r.added.to_string()),
                    ("updated", r.updated.to_string()),
                ],
            );
            Ok(a.ctx.redirect_with_text("/admin/kalender", &msg))
        }
        Err(ImportError::Rows(rows)) => {
            let lang = a.ctx.lang;
            let lines: Vec<String> = rows
                .iter()
                .map(|e| {
                    crate::i18n::t_args(
                        lang,
                        "calendar-line-error",
                        &[
                            ("line", e.line.to_string()),
                            ("message", crate::i18n::t(lang, &format!("err-{}", e.key))),
                        ],
                    )
                })
                .collect();
            tracing::info!(city = %a.ctx.city.code, errors = lines.len(), "holiday CSV refused");
            let mut errs = FieldErrors::default();
            errs.push(FieldError::new("csv", "csv_rows").with_arg("count", rows.len()));
            let mut import_form = Form::new().with_errors(&errs, lang);
            import_form.set("csv", &input.csv);
            Ok(invalid(
                calendar_page(&st, a.ctx, None, import_form, lines).await?,
            ))
        }
        Err(ImportError::App(e)) => Err(e),
    }
}

/// The holidays as CSV, the same shape the import reads.
pub async fn calendar_csv(State(st): State<AppState>, a: Admin) -> AppResult<Response> {
    let hs = calendar::holidays(st.db.conn(), &a.ctx.city).await?;
    let csv = kernel::calendar::holidays_to_csv(&hs);
    Ok(super::pages::csv_download(
        &format!("hari-libur-{}.csv", a.ctx.city.code.replace('.', "")),
        csv,
    ))
}

pub async fn holiday_delete(
    State(st): State<AppState>,
    a: Admin,
    Path(date): Path<String>,
) -> AppResult<Response> {
    calendar::delete_holiday(&st.db, &a.ctx.city, &a.user.actor(), &date).await?;
    Ok(a.ctx.redirect_with("/admin/kalender", "deleted"))
}

#[derive(Template, WebTemplate)]
#[template(path = "policies.html")]
struct PoliciesPage {
    ctx: Ctx,
    has_htmx: bool,
    policies: Vec<(deadlines::Policy, String, Vec<String>, String)>,
}

fn budget_text(ctx: &Ctx, b: kernel::sla::Budget) -> String {
    match b {
        kernel::sla::Budget::WorkingDays(n) => ctx.ta("budget-days", "n", &n.to_string()),
        kernel::sla::Budget::WorkingHours(n) => ctx.ta("budget-hours", "n", &n.to_string()),
    }
}

fn rung_text(ctx: &Ctx, r: &kernel::sla::Rung) -> String {
    use kernel::sla::Trigger;
    let when = match r.trigger {
        Trigger::Warn => ctx.t("rung-warn"),
        Trigger::Breach => ctx.t("rung-breach"),
        Trigger::AfterBreach(h) => ctx.ta("rung-after", "h", &h.to_string()),
    };
    let who: Vec<String> = r
        .notify
        .iter()
        .map(|w| {
            ctx.t(&format!(
                "recipient-{}",
                serde_json::to_value(w)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            ))
        })
        .collect();
    let how: Vec<String> = r
        .channels
        .iter()
        .map(|c| {
            ctx.t(&format!(
                "channel-{}",
                serde_json::to_value(c)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            ))
        })
        .collect();
    let mut s = format!("{when}: {} ({})", who.join(", "), how.join(", "));
    if r.repeat_times > 0 {
        s.push_str(&format!(
            " {}",
            crate::i18n::t_args(
                ctx.lang,
                "rung-repeat",
                &[
                    ("times", r.repeat_times.to_string()),
                    ("h", r.repeat_every_hours.to_string())
                ]
            )
        ));
    }
    s
}

/// `/admin/tenggat`: the kinds of deadline and their ladders.
pub async fn policies_list(State(st): State<AppState>, a: Admin) -> AppResult<impl IntoResponse> {
    let ctx = a.ctx;
    let policies = deadlines::policies(&st.db, &ctx.city)
        .await?
        .into_iter()
        .map(|p| {
            let b = budget_text(&ctx, p.budget);
            let rungs = p.ladder.iter().map(|r| rung_text(&ctx, r)).collect();
            let label = p.label(ctx.lang).to_string();
            (p, b, rungs, label)
        })
        .collect();
    Ok(PoliciesPage {
        ctx,
        has_htmx: super::assets::has_htmx(),
        policies,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "policy_form.html")]
struct PolicyFormPage {
    ctx: Ctx,
    has_htmx: bool,
    kind: String,
    form: Form,
    editing: bool,
}

pub async fn policy_edit(
    State(st): State<AppState>,
    a: Admin,
    Path(kind): Path<String>,
) -> AppResult<impl IntoResponse> {
    let mut form = Form::new();
    let editing = match deadlines::policy(st.db.conn(), &a.ctx.city, &kind).await? {
        Some(p) => {
            form.set("label_id", &p.label_id);
            form.set("label_en", &p.label_en);
            let (unit, n) = match p.budget {
                kernel::sla::Budget::WorkingDays(n) => ("working_days", n),
                kernel::sla::Budget::WorkingHours(n) => ("working_hours", n),
            };
            form.set("budget_unit", unit);
            form.set("budget", &n.to_string());
            form.set("warn_pct", &p.warn_pct.to_string());
            form.set("ladder", &p.ladder_json);
            true
        }
        None if kind == "baru" => {
            form.set("warn_pct", "75");
            form.set("budget_unit", "working_days");
            form.set(
                "ladder",
                &serde_json::to_string_pretty(&kernel::sla::default_ladder()).unwrap_or_default(),
            );
            false
        }
        None => return Err(AppError::NotFound),
    };
    Ok(PolicyFormPage {
        ctx: a.ctx,
        has_htmx: super::assets::has_htmx(),
        kind: if editing { kind } else { String::new() },
        form,
        editing,
    })
}

#[derive(Deserialize, Serialize, Default)]
pub struct PolicyPost {
    #[serde(default)]
    kind: String,
    #[serde(flatten)]
    input: PolicyInput,
}

pub async fn policy_save(
    State(st): State<AppState>,
    a: Admin,
    Path(kind): Path<String>,
    AxForm(post): AxForm<PolicyPost>,
) -> AppResult<Response> {
    let editing = kind != "baru";
    let kind = if editing {
        kind
    } else {
        post.kind.trim().to_string()
    };
    if editing
        && deadlines::policy(st.db.conn(), &a.ctx.city, &kind)
            .await?
            .is_none()
    {
        return Err(AppError::NotFound);
    }
    if !editing
        && deadlines::policy(st.db.conn(), &a.ctx.city, &kind)
            .await?
            .is_some()
    {
        let mut errs = FieldErrors::default();
        errs.add("kind", "kind_taken");
        let form = Form::with_values(&post).with_errors(&errs, a.ctx.lang);
        return Ok(invalid(PolicyFormPage {
            ctx: a.ctx,
            has_htmx: super::assets::has_htmx(),
            kind: String::new(),
            form,
            editing,
        }));
    }
    match deadlines::save_policy(&st.db, &a.ctx.city, &a.user.actor(), &kind, &post.input).await {
        Ok(_) => Ok(a.ctx.redirect_with("/admin/tenggat", "saved")),
        Err(AppError::Invalid(errs)) => {
            tracing::info!(city = %a.ctx.city.code, kind = %kind, "deadline kind refused");
            let mut form = Form::with_values(&post.input).with_errors(&errs, a.ctx.lang);
            form.set("kind", &kind);
            Ok(invalid(PolicyFormPage {
                ctx: a.ctx,
                has_htmx: super::assets::has_htmx(),
                kind: if editing { kind } else { String::new() },
                form,
                editing,
            }))
        }
        Err(e) => Err(e),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "message_templates.html")]
struct TemplatesPage {
    ctx: Ctx,
    has_htmx: bool,
    items: Vec<(templates::Template, String)>,
}

/// `/admin/templat`: the wording of every message, in both languages.
pub async fn templates_list(State(st): State<AppState>, a: Admin) -> AppResult<impl IntoResponse> {
    let ctx = a.ctx;
    let items = templates::list(&st.db, &ctx.city)
        .await?
        .into_iter()
        .map(|t| {
            let about = templates::builtin(&t.key)
                .map(|b| {
                    if ctx.lang == Lang::Id {
                        b.about_id
                    } else {
                        b.about_en
                    }
                })
                .unwrap_or_default()
                .to_string();
            (t, about)
        })
        .collect();
    Ok(TemplatesPage {
        ctx,
        has_htmx: super::assets::has_htmx(),
        items,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "template_form.html")]
struct TemplateFormPage {
    ctx: Ctx,
    has_htmx: bool,
    key: String,
    lang: String,
    about: String,
    placeholders: String,
    custom: bool,
    form: Form,
}

fn template_lang(s: &str) -> AppResult<Lang> {
    Lang::parse(s).ok_or(AppError::NotFound)
}

fn template_form_page(
    ctx: Ctx,
    key: &str,
    lang: Lang,
    custom: bool,
    form: Form,
) -> AppResult<TemplateFormPage> {
    let b = templates::builtin(key).ok_or(AppError::NotFound)?;
    Ok(TemplateFormPage {
        about: if ctx.lang == Lang::Id {
            b.about_id
        } else {
            b.about_en
        }
        .to_string(),
        placeholders: b
            .placeholders
            .iter()
            .map(|p| format!("{{{p}}}"))
            .collect::<Vec<_>>()
            .join(" "),
        ctx,
        has_htmx: super::assets::has_htmx(),
        key: key.to_string(),
        lang: lang.code().to_string(),
        custom,
        form,
    })
}

pub async fn template_edit(
    State(st): State<AppState>,
    a: Admin,
    Path((key, lang)): Path<(String, String)>,
) -> AppResult<impl IntoResponse> {
    let lang = template_lang(&lang)?;
    let t = templates::get(st.db.conn(), &a.ctx.city, &key, lang).await?;
    let mut form = Form::new();
    form.set("subject", &t.subject);
    form.set("body", &t.body);
    form.set("sms", &t.sms);
    template_form_page(a.ctx, &key, lang, t.custom, form)
}

pub async fn template_save(
    State(st): State<AppState>,
    a: Admin,
    Path((key, lang)): Path<(String, String)>,
    AxForm(input): AxForm<templates::TemplateInput>,
) -> AppResult<Response> {
    let lang = template_lang(&lang)?;
    match templates::save(&st.db, &a.ctx.city, &a.user.actor(), &key, lang, &input).await {
        Ok(_) => Ok(a.ctx.redirect_with("/admin/templat", "saved")),
        Err(AppError::Invalid(errs)) => {
            let mut form = Form::new().with_errors(&errs, a.ctx.lang);
            form.set("subject", &input.subject);
            form.set("body", &input.body);
            form.set("sms", &input.sms);
            let custom = templates::get(st.db.conn(), &a.ctx.city, &key, lang)
                .await?
                .custom;
            Ok(invalid(template_form_page(
                a.ctx, &key, lang, custom, form,
            )?))
        }
        Err(e) => Err(e),
    }
}

pub async fn template_reset(
    State(st): State<AppState>,
    a: Admin,
    Path((key, lang)): Path<(String, String)>,
) -> AppResult<Response> {
    let lang = template_lang(&lang)?;
    templates::reset(&st.db, &a.ctx.city, &a.user.actor(), &key, lang).await?;
    Ok(a.ctx.redirect_with("/admin/templat", "saved"))
}

#[derive(Template, WebTemplate)]
#[template(path = "outbox.html")]
struct OutboxPage {
    ctx: Ctx,
    has_htmx: bool,
    status: String,
    counts: Vec<(&'static str, u64, String)>,
    items: Vec<(OutboxItem, String, String, String)>,
    page: u64,
    more: bool,
}

/// `/admin/kotak-keluar`: every message, its state and last error, with a retry button.
pub async fn outbox_page(
    State(st): State<AppState>,
    a: Admin,
    Params(q): Params<ListQuery>,
) -> AppResult<impl IntoResponse> {
    let ctx = a.ctx;
    let status = q
        .status
        .filter(|s| notify::STATUSES.contains(&s.as_str()))
        .unwrap_or_default();
    let page = q.hal.unwrap_or(1).max(1);
    let mut items = notify::outbox_list(
        &st.db,
        &ctx.city,
        Some(status.as_str()).filter(|s| !s.is_empty()),
        PAGE + 1,
        (page - 1).saturating_mul(PAGE),
    )
    .await?;
    let more = items.len() as u64 > PAGE;
    items.truncate(PAGE as usize);
    let tz = ctx.city.tz;
    let items = items
        .into_iter()
        .map(|i| {
            let when = format::datetime_short(i.created_at, tz, ctx.lang);
            let label = ctx.t(&format!("outbox-{}", i.status));
            let err = match i.last_error.as_deref() {
                Some(e) if i.status == "skipped" => ctx.t(&format!("skip-{e}")),
                Some(e) => e.to_string(),
                None => String::new(),
            };
            (i, when, label, err)
        })
        .collect();
    let counts = notify::outbox_counts(&st.db, &ctx.city)
        .await?
        .into_iter()
        .map(|(s, n)| (s, n, ctx.t(&format!("outbox-{s}"))))
        .collect();
    Ok(OutboxPage {
        ctx,
        has_htmx: super::assets::has_htmx(),
        status,
        counts,
        items,
        page,
        more,
    })
}

pub async fn outbox_retry(
    State(st): State<AppState>,
    a: Admin,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    notify::retry(
        &st.db,
        &a.ctx.city,
        &a.user.actor(),
        id,
        to_us(st.notifier.now()),
    )
    .await?;
    Ok(a.ctx.redirect_with("/admin/kotak-keluar", "outbox-retried"))
}
