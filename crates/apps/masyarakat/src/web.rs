//! e-Masyarakat's pages: the citizen's report form (phone first), tracking page and own list;
//! the staff inbox and report page with every action of the state machine.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use uuid::Uuid;

use crate::domain::{self, ClosureKind, Privacy, State as St, Viewer};
use crate::store::{self, ActionInput, Category, InboxFilter, Report, ReportInput};
use kernel::format;
use kernel::{FieldErrors, Lang, roles::Role};
use platform::agencies::{self, Agency, AgencyFilter};
use platform::error::{AppError, AppResult};
use platform::web::AppState;
use platform::web::auth::{SignedIn, Staff};
use platform::web::context::Ctx;
use platform::web::form::Form;

fn has_htmx() -> bool {
    platform::web::assets::has_htmx()
}

fn state_label(ctx: &Ctx, s: St) -> String {
    ctx.t(&format!("mas-state-{}", s.code()))
}

/// A report as a row in lists.
pub struct Row {
    pub r: Report,
    pub state: String,
    pub category: String,
    pub when: String,
    pub place: String,
}

fn place_of(ctx: &Ctx, r: &Report) -> String {
    let kel = r
        .kelurahan_code
        .as_deref()
        .and_then(|k| ctx.city.villages().into_iter().find(|v| v.code == k))
        .map(|v| format!("Kel. {}", v.name));
    match (kel, r.address.is_empty()) {
        (Some(k), false) => format!("{}, {k}", r.address),
        (Some(k), true) => k,
        (None, false) => r.address.clone(),
        (None, true) => match (r.lat, r.lon) {
            (Some(a), Some(b)) => format!("{a:.5}, {b:.5}"),
            _ => String::new(),
        },
    }
}

fn rows(ctx: &Ctx, cats: &[Category], list: Vec<Report>) -> Vec<Row> {
    list.into_iter()
        .map(|r| Row {
            state: state_label(ctx, r.state),
            category: cats
                .iter()
                .find(|c| c.id == r.category_id)
                .map(|c| c.name(ctx.lang).to_string())
                .unwrap_or_default(),
            when: format::datetime_short(r.created_at, ctx.city.tz, ctx.lang),
            place: place_of(ctx, &r),
            r,
        })
        .collect()
}

#[derive(Template, WebTemplate)]
#[template(path = "lapor.html")]
struct ReportForm {
    ctx: Ctx,
    has_htmx: bool,
    form: Form,
    categories: Vec<Category>,
    kelurahan: Vec<(String, String)>,
    photos: Vec<Uuid>,
}

fn kelurahan_options(ctx: &Ctx) -> Vec<(String, String)> {
    let villages = ctx.city.villages();
    let mut out = Vec::new();
    for d in ctx.city.districts() {
        for v in villages.iter().filter(|v| v.parent == d.code) {
            out.push((v.code.to_string(), format!("{} (Kec. {})", v.name, d.name)));
        }
    }
    out
}

async fn report_form(
    st: &AppState,
    ctx: Ctx,
    form: Form,
    photos: Vec<Uuid>,
) -> AppResult<ReportForm> {
    let categories = store::categories(st.db.conn(), &ctx.city, true).await?;
    Ok(ReportForm {
        kelurahan: kelurahan_options(&ctx),
        has_htmx: has_htmx(),
        ctx,
        form,
        categories,
        photos,
    })
}

/// `/lapor`: the report form.
pub async fn new_report(State(st): State<AppState>, s: SignedIn) -> AppResult<impl IntoResponse> {
    let mut form = Form::new();
    form.set("privacy", "public");
    report_form(&st, s.ctx, form, vec![]).await
}

