//! e-Masyarakat's pages: the citizen's report form (phone first), tracking page and own list;
//! the staff inbox and report page with every action of the state machine.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Multipart, Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use platform::web::api::Params;
use serde::Deserialize;
use uuid::Uuid;

use crate::domain::{self, ClosureKind, Privacy, State as St, Viewer};
use crate::store::{self, ActionInput, Category, InboxFilter, Report};
use kernel::format;
use kernel::{FieldErrors, Lang, roles::Role};
use platform::agencies::{self, Agency, AgencyFilter};
use platform::error::{AppError, AppResult};
use platform::web::AppState;
use platform::web::auth::{SignedIn, Staff};
use platform::web::context::Ctx;
use platform::web::form::Form;
use platform::web::map::{MapPoint, MapView};

pub mod admin;
mod lapor;

pub use lapor::{new_report, submit_report};

fn has_htmx() -> bool {
    platform::web::assets::has_htmx()
}

fn state_label(ctx: &Ctx, s: St) -> String {
    ctx.t(&format!("mas-state-{}", s.code()))
}

/// A timeline line's headline: the state it led to, else what happened.
fn event_label(ctx: &Ctx, e: &store::TimelineEntry) -> String {
    match e.to_state.as_deref().and_then(St::parse) {
        Some(s) if e.kind != "confirm" => state_label(ctx, s),
        _ => ctx.t(&format!("mas-event-{}", e.kind)),
    }
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
        .map(|v| {
            if r.kelurahan_source == "nearest" {
                format!("Kel. {} ({})", v.name, ctx.t("mas-kelurahan-estimated"))
            } else {
                format!("Kel. {}", v.name)
            }
        });
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

/// Who is looking at a report, by the signed-in account (the web pages and the API alike).
pub(crate) fn viewer_of(ctx: &Ctx, r: &Report) -> Viewer {
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
    /// The officer handling it, for the reporter and staff.
    officer: Option<String>,
    timeline: Vec<(String, String, String)>,
    is_reporter: bool,
    can_support: bool,
    after_photo: Option<Uuid>,
    closure: String,
    estimate: String,
    confirm_due: String,
    /// The stage whose deadline runs now: (stage, due, its state's label, state code).
    step: Option<(String, String, String, String)>,
    sent: Option<Sent>,
    form: Form,
    map: Option<MapView>,
}

/// A small map of one report's place, when it has one.
fn place_map(st: &AppState, ctx: &Ctx, r: &Report) -> Option<MapView> {
    point_of(ctx, r, false, r.code.clone()).map(|p| {
        MapView::new(&st.settings, (p.lat, p.lon), 16)
            .with_points(&[p])
            .small()
    })
}

/// A report as a point on a map (tone: closed, overdue or open).
fn point_of(ctx: &Ctx, r: &Report, late: bool, label: String) -> Option<MapPoint> {
    Some(MapPoint {
        lat: r.lat?,
        lon: r.lon?,
        label,
        href: ctx.url(&store::public_path(&r.code)),
        tone: if r.state.is_closed() {
            "done"
        } else if late {
            "late"
        } else {
            "open"
        },
    })
}

/// What the reporter reads once, just after sending a report: what happens next, by when,
/// and where the receipt went.
struct Sent {
    /// `Kamis, 26 November 2026, 09.00 WIB` (empty without a running deadline).
    due: String,
    /// The channels the receipt goes by, in words.
    via: String,
}

/// Who holds the case now: the agency's name, and the officer's where the viewer may know
/// (the reporter and staff, while it is open).
pub(crate) async fn holder(
    st: &AppState,
    ctx: &Ctx,
    r: &Report,
    viewer: Viewer,
) -> AppResult<(Option<String>, Option<String>)> {
    let agency = match r.agency_id {
        Some(a) => agencies::get(&st.db, &ctx.city, a).await?.map(|a| a.name),
        None => None,
    };
    let officer = match r.assignee_id {
        Some(o) if domain::may_see_officer(viewer) && !r.state.is_closed() => {
            platform::accounts::get(&st.db, &ctx.city, o)
                .await?
                .map(|a| a.full_name)
        }
        _ => None,
    };
    Ok((agency, officer))
}

async fn track_page(st: &AppState, ctx: Ctx, code: &str, form: Form) -> AppResult<TrackPage> {
    track_page_as(st, ctx, code, form, false).await
}

async fn track_page_as(
    st: &AppState,
    ctx: Ctx,
    code: &str,
    form: Form,
    just_sent: bool,
) -> AppResult<TrackPage> {
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
    let (agency, officer) = holder(st, &ctx, &r, viewer).await?;
    let tz = ctx.city.tz;
    let timeline = store::timeline(&st.db, &ctx.city, r.id, false)
        .await?
        .into_iter()
        .map(|e| {
            let what = event_label(&ctx, &e);
            (format::datetime_long(e.at, tz, ctx.lang), what, e.note)
        })
        .collect();
    let map = place_map(st, &ctx, &r);
    let current = store::current_step(&st.db, &ctx.city, &r.code, st.notifier.now()).await?;
    let step_due = current.as_ref().and_then(|s| s.due_at);
    let step = current.map(|s| {
        (
            ctx.t(&format!("mas-stage-{}", s.stage)),
            s.due_at
                .map(|t| format::datetime_long(t, tz, ctx.lang))
                .unwrap_or_default(),
            ctx.t(&format!("deadline-state-{}", s.state)),
            s.state,
        )
    });
    let is_reporter = viewer == Viewer::Reporter;
    let sent = match (
        &ctx.user,
        just_sent && is_reporter && r.state == St::Diterima,
    ) {
        (Some(u), true) => {
            let via = platform::notify::channels_reaching(
                &st.db,
                &ctx.city,
                &store::receipt_key(&r.code),
                u.id,
            )
            .await?
            .into_iter()
            .map(|c| ctx.t(&format!("channel-{c}")))
            .collect::<Vec<_>>()
            .join(", ");
            let due = step_due
                .map(|t| format::datetime_long(t, tz, ctx.lang))
                .unwrap_or_default();
            Some(Sent { due, via })
        }
        _ => None,
    };
    let can_support =
        ctx.user.is_some() && !is_reporter && !r.state.is_closed() && viewer != Viewer::Agency;
    Ok(TrackPage {
        officer,
        state: state_label(&ctx, r.state),
        category: cats
            .iter()
            .find(|c| c.id == r.category_id)
            .map(|c| c.name(ctx.lang).to_string())
            .unwrap_or_default(),
        place: place_of(&ctx, &r),
        when: format::datetime_long(r.created_at, tz, ctx.lang),
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
        map,
        step,
        sent,
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
    Params(q): Params<TrackQuery>,
) -> AppResult<impl IntoResponse> {
    track_page_as(&st, ctx, &code, Form::new(), q.baru.is_some()).await
}

#[derive(Deserialize)]
pub struct TrackQuery {
    /// Set on the redirect after sending: the reporter sees the confirmation.
    baru: Option<String>,
}

/// A photo of a report, to whoever may see the report.
pub async fn report_photo(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((code, file)): Path<(String, Uuid)>,
    Params(q): Params<PhotoQuery>,
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
    /// The next page's position in the query string (`sebelum=…` or `setelah=…`).
    next: Option<String>,
    /// By code, when listed by deadline: the running deadline's due time.
    dues: std::collections::HashMap<String, String>,
    city_wide: bool,
    /// Codes of the listed reports whose running deadline has passed.
    late: Vec<String>,
    map: Option<MapView>,
    /// The verifier may dispose several received reports at once.
    can_bulk: bool,
    filters: String,
    /// By agency id, its short name (for the city desk's column).
    agency_names: std::collections::HashMap<Uuid, String>,
}

impl InboxPage {
    fn agency_of(&self, r: &Report) -> &str {
        r.agency_id
            .and_then(|a| self.agency_names.get(&a))
            .map(String::as_str)
            .unwrap_or("–")
    }
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
    /// `tenggat`: the next things to do first (running deadlines, nearest due first).
    #[serde(default)]
    pub urut: String,
    /// Where the page starts, when listed by deadline: after this running clock
    /// ([`store::DueCursor`]).
    #[serde(default)]
    pub setelah: String,
    /// `peta`: the map of (up to 1,000 of) the filtered reports above the list.
    #[serde(default)]
    pub tampil: String,
}

impl InboxQuery {
    /// How many filters narrow the list (the order is not one).
    fn active(&self) -> usize {
        [
            &self.status,
            &self.kategori,
            &self.opd,
            &self.kelurahan,
            &self.terlambat,
        ]
        .iter()
        .filter(|v| !v.is_empty())
        .count()
    }

    /// The filters as a query string (for the pager and the list/map switch).
    fn filters(&self) -> String {
        self.sorted(&self.urut)
    }

    /// The same filters, listed in another order (the table's column headings).
    fn sorted(&self, urut: &str) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("status", &self.status)
            .append_pair("kategori", &self.kategori)
            .append_pair("opd", &self.opd)
            .append_pair("kelurahan", &self.kelurahan)
            .append_pair("terlambat", &self.terlambat)
            .append_pair("urut", urut)
            .finish()
    }
}

/// Reports on the inbox map at most (the list pages on; the map shows the newest).
const MAP_LIMIT: u64 = 1000;
const PAGE: usize = 50;

fn is_city_wide(u: &platform::accounts::Account) -> bool {
    matches!(u.role, Role::Admin | Role::Operator) || u.role.reads_everything()
}

/// The listed reports' running deadlines: each one's due instant by code, and the codes of
/// those already past it.
async fn deadlines_of(
    st: &AppState,
    ctx: &Ctx,
    list: &[Report],
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<(
    std::collections::HashMap<String, chrono::DateTime<chrono::Utc>>,
    std::collections::HashSet<String>,
)> {
    let codes: Vec<String> = list.iter().map(|r| r.code.clone()).collect();
    let due_at = store::running_dues(&st.db, &ctx.city, &codes).await?;
    let late = due_at
        .iter()
        .filter(|(_, d)| **d <= now)
        .map(|(c, _)| c.clone())
        .collect();
    Ok((due_at, late))
}

/// The inbox's filters for this person (an officer sees the agency's reports, the city desk
/// chooses), the city's categories, and whether the person reads city-wide.
async fn inbox_filter(
    st: &AppState,
    s: &Staff,
    q: &InboxQuery,
) -> AppResult<(InboxFilter, Vec<Category>, bool)> {
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
    Ok((filter, cats, city_wide))
}

/// What waits for a staff member in the inbox, counted: for the city desk, reports to verify
/// and those waiting for the reporter; for an agency, reports newly sent to it and those in
/// progress; for both, those past their deadline. Leaders (who change nothing) see the city's
/// overdue only.
pub async fn staff_figures(
    st: &AppState,
    ctx: &Ctx,
    user: &platform::accounts::Account,
) -> AppResult<Vec<platform::app::Figure>> {
    let city_wide = is_city_wide(user);
    let agency = if city_wide { None } else { user.agency_id };
    if !city_wide && agency.is_none() {
        return Ok(vec![]);
    }
    let desk = matches!(user.role, Role::Admin | Role::Operator);
    let mut wanted: Vec<(Option<St>, bool, &str, &str, &'static str)> = Vec::new();
    if desk {
        wanted.push((
            Some(St::Diterima),
            false,
            "mas-fig-to-verify",
            "status=diterima",
            "info",
        ));
        wanted.push((
            Some(St::VerifikasiTunda),
            false,
            "mas-fig-waiting-reporter",
            "status=verifikasi_tunda",
            "info",
        ));
    } else if agency.is_some() {
        wanted.push((
            Some(St::Didisposisi),
            false,
            "mas-fig-new-for-agency",
            "status=didisposisi",
            "info",
        ));
        wanted.push((
            Some(St::Diproses),
            false,
            "mas-fig-in-progress",
            "status=diproses",
            "info",
        ));
    }
    wanted.push((None, true, "mas-fig-overdue", "terlambat=1", "bad"));
    let now = st.notifier.now();
    let mut out = Vec::new();
    // Leaders and the Inspektorat read the month first: what came in and how it ended, as
    // the monthly evaluation counts it (one click on).
    if !desk && agency.is_none() {
        let (y, m) = crate::evaluation::month_of(&ctx.city, now);
        if let Some((from, until)) = crate::evaluation::month_bounds(&ctx.city, y, m) {
            let (received, fixed, budget) =
                store::received_figures(&st.db, &ctx.city, from, until).await?;
            let href = format!("{}?bulan={y:04}-{m:02}", ctx.url("/evaluasi"));
            for (key, value) in [
                ("mas-fig-month-received", received),
                ("mas-fig-month-fixed", fixed),
                ("mas-fig-month-budget", budget),
            ] {
                out.push(platform::app::Figure {
                    label: ctx.t(key),
                    value,
                    href: href.clone(),
                    tone: "info",
                });
            }
        }
    }
    for (state, overdue, key, query, tone) in wanted {
        let f = InboxFilter {
            state,
            agency,
            overdue,
            ..Default::default()
        };
        out.push(platform::app::Figure {
            label: ctx.t(key),
            value: store::count_filtered(&st.db, &ctx.city, &f, now).await?,
            href: format!("{}?{query}", ctx.url("/staf/pengaduan")),
            tone,
        });
    }
    Ok(out)
}

/// At most this many reports in one CSV download (a narrower filter gives the rest).
pub const CSV_LIMIT: usize = 20_000;

/// `GET /staf/pengaduan.csv`: the inbox's reports under the same filters, newest first, read
/// from the database a page at a time.
pub async fn inbox_csv(
    State(st): State<AppState>,
    s: Staff,
    Params(q): Params<InboxQuery>,
) -> AppResult<Response> {
    const BATCH: u64 = 500;
    let (filter, cats, _) = inbox_filter(&st, &s, &q).await?;
    let ctx = &s.ctx;
    let now = st.notifier.now();
    let tz = ctx.city.tz;
    let names: std::collections::HashMap<Uuid, String> =
        agencies::list(&st.db, &ctx.city, &AgencyFilter::default())
            .await?
            .into_iter()
            .map(|a| (a.id, a.short_name))
            .collect();
    let villages: std::collections::HashMap<String, String> = ctx
        .city
        .villages()
        .into_iter()
        .map(|v| (v.code.to_string(), v.name.to_string()))
        .collect();
    let when = |t: chrono::DateTime<chrono::Utc>| {
        t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
    };
    let mut out = String::from(
        "code,received_at,category,state,agency,due_at,late,kelurahan,address,supporters,privacy\n",
    );
    let (mut before, mut n) = (None, 0);
    loop {
        let page = store::inbox(&st.db, &ctx.city, &filter, now, BATCH, before).await?;
        let codes: Vec<String> = page.iter().map(|r| r.code.clone()).collect();
        let dues = store::running_dues(&st.db, &ctx.city, &codes).await?;
        for r in page.iter().take(CSV_LIMIT - n) {
            let due = dues.get(&r.code);
            out.push_str(&kernel::csv::line([
                r.code.clone(),
                when(r.created_at),
                cats.iter()
                    .find(|c| c.id == r.category_id)
                    .map(|c| c.name(ctx.lang).to_string())
                    .unwrap_or_default(),
                state_label(ctx, r.state),
                r.agency_id
                    .and_then(|a| names.get(&a).cloned())
                    .unwrap_or_default(),
                due.map(|d| when(*d)).unwrap_or_default(),
                if due.is_some_and(|d| *d <= now) {
                    "1"
                } else {
                    "0"
                }
                .to_string(),
                r.kelurahan_code
                    .as_ref()
                    .and_then(|k| villages.get(k).cloned())
                    .unwrap_or_default(),
                r.address.clone(),
                r.supporters.to_string(),
                r.privacy.code().to_string(),
            ]));
            n += 1;
        }
        if page.len() < BATCH as usize || n >= CSV_LIMIT {
            break;
        }
        before = page.last().map(|r| r.id);
    }
    Ok(platform::web::pages::csv_download(
        &format!(
            "pengaduan-{}-{}.csv",
            ctx.city.code.replace('.', ""),
            now.with_timezone(&tz).format("%Y%m%d")
        ),
        out,
    ))
}

/// `/staf/pengaduan`: the inbox. Officers see their agency's; the city desk sees all.
pub async fn inbox(
    State(st): State<AppState>,
    s: Staff,
    Params(q): Params<InboxQuery>,
) -> AppResult<impl IntoResponse> {
    let (filter, cats, city_wide) = inbox_filter(&st, &s, &q).await?;
    let now = st.notifier.now();
    let map_mode = q.tampil == "peta";
    let by_due = q.urut == "tenggat" && !map_mode;
    let tz = s.ctx.city.tz;
    let mut due_next = None;
    let mut list: Vec<Report> = if by_due {
        let rows = store::inbox_by_due(
            &st.db,
            &s.ctx.city,
            &filter,
            now,
            PAGE as u64 + 1,
            store::DueCursor::parse(&q.setelah),
        )
        .await?;
        due_next = rows.get(PAGE - 1).map(|x| x.2);
        rows.into_iter().map(|(r, _, _)| r).collect()
    } else {
        store::inbox(
            &st.db,
            &s.ctx.city,
            &filter,
            now,
            if map_mode { MAP_LIMIT } else { PAGE as u64 + 1 },
            Uuid::parse_str(&q.sebelum).ok(),
        )
        .await?
    };
    let (due_at, late) = deadlines_of(&st, &s.ctx, &list, now).await?;
    let dues = due_at
        .iter()
        .map(|(c, d)| (c.clone(), format::datetime_short(*d, tz, s.ctx.lang)))
        .collect();
    let ctx = s.ctx;
    let map = if map_mode {
        let settings = store::settings(st.db.conn(), &ctx.city).await?;
        let points: Vec<MapPoint> = list
            .iter()
            .filter_map(|r| {
                let cat = cats
                    .iter()
                    .find(|c| c.id == r.category_id)
                    .map(|c| c.name(ctx.lang))
                    .unwrap_or_default();
                point_of(
                    &ctx,
                    r,
                    late.contains(&r.code),
                    format!("{} · {cat}", r.code),
                )
                .map(|mut p| {
                    p.href = ctx.url(&format!("/staf/pengaduan/{}", r.code));
                    p
                })
            })
            .collect();
        Some(MapView::new(&st.settings, settings.centre(), 13).with_points(&points))
    } else {
        None
    };
    let next = (list.len() > PAGE).then(|| {
        if let Some(c) = due_next {
            format!("setelah={}", c.to_param())
        } else {
            format!("sebelum={}", list[PAGE - 1].id)
        }
    });
    list.truncate(PAGE);
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
    let can_bulk = matches!(s.user.role, Role::Admin | Role::Operator);
    let filters = q.filters();
    let agency_names = agencies
        .iter()
        .map(|a: &Agency| (a.id, a.short_name.clone()))
        .collect();
    Ok(InboxPage {
        agency_names,
        late: list
            .iter()
            .filter(|r| late.contains(&r.code))
            .map(|r| r.code.clone())
            .collect(),
        rows: rows(&ctx, &cats, list),
        map,
        can_bulk,
        filters,
        states,
        categories: cats,
        agencies,
        kelurahan: kelurahan_options(&ctx),
        has_htmx: has_htmx(),
        ctx,
        q,
        next,
        dues,
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
    /// Reply templates: (id, title, text filled in for this report).
    replies: Vec<(String, String, String)>,
    map: Option<MapView>,
    /// The kelurahan list, for staff to set or correct it.
    kelurahan: Vec<(String, String)>,
    /// What each action would tell the reporter, shown beside it.
    told: Vec<ToldView>,
    form: Form,
}

/// A message the reporter would get, shown beside the action that sends it (UX.md: an action
/// says what the citizen will be told).
struct ToldView {
    /// The action (`hold`) or closure (`close-fixed_directly`) it belongs to.
    key: String,
    /// Who hears it: "Pelapor dan 2 pendukung akan menerima pesan ini".
    who: String,
    subject: String,
    /// The message around the words the staff member types (filled in live where scripts run).
    before: String,
    after: String,
    /// The id of the field whose words go into the message, or empty.
    note_of: String,
}

impl ToldView {
    /// Whether it belongs to this action or closure (a template helper).
    fn is(&self, key: String) -> bool {
        self.key == key
    }
}

/// Stands for the staff member's own words in a previewed message.
const NOTE_MARK: &str = "\u{1f}";

/// What each action the person may take would tell the reporter and supporters.
async fn told_views(
    st: &AppState,
    ctx: &Ctx,
    r: &Report,
    role: Option<domain::Actor>,
    probes: Vec<(String, domain::Action, &'static str)>,
) -> AppResult<Vec<ToldView>> {
    let Some(role) = role else {
        return Ok(vec![]);
    };
    let mut out = Vec::new();
    for (key, action, note_of) in probes {
        let Some(t) = store::told(&st.db, &st.notifier, &ctx.city, r, role, &action).await? else {
            continue;
        };
        let (before, after, note_of) = match t.message.body.split_once(NOTE_MARK) {
            Some((b, a)) => (b.to_string(), a.to_string(), note_of),
            None => (t.message.body.clone(), String::new(), ""),
        };
        let who = if t.people > 1 {
            ctx.ta(
                "mas-told-with-supporters",
                "n",
                (t.people - 1).to_string().as_str(),
            )
        } else {
            ctx.t("mas-told-reporter")
        };
        let who = if t.lang == ctx.lang {
            who
        } else {
            format!(
                "{who} ({})",
                ctx.t(&format!("mas-told-in-{}", t.lang.code()))
            )
        };
        out.push(ToldView {
            key,
            who,
            subject: t.message.subject,
            note_of: note_of.to_string(),
            before,
            after,
        });
    }
    Ok(out)
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
            let what = event_label(&ctx, &e);
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
                note: String::new(),
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
                note: String::new(),
            },
        ),
    ] {
        if let Some(role) = role
            && domain::apply(r.state, r.awaiting_confirmation, role, &probe).is_ok()
        {
            actions.push(code);
        }
    }
    let closure_probe = |k: ClosureKind, note: &str| {
        domain::Action::Close(domain::Closure {
            kind: Some(k),
            note: note.into(),
            after_photo: Some(Uuid::nil()),
            estimate_rupiah: Some(1),
            programme: "x".into(),
            budget_agency: Some(Uuid::nil()),
            referred_to: "x".into(),
            duplicate_of: "x".into(),
        })
    };
    let mut probes: Vec<(String, domain::Action, &'static str)> = vec![
        (
            "dispose".into(),
            domain::Action::Dispose {
                agency: Uuid::nil(),
                note: NOTE_MARK.into(),
            },
            "note-agency",
        ),
        (
            "coordinate".into(),
            domain::Action::Coordinate {
                agency: Uuid::nil(),
                note: NOTE_MARK.into(),
            },
            "note-agency",
        ),
        ("start".into(), domain::Action::Start, ""),
        (
            "hold".into(),
            domain::Action::Hold {
                question: NOTE_MARK.into(),
            },
            "note-hold",
        ),
        (
            "schedule".into(),
            domain::Action::Schedule {
                note: NOTE_MARK.into(),
            },
            "note-schedule",
        ),
    ];
    for k in ClosureKind::ALL {
        probes.push((
            format!("close-{}", k.code()),
            closure_probe(k, NOTE_MARK),
            "close-note",
        ));
    }
    let told = told_views(st, &ctx, &r, role, probes).await?;
    let closures: Vec<(String, String)> = ClosureKind::ALL
        .iter()
        .filter(|k| {
            role.is_some_and(|role| {
                domain::apply(
                    r.state,
                    r.awaiting_confirmation,
                    role,
                    &closure_probe(**k, "x"),
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
    let replies = store::replies(st.db.conn(), &ctx.city)
        .await?
        .into_iter()
        .map(|x| {
            let text = store::fill_reply(
                &x.body,
                &r.code,
                cat.as_ref().map(|c| c.name_id.as_str()).unwrap_or_default(),
                agency.as_deref().unwrap_or_default(),
            );
            (x.id.to_string(), x.title, text)
        })
        .collect();
    let map = place_map(st, &ctx, &r);
    Ok(StaffPage {
        told,
        kelurahan: kelurahan_options(&ctx),
        map,
        replies,
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

/// `POST /staf/pengaduan/massal`: the verifier disposes the ticked reports to one agency. Each is
/// its own change; the inbox then says how many went and names any that could not.
pub async fn bulk_dispose(
    State(st): State<AppState>,
    s: Staff,
    axum::extract::RawForm(body): axum::extract::RawForm,
) -> AppResult<Response> {
    if !matches!(s.user.role, Role::Admin | Role::Operator) {
        return Err(AppError::Forbidden);
    }
    let (mut codes, mut agency, mut note, mut back) =
        (Vec::new(), String::new(), String::new(), String::new());
    for (k, v) in url::form_urlencoded::parse(&body) {
        match k.as_ref() {
            "code" => codes.push(v.into_owned()),
            "agency" => agency = v.into_owned(),
            "note" => note = v.into_owned(),
            "back" => back = v.into_owned(),
            _ => {}
        }
    }
    let ctx = s.ctx;
    // Back to the same filtered inbox (only our own query string is accepted).
    let back = if back.contains("://") || back.contains('\\') {
        String::new()
    } else {
        back
    };
    let to = format!("/staf/pengaduan?{back}");
    if codes.is_empty() {
        return Ok(ctx.redirect_with(&to, "mas-bulk-none"));
    }
    if Uuid::parse_str(agency.trim()).is_err() {
        return Ok(ctx.redirect_with(&to, "mas-bulk-no-agency"));
    }
    let input = ActionInput {
        action: "dispose".into(),
        agency,
        note,
        ..Default::default()
    };
    let outcome = store::act_many(
        &st.db,
        &st.notifier,
        &st.files,
        &ctx.city,
        &s.user,
        &codes,
        &input,
    )
    .await?;
    let done = outcome
        .iter()
        .filter(|(_, o)| *o == store::BulkOutcome::Done)
        .count();
    let refused: Vec<&str> = outcome
        .iter()
        .filter(|(_, o)| *o != store::BulkOutcome::Done)
        .map(|(c, _)| c.as_str())
        .collect();
    let msg = if refused.is_empty() {
        ctx.ta("mas-bulk-done", "n", &done.to_string())
    } else {
        format!(
            "{} {}",
            ctx.ta("mas-bulk-done", "n", &done.to_string()),
            ctx.ta("mas-bulk-refused", "codes", &refused.join(", "))
        )
    };
    Ok(ctx.redirect_with_text(&to, &msg))
}

/// A reply template filled in for one report (None when either is unknown).
async fn reply_text(st: &AppState, ctx: &Ctx, code: &str, id: Uuid) -> AppResult<Option<String>> {
    let Some(reply) = store::replies(st.db.conn(), &ctx.city)
        .await?
        .into_iter()
        .find(|x| x.id == id)
    else {
        return Ok(None);
    };
    let Some(r) = store::get_by_code(st.db.conn(), &ctx.city, code).await? else {
        return Ok(None);
    };
    let cat = store::categories(st.db.conn(), &ctx.city, false)
        .await?
        .into_iter()
        .find(|c| c.id == r.category_id)
        .map(|c| c.name_id)
        .unwrap_or_default();
    let agency = match r.agency_id {
        Some(a) => agencies::get(&st.db, &ctx.city, a)
            .await?
            .map(|a| a.name)
            .unwrap_or_default(),
        None => String::new(),
    };
    Ok(Some(store::fill_reply(&reply.body, &r.code, &cat, &agency)))
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
    // A reply template chosen and the text left empty: the template is the text.
    if input.note.trim().is_empty()
        && let Ok(reply) = Uuid::parse_str(one(&fields, "reply").trim())
    {
        input.note = reply_text(&st, &s.ctx, &code, reply)
            .await?
            .unwrap_or_default();
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
    } else if input.action == "kelurahan" {
        store::set_kelurahan(
            &st.db,
            &st.notifier,
            &s.ctx.city,
            &s.user,
            &code,
            &one(&fields, "kelurahan"),
        )
        .await
        .map(|_| ())
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

/// The evaluation as horizontal bars: received, fixed directly, needs budget per group.
fn bar_chart(ctx: &Ctx, rows: &[crate::evaluation::Row]) -> String {
    use platform::web::chart::{Group, Series, hbars};
    let (a, b, c) = (
        ctx.t("mas-eval-received"),
        ctx.t("mas-closure-fixed_directly"),
        ctx.t("mas-eval-budget"),
    );
    let series = [
        Series {
            label: &a,
            class: "b-recv",
        },
        Series {
            label: &b,
            class: "b-fixed",
        },
        Series {
            label: &c,
            class: "b-budget",
        },
    ];
    let groups: Vec<Group> = rows
        .iter()
        .filter(|r| !r.group.is_empty())
        .take(12)
        .map(|r| Group {
            label: r.group.clone(),
            values: vec![
                u64::from(r.received),
                u64::from(r.fixed_directly),
                u64::from(r.needs_budget),
            ],
        })
        .collect();
    hbars(&ctx.t("mas-eval-title"), &series, &groups)
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
    Params(q): Params<EvalQuery>,
) -> AppResult<impl IntoResponse> {
    let ctx = r.ctx;
    let ((y, m), by, rows) = evaluation_rows(&st, &ctx, &q).await?;
    let chart = bar_chart(&ctx, &rows[..rows.len().saturating_sub(1)]);
    let month_label = month_label(&ctx, y, m);
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

/// "November 2026" in the reader's language.
fn month_label(ctx: &Ctx, y: i32, m: u32) -> String {
    let first = crate::evaluation::month_bounds(&ctx.city, y, m)
        .map(|(a, _)| a)
        .unwrap_or_default();
    let long = format::date_long(first, ctx.city.tz, ctx.lang);
    long.split_once(", ")
        .map(|(_, d)| d.split_once(' ').map(|x| x.1).unwrap_or(d).to_string())
        .unwrap_or(long)
}

/// `/evaluasi.pdf`: the same evaluation as an A4 landscape PDF for printing and signing.
pub async fn evaluation_pdf(
    State(st): State<AppState>,
    r: platform::web::auth::Reader,
    Params(q): Params<EvalQuery>,
) -> AppResult<Response> {
    let ctx = r.ctx;
    let ((y, m), by, rows) = evaluation_rows(&st, &ctx, &q).await?;
    let label = month_label(&ctx, y, m);
    let now = st.notifier.now();
    let by_label = ctx.t(&format!("mas-eval-by-{}", by.code()));
    let text = crate::evaluation::PdfText {
        title: format!("{} · {label} · {by_label}", ctx.t("mas-eval-title")),
        subtitle: format!(
            "{} · {} {}",
            ctx.city.name,
            ctx.t("mas-eval-pdf-made"),
            format::datetime_short(now, ctx.city.tz, ctx.lang)
        ),
        columns: vec![
            by_label.clone(),
            ctx.t("mas-eval-received"),
            ctx.t("mas-eval-verified"),
            ctx.t("mas-eval-followed"),
            ctx.t("mas-closure-fixed_directly"),
            ctx.t("mas-eval-budget"),
            ctx.t("mas-eval-median"),
            ctx.t("mas-eval-overdue"),
            ctx.t("mas-eval-disputes"),
            ctx.t("mas-eval-satisfied"),
        ],
        legend: [
            ctx.t("mas-eval-received"),
            ctx.t("mas-closure-fixed_directly"),
            ctx.t("mas-eval-budget"),
        ],
        notes: ctx.t("mas-eval-notes"),
        page: ctx.t("mas-eval-pdf-page"),
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "inline; filename=\"evaluasi-pengaduan-{y:04}-{m:02}-{}.pdf\"",
                    by.code()
                ),
            ),
        ],
        crate::evaluation::to_pdf(&rows, &text),
    )
        .into_response())
}

pub async fn evaluation_csv(
    State(st): State<AppState>,
    r: platform::web::auth::Reader,
    Params(q): Params<EvalQuery>,
) -> AppResult<Response> {
    let ((y, m), by, rows) = evaluation_rows(&st, &r.ctx, &q).await?;
    Ok(platform::web::pages::csv_download(
        &format!("evaluasi-pengaduan-{y:04}-{m:02}-{}.csv", by.code()),
        crate::evaluation::to_csv(&rows),
    ))
}

#[derive(Deserialize, Default)]
pub struct PublicMapQuery {
    #[serde(default)]
    pub kategori: String,
    /// `terbuka`, `selesai` or empty (both).
    #[serde(default)]
    pub status: String,
    /// Received in the last so many days: 30, 90 (default) or 365.
    #[serde(default)]
    pub hari: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "peta.html")]
struct PublicMapPage {
    ctx: Ctx,
    has_htmx: bool,
    map: MapView,
    rows: Vec<Row>,
    shown: usize,
    categories: Vec<Category>,
    q: PublicMapQuery,
    days: i64,
}

/// Points on the public map at most (the newest).
const PUBLIC_MAP_LIMIT: u64 = 1000;

/// `/pengaduan/peta`: public reports on a map (no names), with the newest listed below.
pub async fn public_map(
    State(st): State<AppState>,
    ctx: Ctx,
    Params(q): Params<PublicMapQuery>,
) -> AppResult<impl IntoResponse> {
    let cats = store::categories(st.db.conn(), &ctx.city, false).await?;
    let days = match q.hari.as_str() {
        "30" => 30,
        "365" => 365,
        _ => 90,
    };
    let now = st.notifier.now();
    let filter = store::PublicFilter {
        category: cats.iter().find(|c| c.code == q.kategori).map(|c| c.id),
        open: match q.status.as_str() {
            "terbuka" => Some(true),
            "selesai" => Some(false),
            _ => None,
        },
        since_us: platform::clock::to_us(now - chrono::Duration::days(days)),
    };
    let list = store::public_reports(&st.db, &ctx.city, &filter, PUBLIC_MAP_LIMIT).await?;
    let (_, late) = deadlines_of(&st, &ctx, &list, now).await?;
    let points: Vec<MapPoint> = list
        .iter()
        .filter_map(|r| {
            let cat = cats
                .iter()
                .find(|c| c.id == r.category_id)
                .map(|c| c.name(ctx.lang))
                .unwrap_or_default();
            let label = format!("{cat} · {}", state_label(&ctx, r.state));
            point_of(&ctx, r, late.contains(&r.code), label)
        })
        .collect();
    let settings = store::settings(st.db.conn(), &ctx.city).await?;
    let map = MapView::new(&st.settings, settings.centre(), 13).with_points(&points);
    let shown = list.len();
    let rows = rows(&ctx, &cats, list.into_iter().take(20).collect());
    Ok(PublicMapPage {
        has_htmx: has_htmx(),
        map,
        rows,
        shown,
        categories: cats,
        q,
        days,
        ctx,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "statistik.html")]
struct StatsPage {
    ctx: Ctx,
    has_htmx: bool,
    /// (label, value, note) tiles.
    tiles: Vec<(String, String, String)>,
    by_month: String,
    by_category: String,
    by_kecamatan: String,
    closures: Vec<(String, u64)>,
}

/// `/pengaduan/statistik`: the city's complaints over twelve months, for everyone.
pub async fn public_statistics(
    State(st): State<AppState>,
    ctx: Ctx,
) -> AppResult<impl IntoResponse> {
    use platform::web::chart::{Group, Series, columns, hbars};
    // Counted in the database over twelve months (a second or so with a million reports): kept
    // for five minutes, as anyone may ask, then counted anew in the background while visitors
    // get the last count for five minutes more (the page says: at most ten minutes old).
    static STATS: std::sync::LazyLock<platform::memo::Memo<crate::evaluation::PublicStats>> =
        std::sync::LazyLock::new(|| {
            platform::memo::Memo::stale_while_refreshing(
                std::time::Duration::from_secs(300),
                std::time::Duration::from_secs(300),
            )
        });
    let key = platform::memo::key(&st.db, &ctx.city);
    let (db, city, now) = (st.db.clone(), ctx.city.clone(), st.notifier.now());
    let s = STATS
        .get_or_refresh(key, async move || {
            crate::evaluation::public_stats(&db, &city, now).await
        })
        .await?;
    let cats = store::categories(st.db.conn(), &ctx.city, false).await?;
    let pct = |a: u64, b: u64| {
        (a * 100 + b / 2)
            .checked_div(b)
            .map(|p| format!("{p}%"))
            .unwrap_or_else(|| "–".into())
    };
    let tiles = vec![
        (
            ctx.t("mas-stats-received"),
            s.received.to_string(),
            ctx.t("mas-stats-12m"),
        ),
        (
            ctx.t("mas-stats-closed"),
            s.closed.to_string(),
            pct(s.closed, s.received),
        ),
        (
            ctx.t("mas-stats-open"),
            s.open_now.to_string(),
            String::new(),
        ),
        (
            ctx.t("mas-stats-on-time"),
            pct(s.followed_up_on_time.0, s.followed_up_on_time.1),
            ctx.ta("mas-stats-of", "n", &s.followed_up_on_time.1.to_string()),
        ),
        (
            ctx.t("mas-eval-median"),
            s.median_days_to_fix
                .map(|d| format!("{d:.1}"))
                .unwrap_or_else(|| "–".into()),
            ctx.t("mas-stats-days"),
        ),
        (
            ctx.t("mas-eval-budget"),
            s.needs_budget.to_string(),
            format::rupiah(s.needs_budget_rupiah),
        ),
    ];
    let (recv, closed) = (ctx.t("mas-stats-received"), ctx.t("mas-stats-closed"));
    let series = [
        Series {
            label: &recv,
            class: "b-recv",
        },
        Series {
            label: &closed,
            class: "b-fixed",
        },
    ];
    let short_months = if ctx.lang == Lang::Id {
        [
            "Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des",
        ]
    } else {
        [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ]
    };
    let by_month = columns(
        &ctx.t("mas-stats-by-month"),
        &series,
        &s.months
            .iter()
            .map(|(_, m, a, b)| Group {
                label: short_months[(*m as usize).clamp(1, 12) - 1].to_string(),
                values: vec![*a, *b],
            })
            .collect::<Vec<_>>(),
    );
    let by_category = hbars(
        &ctx.t("mas-stats-by-category"),
        &series,
        &s.by_category
            .iter()
            .map(|(c, a, b)| Group {
                label: cats
                    .iter()
                    .find(|x| x.id == *c)
                    .map(|x| x.name(ctx.lang).to_string())
                    .unwrap_or_default(),
                values: vec![*a, *b],
            })
            .collect::<Vec<_>>(),
    );
    let by_kecamatan = hbars(
        &ctx.t("mas-stats-by-kecamatan"),
        &series[..1],
        &s.by_kecamatan
            .iter()
            .map(|(k, n)| Group {
                label: format!("Kec. {k}"),
                values: vec![*n],
            })
            .collect::<Vec<_>>(),
    );
    let closures = s
        .closures
        .iter()
        .map(|(k, n)| (ctx.t(&format!("mas-closure-{}", k.code())), *n))
        .collect();
    Ok(StatsPage {
        has_htmx: has_htmx(),
        tiles,
        by_month,
        by_category,
        by_kecamatan,
        closures,
        ctx,
    })
}