/// Reads a multipart form: text fields, and images saved at once (owned by the sender).
async fn read_multipart(
    st: &AppState,
    s: &SignedIn,
    mut mp: Multipart,
    file_fields: &[&str],
) -> AppResult<(
    std::collections::BTreeMap<String, Vec<String>>,
    Vec<(String, Uuid)>,
    FieldErrors,
)> {
    let mut fields: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut files = Vec::new();
    let mut errs = FieldErrors::default();
    while let Some(field) = mp
        .next_field()
        .await
        .map_err(|_| AppError::BadRequest("multipart_invalid"))?
    {
        let name = field.name().unwrap_or_default().to_string();
        if file_fields.contains(&name.as_str()) {
            let has_name = field.file_name().is_some_and(|n| !n.is_empty());
            let bytes = field.bytes().await.map_err(|e| {
                if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    AppError::PayloadTooLarge
                } else {
                    AppError::BadRequest("multipart_invalid")
                }
            })?;
            if bytes.is_empty() && !has_name {
                continue;
            }
            match st
                .files
                .save_image(&st.db, &s.ctx.city, &s.user.actor(), bytes)
                .await
            {
                Ok(f) => files.push((name, f.id)),
                Err(AppError::Invalid(e)) => {
                    for fe in e.0 {
                        errs.add(
                            if name == "photo" {
                                "photos"
                            } else {
                                "after_photo"
                            },
                            fe.key,
                        );
                    }
                }
                Err(e) => return Err(e),
            }
        } else {
            let text = field
                .text()
                .await
                .map_err(|_| AppError::BadRequest("multipart_invalid"))?;
            fields.entry(name).or_default().push(text);
        }
    }
    Ok((fields, files, errs))
}

fn one(fields: &std::collections::BTreeMap<String, Vec<String>>, k: &str) -> String {
    fields
        .get(k)
        .and_then(|v| v.first())
        .cloned()
        .unwrap_or_default()
}

pub async fn submit_report(
    State(st): State<AppState>,
    s: SignedIn,
    mp: Multipart,
) -> AppResult<Response> {
    let (fields, files, file_errs) = read_multipart(&st, &s, mp, &["photo"]).await?;
    // Photos already saved in an earlier try are kept (never asked twice).
    let mut photos: Vec<Uuid> = fields
        .get("photo_id")
        .into_iter()
        .flatten()
        .filter_map(|v| Uuid::parse_str(v).ok())
        .collect();
    photos.extend(files.iter().map(|(_, id)| *id));
    let answers = fields
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("q_")
                .map(|q| (q.to_string(), v.first().cloned().unwrap_or_default()))
        })
        .collect();
    let input = ReportInput {
        category: one(&fields, "category"),
        description: one(&fields, "description"),
        privacy: one(&fields, "privacy"),
        lat: one(&fields, "lat"),
        lon: one(&fields, "lon"),
        kelurahan: one(&fields, "kelurahan"),
        address: one(&fields, "address"),
        answers,
        photos: photos.clone(),
    };
    let result = if file_errs.is_empty() {
        store::submit(
            &st.db,
            &st.notifier,
            &st.files,
            &s.ctx.city,
            &s.user,
            &input,
        )
        .await
    } else {
        Err(AppError::Invalid(file_errs))
    };
    match result {
        Ok(r) => Ok(s
            .ctx
            .redirect_with(&store::public_path(&r.code), "mas-submitted")),
        Err(AppError::Invalid(errs)) => {
            let mut form = Form::new().with_errors(&errs, s.ctx.lang);
            for (k, v) in &fields {
                if k != "photo_id" {
                    form.set(k, v.first().map(String::as_str).unwrap_or(""));
                }
            }
            // Keep only photos that are really the sender's.
            let mut kept = Vec::new();
            for id in photos.into_iter().take(store::MAX_PHOTOS) {
                if st
                    .files
                    .get(&st.db, &s.ctx.city, id)
                    .await?
                    .is_some_and(|f| f.owner_id == Some(s.user.id))
                {
                    kept.push(id);
                }
            }
            let page = report_form(&st, s.ctx, form, kept).await?;
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}

fn viewer_of(ctx: &Ctx, r: &Report) -> Viewer {
    match &ctx.user {
        Some(u) if u.id == r.reporter_id => Viewer::Reporter,
        Some(u) if matches!(u.role, Role::Admin | Role::Operator) || u.role.reads_everything() => {
            Viewer::CityWide
        }
        Some(u)
            if matches!(u.role, Role::Officer | Role::Head)
                && u.agency_id.is_some()
                && u.agency_id == r.agency_id =>
        {
            Viewer::Agency
        }
        _ => Viewer::Public,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "pengaduan.html")]
struct TrackPage {
    ctx: Ctx,
    has_htmx: bool,
    r: Report,
    state: String,
    category: String,
    place: String,
    when: String,
    reporter: Option<String>,
    agency: Option<String>,
    timeline: Vec<(String, String, String)>,
    is_reporter: bool,
    can_support: bool,
    after_photo: Option<Uuid>,
    closure: String,
    estimate: String,
    confirm_due: String,
    form: Form,
}

async fn track_page(st: &AppState, ctx: Ctx, code: &str, form: Form) -> AppResult<TrackPage> {
    let r = store::get_by_code(st.db.conn(), &ctx.city, code)
        .await?
        .ok_or(AppError::NotFound)?;
    let viewer = viewer_of(&ctx, &r);
    if !domain::may_see_report(r.privacy, viewer) {
        return Err(AppError::NotFound);
    }
    let cats = store::categories(st.db.conn(), &ctx.city, false).await?;
    let reporter = if domain::may_see_reporter(r.privacy, viewer) {
        platform::accounts::get(&st.db, &ctx.city, r.reporter_id)
            .await?
            .map(|a| a.full_name)
    } else {
        None
    };
    let agency = match r.agency_id {
        Some(a) => agencies::get(&st.db, &ctx.city, a).await?.map(|a| a.name),
        None => None,
    };
    let tz = ctx.city.tz;
    let timeline = store::timeline(&st.db, &ctx.city, r.id, false)
        .await?
        .into_iter()
        .map(|e| {
            let what = match e.to_state.as_deref().and_then(St::parse) {
                Some(s) if e.kind != "confirm" => state_label(&ctx, s),
                _ => ctx.t(&format!("mas-event-{}", e.kind)),
            };
            (format::datetime_short(e.at, tz, ctx.lang), what, e.note)
        })
        .collect();
    let is_reporter = viewer == Viewer::Reporter;
    let can_support =
        ctx.user.is_some() && !is_reporter && !r.state.is_closed() && viewer != Viewer::Agency;
    Ok(TrackPage {
        state: state_label(&ctx, r.state),
        category: cats
            .iter()
            .find(|c| c.id == r.category_id)
            .map(|c| c.name(ctx.lang).to_string())
            .unwrap_or_default(),
        place: place_of(&ctx, &r),
        when: format::datetime_short(r.created_at, tz, ctx.lang),
        closure: r
            .closure
            .map(|c| ctx.t(&format!("mas-closure-{}", c.code())))
            .unwrap_or_default(),
        estimate: r.estimate_rupiah.map(format::rupiah).unwrap_or_default(),
        confirm_due: r
            .confirm_due_at
            .map(|d| format::date_long(d, tz, ctx.lang))
            .unwrap_or_default(),
        after_photo: r.after_photo,
        reporter,
        agency,
        timeline,
        is_reporter,
        can_support,
        has_htmx: has_htmx(),
        ctx,
        r,
        form,
    })
}

/// `/pengaduan/{code}`: the tracking page (without personal data for the public).
pub async fn track(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(code): Path<String>,
) -> AppResult<impl IntoResponse> {
    track_page(&st, ctx, &code, Form::new()).await
}

/// A photo of a report, to whoever may see the report.
pub async fn report_photo(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((code, file)): Path<(String, Uuid)>,
    Query(q): Query<PhotoQuery>,
) -> AppResult<Response> {
    let r = store::get_by_code(st.db.conn(), &ctx.city, &code)
        .await?
        .ok_or(AppError::NotFound)?;
    if !domain::may_see_report(r.privacy, viewer_of(&ctx, &r))
        || !(r.photos.contains(&file) || r.after_photo == Some(file))
    {
        return Err(AppError::NotFound);
    }
    let f = st
        .files
        .get(&st.db, &ctx.city, file)
        .await?
        .ok_or(AppError::NotFound)?;
    let (path, ct) = if q.kecil.is_some() {
        (f.thumb_path.clone(), "image/jpeg".to_string())
    } else {
        (f.path.clone(), f.content_type.clone())
    };
    let bytes = st.files.read(&path).await?;
    let cache = if r.privacy == Privacy::Confidential {
        "private, max-age=3600"
    } else {
        "public, max-age=86400"
    };
    Ok((
        [
            (header::CONTENT_TYPE, ct),
            (header::CACHE_CONTROL, cache.to_string()),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct PhotoQuery {
    kecil: Option<String>,
}

/// The reporter's answers: confirm, dispute, answer a question.
pub async fn citizen_action(
    State(st): State<AppState>,
    s: SignedIn,
    Path(code): Path<String>,
    axum::extract::Form(input): axum::extract::Form<ActionInput>,
) -> AppResult<Response> {
    match store::act(
        &st.db,
        &st.notifier,
        &st.files,
        &s.ctx.city,
        &s.user,
        &code,
        &input,
    )
    .await
    {
        Ok(r) => Ok(s.ctx.redirect_with(&store::public_path(&r.code), "saved")),
        Err(AppError::Invalid(errs)) => {
            let mut form = Form::new().with_errors(&errs, s.ctx.lang);
            form.set("note", &input.note);
            let page = track_page(&st, s.ctx, &code, form).await?;
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}

/// "Saya juga".
pub async fn support(
    State(st): State<AppState>,
    s: SignedIn,
    Path(code): Path<String>,
) -> AppResult<Response> {
    match store::support(&st.db, &st.notifier, &s.ctx.city, &s.user, &code).await {
        Ok(r) => Ok(s
            .ctx
            .redirect_with(&store::public_path(&r.code), "mas-supported")),
        Err(AppError::Invalid(errs)) => {
            let form = Form::new().with_errors(&errs, s.ctx.lang);
            let page = track_page(&st, s.ctx, &code, form).await?;
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "saya.html")]
struct MinePage {
    ctx: Ctx,
    has_htmx: bool,
    rows: Vec<Row>,
}

/// `/pengaduan/saya`: my reports.
pub async fn mine(State(st): State<AppState>, s: SignedIn) -> AppResult<impl IntoResponse> {
    let list = store::of_reporter(&st.db, &s.ctx.city, s.user.id, 100).await?;
    let cats = store::categories(st.db.conn(), &s.ctx.city, false).await?;
    Ok(MinePage {
        rows: rows(&s.ctx, &cats, list),
        has_htmx: has_htmx(),
        ctx: s.ctx,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "staf_list.html")]
struct InboxPage {
    ctx: Ctx,
    has_htmx: bool,
    rows: Vec<Row>,
    states: Vec<(String, String)>,
    categories: Vec<Category>,
    agencies: Vec<Agency>,
    kelurahan: Vec<(String, String)>,
    q: InboxQuery,
    next: Option<Uuid>,
    city_wide: bool,
}

#[derive(Deserialize, Default, Clone)]
pub struct InboxQuery {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub kategori: String,
    #[serde(default)]
    pub opd: String,
    #[serde(default)]
    pub kelurahan: String,
    #[serde(default)]
    pub terlambat: String,
    #[serde(default)]
    pub sebelum: String,
}

fn is_city_wide(u: &platform::accounts::Account) -> bool {
    matches!(u.role, Role::Admin | Role::Operator) || u.role.reads_everything()
}

/// `/staf/pengaduan`: the inbox. Officers see their agency's; the city desk sees all.
pub async fn inbox(
    State(st): State<AppState>,
    s: Staff,
    Query(q): Query<InboxQuery>,
) -> AppResult<impl IntoResponse> {
    let city_wide = is_city_wide(&s.user);
    let agency = if city_wide {
        Uuid::parse_str(&q.opd).ok()
    } else {
        s.user.agency_id
    };
    if !city_wide && agency.is_none() {
        return Err(AppError::Forbidden);
    }
    let cats = store::categories(st.db.conn(), &s.ctx.city, false).await?;
    let filter = InboxFilter {
        state: St::parse(&q.status),
        agency,
        category: cats.iter().find(|c| c.code == q.kategori).map(|c| c.id),
        kelurahan: Some(q.kelurahan.clone()).filter(|k| !k.is_empty()),
        overdue: !q.terlambat.is_empty(),
    };
    let now = st.notifier.now();
    let mut list = store::inbox(
        &st.db,
        &s.ctx.city,
        &filter,
        now,
        51,
        Uuid::parse_str(&q.sebelum).ok(),
    )
    .await?;
    let next = (list.len() > 50).then(|| list[49].id);
    list.truncate(50);
    let ctx = s.ctx;
    let states = St::ALL
        .iter()
        .map(|x| (x.code().to_string(), state_label(&ctx, *x)))
        .collect();
    let agencies = if city_wide {
        agencies::list(&st.db, &ctx.city, &AgencyFilter::default())
            .await?
            .into_iter()
            .filter(|a| a.active)
            .collect()
    } else {
        vec![]
    };
    Ok(InboxPage {
        rows: rows(&ctx, &cats, list),
        states,
        categories: cats,
        agencies,
        kelurahan: kelurahan_options(&ctx),
        has_htmx: has_htmx(),
        ctx,
        q,
        next,
        city_wide,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "staf_detail.html")]
struct StaffPage {
    ctx: Ctx,
    has_htmx: bool,
    r: Report,
    state: String,
    category: String,
    place: String,
    when: String,
    reporter: String,
    agency: Option<String>,
    /// The suggested agency's id, or empty.
    suggested: String,
    privacy_label: String,
    agencies: Vec<Agency>,
    /// Officers of the agency holding the report, and the one assigned.
    officers: Vec<(String, String)>,
    assignee: String,
    timeline: Vec<(String, String, String, bool, String)>,
    deadlines: Vec<(String, String, String)>,
    actions: Vec<&'static str>,
    closures: Vec<(String, String)>,
    answers: Vec<(String, String)>,
    form: Form,
}

async fn staff_page(
    st: &AppState,
    ctx: Ctx,
    user: &platform::accounts::Account,
    code: &str,
    form: Form,
) -> AppResult<StaffPage> {
    let r = store::get_by_code(st.db.conn(), &ctx.city, code)
        .await?
        .ok_or(AppError::NotFound)?;
    let viewer = viewer_of(&ctx, &r);
    if !matches!(viewer, Viewer::CityWide | Viewer::Agency) {
        return Err(AppError::Forbidden);
    }
    let cats = store::categories(st.db.conn(), &ctx.city, false).await?;
    let cat = cats.iter().find(|c| c.id == r.category_id).cloned();
    let reporter = if domain::may_see_reporter(r.privacy, viewer) {
        platform::accounts::get(&st.db, &ctx.city, r.reporter_id)
            .await?
            .map(|a| {
                let contact = [a.phone.clone(), a.email.clone()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(", ");
                format!("{} ({contact})", a.full_name)
            })
            .unwrap_or_default()
    } else {
        ctx.t("mas-anonymous")
    };
    let agency = match r.agency_id {
        Some(a) => agencies::get(&st.db, &ctx.city, a).await?.map(|a| a.name),
        None => None,
    };
    let suggested = match &cat {
        Some(c) => {
            store::suggest_agency(st.db.conn(), &ctx.city, c, r.kelurahan_code.as_deref()).await?
        }
        None => None,
    };
    let tz = ctx.city.tz;
    let timeline = store::timeline(&st.db, &ctx.city, r.id, true)
        .await?
        .into_iter()
        .map(|e| {
            let what = match e.to_state.as_deref().and_then(St::parse) {
                Some(s) if e.kind != "confirm" => state_label(&ctx, s),
                _ => ctx.t(&format!("mas-event-{}", e.kind)),
            };
            (
                format::datetime_short(e.at, tz, ctx.lang),
                what,
                e.note,
                e.internal,
                e.actor,
            )
        })
        .collect();
    let now = st.notifier.now();
    let deadlines =
        platform::deadlines::of_subject(&st.db, &ctx.city, store::SUBJECT, &r.code, now)
            .await?
            .into_iter()
            .map(|d| {
                (
                    ctx.t(&format!("mas-stage-{}", d.stage)),
                    d.due_at
                        .map(|t| format::datetime_short(t, tz, ctx.lang))
                        .unwrap_or_else(|| "–".into()),
                    ctx.t(&format!("deadline-state-{}", d.state)),
                )
            })
            .collect();
    let role = store::actor_for(&r, user);
    let mut actions = Vec::new();
    for (code, probe) in [
        (
            "dispose",
            domain::Action::Dispose {
                agency: Uuid::nil(),
            },
        ),
        (
            "hold",
            domain::Action::Hold {
                question: "x".into(),
            },
        ),
        ("answer", domain::Action::Answer { text: "x".into() }),
        ("start", domain::Action::Start),
        ("schedule", domain::Action::Schedule { note: "x".into() }),
        (
            "coordinate",
            domain::Action::Coordinate {
                agency: Uuid::nil(),
            },
        ),
    ] {
        if let Some(role) = role
            && domain::apply(r.state, r.awaiting_confirmation, role, &probe).is_ok()
        {
            actions.push(code);
        }
    }
    let closures: Vec<(String, String)> = ClosureKind::ALL
        .iter()
        .filter(|k| {
            role.is_some_and(|role| {
                let c = domain::Closure {
                    kind: Some(**k),
                    note: "x".into(),
                    after_photo: Some(Uuid::nil()),
                    estimate_rupiah: Some(1),
                    programme: "x".into(),
                    budget_agency: Some(Uuid::nil()),
                    referred_to: "x".into(),
                    duplicate_of: "x".into(),
                };
                domain::apply(
                    r.state,
                    r.awaiting_confirmation,
                    role,
                    &domain::Action::Close(c),
                )
                .is_ok()
            })
        })
        .map(|k| {
            (
                k.code().to_string(),
                ctx.t(&format!("mas-closure-{}", k.code())),
            )
        })
        .collect();
    let answers = cat
        .as_ref()
        .map(|c| {
            c.questions
                .iter()
                .filter_map(|q| {
                    r.answers.get(&q.code).map(|a| {
                        (
                            if ctx.lang == Lang::Id {
                                q.label_id.clone()
                            } else {
                                q.label_en.clone()
                            },
                            a.clone(),
                        )
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let agencies = agencies::list(&st.db, &ctx.city, &AgencyFilter::default())
        .await?
        .into_iter()
        .filter(|a| a.active)
        .collect();
    let officers = match (r.agency_id, r.state.is_closed()) {
        (Some(a), false) => platform::accounts::list(&st.db, &ctx.city, &Default::default(), 500)
            .await?
            .into_iter()
            .filter(|x| {
                x.active && x.agency_id == Some(a) && matches!(x.role, Role::Officer | Role::Head)
            })
            .map(|x| (x.id.to_string(), x.full_name))
            .collect(),
        _ => vec![],
    };
    let assignee = r.assignee_id.map(|a| a.to_string()).unwrap_or_default();
    Ok(StaffPage {
        officers,
        assignee,
        privacy_label: ctx.t(&format!("mas-privacy-{}", r.privacy.code())),
        suggested: suggested.map(|s| s.to_string()).unwrap_or_default(),
        state: state_label(&ctx, r.state),
        category: cat
            .map(|c| c.name(ctx.lang).to_string())
            .unwrap_or_default(),
        place: place_of(&ctx, &r),
        when: format::datetime_short(r.created_at, tz, ctx.lang),
        reporter,
        agency,
        agencies,
        timeline,
        deadlines,
        actions,
        closures,
        answers,
        has_htmx: has_htmx(),
        ctx,
        r,
        form,
    })
}

/// `/staf/pengaduan/{code}`
pub async fn staff_report(
    State(st): State<AppState>,
    s: Staff,
    Path(code): Path<String>,
) -> AppResult<impl IntoResponse> {
    staff_page(&st, s.ctx, &s.user, &code, Form::new()).await
}

/// Any staff action (multipart: closing may carry the after photo).
pub async fn staff_action(
    State(st): State<AppState>,
    s: Staff,
    Path(code): Path<String>,
    mp: Multipart,
) -> AppResult<Response> {
    let signed = SignedIn {
        ctx: s.ctx.clone(),
        user: s.user.clone(),
    };
    let (fields, files, file_errs) =
        read_multipart(&st, &signed, mp, &["after_photo_file"]).await?;
    let mut input = ActionInput {
        action: one(&fields, "action"),
        agency: one(&fields, "agency"),
        note: one(&fields, "note"),
        closure: one(&fields, "closure"),
        after_photo: one(&fields, "after_photo"),
        estimate: one(&fields, "estimate"),
        programme: one(&fields, "programme"),
        budget_agency: one(&fields, "budget_agency"),
        referred_to: one(&fields, "referred_to"),
        duplicate_of: one(&fields, "duplicate_of"),
    };
    if let Some((_, id)) = files.first() {
        input.after_photo = id.to_string();
    }
    let result = if !file_errs.is_empty() {
        Err(AppError::Invalid(file_errs))
    } else if input.action == "assign" {
        match Uuid::parse_str(one(&fields, "assignee").trim()) {
            Ok(officer) => {
                store::assign(&st.db, &st.notifier, &s.ctx.city, &s.user, &code, officer)
                    .await
                    .map(|_| ())
            }
            Err(_) => Err(AppError::invalid("assignee", "assignee_invalid")),
        }
    } else if input.action == "note" {
        store::add_internal_note(
            &st.db,
            &st.notifier,
            &s.ctx.city,
            &s.user,
            &code,
            &input.note,
        )
        .await
        .map(|_| ())
    } else {
        store::act(
            &st.db,
            &st.notifier,
            &st.files,
            &s.ctx.city,
            &s.user,
            &code,
            &input,
        )
        .await
        .map(|_| ())
    };
    match result {
        Ok(()) => Ok(s
            .ctx
            .redirect_with(&format!("/staf/pengaduan/{}", code.to_uppercase()), "saved")),
        Err(AppError::Invalid(errs)) => {
            let mut form = Form::new().with_errors(&errs, s.ctx.lang);
            for (k, v) in &fields {
                form.set(k, v.first().map(String::as_str).unwrap_or(""));
            }
            if !input.after_photo.is_empty() {
                form.set("after_photo", &input.after_photo);
            }
            let page = staff_page(&st, s.ctx, &s.user, &code, form).await?;
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "open311_keys.html")]
struct KeysPage {
    ctx: Ctx,
    has_htmx: bool,
    keys: Vec<(String, String, String, bool)>,
    secret: Option<String>,
    endpoint: String,
    form: Form,
}

async fn keys_page(
    st: &AppState,
    ctx: Ctx,
    secret: Option<String>,
    form: Form,
) -> AppResult<KeysPage> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let tz = ctx.city.tz;
    let keys = crate::entity::api_key::Entity::find()
        .filter(crate::entity::api_key::Column::CityCode.eq(&ctx.city.code))
        .order_by_desc(crate::entity::api_key::Column::CreatedUs)
        .all(st.db.conn())
        .await?
        .into_iter()
        .map(|k| {
            (
                k.name,
                k.prefix,
                format::datetime_short(platform::clock::from_us(k.created_us), tz, ctx.lang),
                k.revoked,
            )
        })
        .collect();
    Ok(KeysPage {
        endpoint: format!(
            "{}{}/open311/v2/discovery.json",
            st.notifier.base_url(&ctx.city),
            ctx.base
        ),
        has_htmx: has_htmx(),
        ctx,
        keys,
        secret,
        form,
    })
}

/// `/admin/open311`: API keys for Open311 clients.
pub async fn open311_keys(
    State(st): State<AppState>,
    a: platform::web::auth::Admin,
) -> AppResult<impl IntoResponse> {
    keys_page(&st, a.ctx, None, Form::new()).await
}

#[derive(Deserialize)]
pub struct KeyInput {
    #[serde(default)]
    name: String,
}

pub async fn open311_issue(
    State(st): State<AppState>,
    a: platform::web::auth::Admin,
    axum::extract::Form(input): axum::extract::Form<KeyInput>,
) -> AppResult<Response> {
    match crate::open311::issue_key(&st.db, &a.ctx.city, &a.user.actor(), &input.name).await {
        Ok((_, secret)) => Ok(keys_page(&st, a.ctx, Some(secret), Form::new())
            .await?
            .into_response()),
        Err(AppError::Invalid(errs)) => {
            let form = Form::new().with_errors(&errs, a.ctx.lang);
            Ok((
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                keys_page(&st, a.ctx, None, form).await?,
            )
                .into_response())
        }
        Err(e) => Err(e),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "evaluasi.html")]
struct EvaluationPage {
    ctx: Ctx,
    has_htmx: bool,
    month: String,
    month_label: String,
    by: &'static str,
    by_label: String,
    rows: Vec<(crate::evaluation::Row, String, String, String)>,
    chart: String,
}

#[derive(Deserialize, Default)]
pub struct EvalQuery {
    #[serde(default)]
    bulan: String,
    #[serde(default)]
    per: String,
}

fn parse_month(s: &str) -> Option<(i32, u32)> {
    let (y, m) = s.split_once('-')?;
    let (y, m): (i32, u32) = (y.parse().ok()?, m.parse().ok()?);
    ((2000..=2100).contains(&y) && (1..=12).contains(&m)).then_some((y, m))
}

/// A horizontal bar chart as inline SVG (no script): received, fixed directly, needs budget.
fn bar_chart(rows: &[crate::evaluation::Row], lang: Lang) -> String {
    let rows: Vec<_> = rows
        .iter()
        .filter(|r| !r.group.is_empty())
        .take(12)
        .collect();
    let max = rows.iter().map(|r| r.received).max().unwrap_or(0).max(1);
    let (label_w, bar_w, row_h) = (150.0, 210.0, 34.0);
    let h = row_h * rows.len() as f64 + 30.0;
    let mut s = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {} {h}\" role=\"img\" aria-label=\"{}\">",
        label_w + bar_w + 40.0,
        if lang == Lang::Id {
            "Grafik pengaduan per kelompok"
        } else {
            "Complaints per group"
        }
    );
    for (i, r) in rows.iter().enumerate() {
        let y = i as f64 * row_h;
        let w = |n: u32| f64::from(n) / f64::from(max) * bar_w;
        let esc = |t: &str| t.replace('&', "&amp;").replace('<', "&lt;");
        let name: String = r.group.chars().take(22).collect();
        s.push_str(&format!(
            "<text x=\"0\" y=\"{}\" class=\"lbl\">{}</text>",
            y + 14.0,
            esc(&name)
        ));
        s.push_str(&format!(
            "<rect x=\"{label_w}\" y=\"{}\" width=\"{:.1}\" height=\"10\" class=\"b-recv\"/>",
            y + 4.0,
            w(r.received)
        ));
        s.push_str(&format!(
            "<rect x=\"{label_w}\" y=\"{}\" width=\"{:.1}\" height=\"8\" class=\"b-fixed\"/>",
            y + 16.0,
            w(r.fixed_directly)
        ));
        s.push_str(&format!(
            "<rect x=\"{:.1}\" y=\"{}\" width=\"{:.1}\" height=\"8\" class=\"b-budget\"/>",
            label_w + w(r.fixed_directly),
            y + 16.0,
            w(r.needs_budget)
        ));
        s.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{}\" class=\"num\">{}</text>",
            label_w + w(r.received) + 4.0,
            y + 13.0,
            r.received
        ));
    }
    let (a, b, c) = if lang == Lang::Id {
        ("Diterima", "Diperbaiki langsung", "Perlu anggaran")
    } else {
        ("Received", "Fixed directly", "Needs budget")
    };
    let ly = h - 10.0;
    s.push_str(&format!(
        "<rect x=\"0\" y=\"{}\" width=\"10\" height=\"10\" class=\"b-recv\"/><text x=\"14\" y=\"{ly}\" class=\"lbl\">{a}</text><rect x=\"110\" y=\"{}\" width=\"10\" height=\"10\" class=\"b-fixed\"/><text x=\"124\" y=\"{ly}\" class=\"lbl\">{b}</text><rect x=\"280\" y=\"{}\" width=\"10\" height=\"10\" class=\"b-budget\"/><text x=\"294\" y=\"{ly}\" class=\"lbl\">{c}</text></svg>",
        ly - 9.0,
        ly - 9.0,
        ly - 9.0
    ));
    s
}

async fn evaluation_rows(
    st: &AppState,
    ctx: &Ctx,
    q: &EvalQuery,
) -> AppResult<(
    (i32, u32),
    crate::evaluation::By,
    Vec<crate::evaluation::Row>,
)> {
    let now = st.notifier.now();
    let month =
        parse_month(&q.bulan).unwrap_or_else(|| crate::evaluation::month_of(&ctx.city, now));
    let by = crate::evaluation::By::parse(&q.per);
    let rows =
        crate::evaluation::monthly(&st.db, &ctx.city, month.0, month.1, by, ctx.lang, now).await?;
    Ok((month, by, rows))
}

/// `/evaluasi`: the monthly evaluation for the mayor and the DPRD.
pub async fn evaluation(
    State(st): State<AppState>,
    r: platform::web::auth::Reader,
    Query(q): Query<EvalQuery>,
) -> AppResult<impl IntoResponse> {
    let ctx = r.ctx;
    let ((y, m), by, rows) = evaluation_rows(&st, &ctx, &q).await?;
    let chart = bar_chart(&rows[..rows.len().saturating_sub(1)], ctx.lang);
    let first = crate::evaluation::month_bounds(&ctx.city, y, m)
        .map(|(a, _)| a)
        .unwrap_or_default();
    let month_label = {
        let long = format::date_long(first, ctx.city.tz, ctx.lang);
        long.split_once(", ")
            .map(|(_, d)| d.split_once(' ').map(|x| x.1).unwrap_or(d).to_string())
            .unwrap_or(long)
    };
    let rows = rows
        .into_iter()
        .map(|r| {
            let budget = format::rupiah(r.needs_budget_rupiah);
            let median = r
                .median_days_to_fix
                .map(|d| format!("{d:.1}"))
                .unwrap_or_else(|| "–".into());
            let sat = r
                .satisfaction_pct()
                .map(|p| format!("{p}%"))
                .unwrap_or_else(|| "–".into());
            (r, budget, median, sat)
        })
        .collect();
    Ok(EvaluationPage {
        month: format!("{y:04}-{m:02}"),
        month_label,
        by: by.code(),
        by_label: ctx.t(&format!("mas-eval-by-{}", by.code())),
        rows,
        chart,
        has_htmx: has_htmx(),
        ctx,
    })
}

pub async fn evaluation_csv(
    State(st): State<AppState>,
    r: platform::web::auth::Reader,
    Query(q): Query<EvalQuery>,
) -> AppResult<Response> {
    let ((y, m), by, rows) = evaluation_rows(&st, &r.ctx, &q).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"evaluasi-pengaduan-{y:04}-{m:02}-{}.csv\"",
                    by.code()
                ),
            ),
        ],
        crate::evaluation::to_csv(&rows),
    )
        .into_response())
}
