//! Open311 GeoReport v2 at `/open311/v2/` (research §1): discovery, services, service
//! definitions, POST requests (API key), GET requests with its filters, one request, tokens; XML
//! and JSON from the same structs; errors as the spec says (400/403/404 with code and
//! description). `jurisdiction_id` is the city's Kemendagri code. Never a reporter's identity.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, FixedOffset, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait,
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::domain::State as St;
use crate::entity::{api_key, photo, report};
use crate::store::{self, Category};
use kernel::Lang;
use platform::audit::{Actor, Change};
use platform::city::City;
use platform::clock::{from_us, to_us};
use platform::db::JsonCol;
use platform::error::{AppError, AppResult};
use platform::web::AppState;
use platform::web::context::Ctx;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Fmt {
    Xml,
    Json,
}

fn split_fmt(s: &str) -> Option<(&str, Fmt)> {
    if let Some(x) = s.strip_suffix(".xml") {
        Some((x, Fmt::Xml))
    } else {
        s.strip_suffix(".json").map(|x| (x, Fmt::Json))
    }
}

/// A value in the Spark convention: one tree, printed as XML or JSON.
#[derive(Debug, Clone)]
enum V {
    S(String),
    N(f64),
    I(i64),
    B(bool),
    Null,
    /// A list of elements named `item` in XML; a JSON array.
    L(&'static str, Vec<V>),
    /// An element with children (JSON object).
    O(Vec<(&'static str, V)>),
}

fn s(x: impl Into<String>) -> V {
    V::S(x.into())
}

fn opt(x: Option<String>) -> V {
    x.map(V::S).unwrap_or(V::Null)
}

fn esc(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn xml(name: &str, v: &V, out: &mut String) {
    match v {
        V::S(t) => {
            let _ = write!(out, "<{name}>{}</{name}>", esc(t));
        }
        V::N(n) => {
            let _ = write!(out, "<{name}>{n}</{name}>");
        }
        V::I(n) => {
            let _ = write!(out, "<{name}>{n}</{name}>");
        }
        V::B(b) => {
            let _ = write!(out, "<{name}>{b}</{name}>");
        }
        V::Null => {
            let _ = write!(out, "<{name}></{name}>");
        }
        V::L(item, xs) => {
            let _ = write!(out, "<{name}>");
            for x in xs {
                xml(item, x, out);
            }
            let _ = write!(out, "</{name}>");
        }
        V::O(kv) => {
            let _ = write!(out, "<{name}>");
            for (k, x) in kv {
                xml(k, x, out);
            }
            let _ = write!(out, "</{name}>");
        }
    }
}

/// JSON straight from the tree (fields in the spec's order, nothing copied on the way).
impl Serialize for V {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            V::S(t) => ser.serialize_str(t),
            V::N(n) => ser.serialize_f64(*n),
            V::I(n) => ser.serialize_i64(*n),
            V::B(b) => ser.serialize_bool(*b),
            V::Null => ser.serialize_unit(),
            V::L(_, xs) => {
                let mut seq = ser.serialize_seq(Some(xs.len()))?;
                for x in xs {
                    seq.serialize_element(x)?;
                }
                seq.end()
            }
            V::O(kv) => {
                let mut map = ser.serialize_map(Some(kv.len()))?;
                for (k, x) in kv {
                    map.serialize_entry(k, x)?;
                }
                map.end()
            }
        }
    }
}

/// About how many bytes a document takes (a list: 800 per element).
fn size_hint(v: &V) -> usize {
    match v {
        V::L(_, xs) => 256 + xs.len() * 800,
        _ => 1024,
    }
}

/// The document: root element name and value (a list root becomes a bare JSON array).
fn respond(fmt: Fmt, status: StatusCode, root: &str, v: V) -> Response {
    match fmt {
        Fmt::Json => {
            // Sized up front: a 1,000-row page is about 700 KB, and growing a buffer that large
            // step by step copies it over and over.
            let mut buf = Vec::with_capacity(size_hint(&v));
            let body = match serde_json::to_writer(&mut buf, &v) {
                Ok(()) => buf,
                Err(_) => b"[]".to_vec(),
            };
            (
                status,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json; charset=utf-8"),
                )],
                body,
            )
                .into_response()
        }
        Fmt::Xml => {
            let mut out = String::with_capacity(size_hint(&v) * 2);
            out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
            xml(root, &v, &mut out);
            (
                status,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/xml; charset=utf-8"),
                )],
                out,
            )
                .into_response()
        }
    }
}

fn error(fmt: Fmt, status: StatusCode, description: &str) -> Response {
    let v = V::L(
        "error",
        vec![V::O(vec![
            ("code", V::I(i64::from(status.as_u16()))),
            ("description", s(description)),
        ])],
    );
    respond(fmt, status, "errors", v)
}

fn w3c(t: DateTime<Utc>, city: &City) -> String {
    let off = t.with_timezone(&city.tz).offset().fix();
    t.with_timezone(&off)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

use chrono::Offset;

/// Parses a W3C datetime with a zone; a bare date counts as midnight in the city.
fn parse_w3c(s: &str, city: &City) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::<FixedOffset>::parse_from_rfc3339(s.trim()) {
        return Some(t.with_timezone(&Utc));
    }
    let d = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()?;
    d.and_hms_opt(0, 0, 0)?
        .and_local_timezone(city.tz)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// Resolves `jurisdiction_id`: required when the deployment hosts several cities.
async fn jurisdiction(
    st: &AppState,
    ctx: &Ctx,
    given: Option<&str>,
    fmt: Fmt,
) -> Result<City, Response> {
    let all = st.cities.all().await;
    match given.map(str::trim).filter(|g| !g.is_empty()) {
        Some(code) => match kernel::region::normalize_regency_code(code)
            .and_then(|c| all.into_iter().find(|x| x.code == c))
        {
            Some(c) => Ok(c),
            None => Err(error(
                fmt,
                StatusCode::NOT_FOUND,
                "jurisdiction_id not found",
            )),
        },
        None if all.len() > 1 && ctx.base.is_empty() && st.settings.default_city.is_none() => {
            Err(error(
                fmt,
                StatusCode::BAD_REQUEST,
                "jurisdiction_id is required: this server serves several cities",
            ))
        }
        None => Ok(ctx.city.clone()),
    }
}

/// A GET resource's name and format (`requests.xml`), and the city it asks for; else the
/// error document to answer with.
async fn resource<'a>(
    st: &AppState,
    ctx: &Ctx,
    file: &'a str,
    params: &BTreeMap<String, String>,
) -> Result<(&'a str, Fmt, City), Response> {
    let Some((name, fmt)) = split_fmt(file) else {
        return Err(error(
            Fmt::Json,
            StatusCode::NOT_FOUND,
            "unknown resource; add .xml or .json",
        ));
    };
    let city = jurisdiction(st, ctx, q(params, "jurisdiction_id"), fmt).await?;
    Ok((name, fmt, city))
}

fn q<'a>(params: &'a BTreeMap<String, String>, k: &str) -> Option<&'a str> {
    params
        .get(k)
        .map(String::as_str)
        .filter(|v| !v.trim().is_empty())
}

/// `GET /open311/v2/{discovery|services|requests}.{fmt}`
pub async fn get_doc(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(doc): Path<String>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Response {
    let (name, fmt, city) = match resource(&st, &ctx, &doc, &params).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let res = match name {
        "discovery" => Ok(discovery(&st, &ctx, &city, fmt)),
        "services" => services(&st, &city, ctx.lang, fmt).await,
        "requests" => requests(&st, &ctx, &city, &params, fmt).await,
        _ => Ok(error(fmt, StatusCode::NOT_FOUND, "unknown resource")),
    };
    res.unwrap_or_else(|e| internal(fmt, e))
}

fn internal(fmt: Fmt, e: AppError) -> Response {
    tracing::warn!(error = ?e, "open311 request failed");
    error(
        fmt,
        StatusCode::BAD_REQUEST,
        "the request could not be served",
    )
}

fn discovery(st: &AppState, ctx: &Ctx, city: &City, fmt: Fmt) -> Response {
    let base = format!("{}{}/open311/v2", st.notifier.base_url(city), ctx.base);
    let changeset = "2026-11-23T00:00:00Z".to_string();
    let v = V::O(vec![
        ("changeset", s(changeset.clone())),
        (
            "contact",
            s(format!(
                "{} — {}/tentang",
                city.name,
                st.notifier.base_url(city)
            )),
        ),
        (
            "key_service",
            s(
                "Kunci API diberikan oleh admin kota (halaman Admin › Open311). / API keys are issued by the city's admin.",
            ),
        ),
        (
            "endpoints",
            V::L(
                "endpoint",
                vec![V::O(vec![
                    ("specification", s("http://wiki.open311.org/GeoReport_v2")),
                    ("url", s(base)),
                    ("changeset", s(changeset)),
                    ("type", s("production")),
                    (
                        "formats",
                        V::L("format", vec![s("text/xml"), s("application/json")]),
                    ),
                ])],
            ),
        ),
    ]);
    respond(fmt, StatusCode::OK, "discovery", v)
}

fn service_v(c: &Category, lang: Lang) -> V {
    V::O(vec![
        ("service_code", s(c.code.clone())),
        ("service_name", s(c.name(lang))),
        ("description", s(c.description.clone())),
        ("metadata", V::B(!c.questions.is_empty())),
        ("type", s("realtime")),
        ("keywords", s(c.keywords.clone())),
        ("group", s("pengaduan")),
    ])
}

async fn services(st: &AppState, city: &City, lang: Lang, fmt: Fmt) -> AppResult<Response> {
    let cats = store::categories(st.db.conn(), city, true).await?;
    let v = V::L("service", cats.iter().map(|c| service_v(c, lang)).collect());
    Ok(respond(fmt, StatusCode::OK, "services", v))
}

/// `GET /open311/v2/services/{code}.{fmt}`
pub async fn get_service(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(file): Path<String>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Response {
    let (code, fmt, city) = match resource(&st, &ctx, &file, &params).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let c = match store::category_by_code(st.db.conn(), &city, code).await {
        Ok(Some(c)) if c.active => c,
        Ok(_) => return error(fmt, StatusCode::NOT_FOUND, "service_code not found"),
        Err(e) => return internal(fmt, e),
    };
    let lang = ctx.lang;
    let attrs = c
        .questions
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let mut kv = vec![
                ("variable", V::B(true)),
                ("code", s(q.code.clone())),
                (
                    "datatype",
                    s(match q.kind.as_str() {
                        "number" => "number",
                        "choice" => "singlevaluelist",
                        _ => "string",
                    }),
                ),
                ("required", V::B(q.required)),
                ("datatype_description", V::Null),
                ("order", V::I(i64::try_from(i + 1).unwrap_or(1))),
                (
                    "description",
                    s(if lang == Lang::Id {
                        q.label_id.clone()
                    } else {
                        q.label_en.clone()
                    }),
                ),
            ];
            if q.kind == "choice" {
                kv.push((
                    "values",
                    V::L(
                        "value",
                        q.options
                            .iter()
                            .map(|o| V::O(vec![("key", s(o.clone())), ("name", s(o.clone()))]))
                            .collect(),
                    ),
                ));
            }
            V::O(kv)
        })
        .collect();
    let v = V::O(vec![
        ("service_code", s(c.code.clone())),
        ("attributes", V::L("attribute", attrs)),
    ]);
    respond(fmt, StatusCode::OK, "service_definition", v)
}

/// The columns a request shows (a listing reads these only, not the whole report), with the
/// running deadline and the first photo looked up by the database in the same query.
#[derive(Debug, Clone, serde::Deserialize)]
struct Listed {
    code: String,
    category_id: Uuid,
    description: String,
    lat: Option<f64>,
    lon: Option<f64>,
    kelurahan_code: Option<String>,
    address: String,
    state: String,
    agency_id: Option<Uuid>,
    status_note: String,
    media_url: String,
    created_us: i64,
    updated_us: i64,
    due_us: Option<i64>,
    photo_id: Option<Uuid>,
}

/// `Listed`'s fields in order, as the page query returns them.
const LISTED_JSON: [JsonCol<'static>; 15] = [
    JsonCol::Plain("code"),
    JsonCol::Uuid("category_id"),
    JsonCol::Plain("description"),
    JsonCol::Plain("lat"),
    JsonCol::Plain("lon"),
    JsonCol::Plain("kelurahan_code"),
    JsonCol::Plain("address"),
    JsonCol::Plain("state"),
    JsonCol::Uuid("agency_id"),
    JsonCol::Plain("status_note"),
    JsonCol::Plain("media_url"),
    JsonCol::Plain("created_us"),
    JsonCol::Plain("updated_us"),
    JsonCol::Plain("due_us"),
    JsonCol::Uuid("photo_id"),
];

const LISTED: [report::Column; 13] = [
    report::Column::Code,
    report::Column::CategoryId,
    report::Column::Description,
    report::Column::Lat,
    report::Column::Lon,
    report::Column::KelurahanCode,
    report::Column::Address,
    report::Column::State,
    report::Column::AgencyId,
    report::Column::StatusNote,
    report::Column::MediaUrl,
    report::Column::CreatedUs,
    report::Column::UpdatedUs,
];

/// Reads the requests `qy` selects, newest first, at most `limit`, in one query: the columns of
/// [`LISTED`], the running deadline's due instant and the first photo (by kind, then order).
async fn listed(
    st: &AppState,
    qy: sea_orm::Select<report::Entity>,
    limit: u64,
) -> AppResult<Vec<Listed>> {
    use sea_orm::sea_query::{Expr, ExprTrait, Query};
    let due = store::running_due();
    let first_photo = Query::select()
        .column((photo::Entity, photo::Column::FileId))
        .from(photo::Entity)
        .and_where(
            Expr::col((photo::Entity, photo::Column::CityCode))
                .equals((report::Entity, report::Column::CityCode)),
        )
        .and_where(
            Expr::col((photo::Entity, photo::Column::ReportId))
                .equals((report::Entity, report::Column::Id)),
        )
        .order_by((photo::Entity, photo::Column::Kind), sea_orm::Order::Asc)
        .order_by((photo::Entity, photo::Column::Sort), sea_orm::Order::Asc)
        .limit(1)
        .to_owned();
    let select = qy
        .select_only()
        .columns(LISTED)
        .expr_as(Expr::SubQuery(None, Box::new(due.into())), "due_us")
        .expr_as(
            Expr::SubQuery(None, Box::new(first_photo.into())),
            "photo_id",
        )
        .order_by_desc(report::Column::CreatedUs)
        .limit(limit)
        .into_query();
    Ok(platform::db::json_page(st.db.conn(), &select, &LISTED_JSON, "created_us DESC").await?)
}

/// What the listing looks up once per page instead of once per row.
struct Lookups {
    cats: std::sync::Arc<Vec<Category>>,
    agencies: std::collections::HashMap<Uuid, String>,
    villages: std::collections::HashMap<String, String>,
    /// `status_notes` of a report without a public update: its state's name, by state code.
    state_notes: std::collections::HashMap<String, String>,
    /// The start of every link (`https://host/kota/CODE`).
    base: String,
}

async fn lookups(st: &AppState, ctx: &Ctx, city: &City) -> AppResult<Lookups> {
    Ok(Lookups {
        state_notes: St::ALL
            .iter()
            .map(|x| {
                (
                    x.code().to_string(),
                    platform::i18n::t(ctx.lang, &format!("mas-state-{}", x.code())),
                )
            })
            .collect(),
        base: format!("{}{}", st.notifier.base_url(city), ctx.base),
        cats: store::categories_kept(&st.db, city).await?,
        agencies: platform::agencies::list(&st.db, city, &Default::default())
            .await?
            .into_iter()
            .map(|a| (a.id, a.name))
            .collect(),
        villages: city
            .villages()
            .into_iter()
            .map(|v| (v.code.to_string(), v.name.to_string()))
            .collect(),
    })
}

/// The public view of a report (no reporter identity or contact, ever).
fn request_v(ctx: &Ctx, city: &City, m: Listed, l: &Lookups) -> V {
    let state = St::parse(&m.state).unwrap_or(St::Diterima);
    let cat = l.cats.iter().find(|c| c.id == m.category_id);
    let agency = m.agency_id.and_then(|a| l.agencies.get(&a).cloned());
    let expected = m.due_us.map(from_us);
    let media = match m.photo_id {
        Some(p) => Some(format!("{}/pengaduan/{}/foto/{p}", l.base, m.code)),
        None => Some(m.media_url).filter(|u| !u.is_empty()),
    };
    let notes = if m.status_note.is_empty() {
        l.state_notes.get(&m.state).cloned().unwrap_or_default()
    } else {
        m.status_note
    };
    let kel = m
        .kelurahan_code
        .as_deref()
        .and_then(|k| l.villages.get(k))
        .map(|v| format!("Kel. {v}"));
    let address = [
        Some(m.address).filter(|a| !a.is_empty()),
        kel,
        Some(city.name.clone()),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ");
    V::O(vec![
        ("service_request_id", s(m.code)),
        ("status", s(state.open311())),
        ("status_notes", s(notes)),
        (
            "service_name",
            opt(cat.map(|c| c.name(ctx.lang).to_string())),
        ),
        ("service_code", opt(cat.map(|c| c.code.clone()))),
        ("description", s(m.description)),
        ("agency_responsible", opt(agency)),
        ("service_notice", V::Null),
        ("requested_datetime", s(w3c(from_us(m.created_us), city))),
        ("updated_datetime", s(w3c(from_us(m.updated_us), city))),
        ("expected_datetime", opt(expected.map(|t| w3c(t, city)))),
        ("address", s(address)),
        ("address_id", V::Null),
        ("zipcode", V::Null),
        ("lat", m.lat.map(V::N).unwrap_or(V::Null)),
        ("long", m.lon.map(V::N).unwrap_or(V::Null)),
        ("media_url", opt(media)),
    ])
}

const OPEN_STATES: [St; 7] = [
    St::Diterima,
    St::VerifikasiTunda,
    St::Didisposisi,
    St::Koordinasi,
    St::Diproses,
    St::Dijadwalkan,
    St::DibukaKembali,
];
const CLOSED_STATES: [St; 5] = [
    St::SelesaiLangsung,
    St::ButuhAnggaran,
    St::BukanWewenang,
    St::Ditolak,
    St::Duplikat,
];

async fn requests(
    st: &AppState,
    ctx: &Ctx,
    city: &City,
    params: &BTreeMap<String, String>,
    fmt: Fmt,
) -> AppResult<Response> {
    let now = st.notifier.now();
    let cats = store::categories_kept(&st.db, city).await?;
    let mut qy = report::Entity::find()
        .filter(report::Column::CityCode.eq(&city.code))
        .filter(report::Column::Privacy.ne("confidential"));
    if let Some(ids) = q(params, "service_request_id") {
        let ids: Vec<String> = ids
            .split(',')
            .map(|x| x.trim().to_uppercase())
            .filter(|x| !x.is_empty())
            .take(1000)
            .collect();
        qy = qy.filter(report::Column::Code.is_in(ids));
    } else {
        if let Some(codes) = q(params, "service_code") {
            let wanted: Vec<&str> = codes.split(',').map(str::trim).collect();
            let ids: Vec<Uuid> = cats
                .iter()
                .filter(|c| wanted.contains(&c.code.as_str()))
                .map(|c| c.id)
                .collect();
            qy = qy.filter(report::Column::CategoryId.is_in(ids));
        }
        let start = match q(params, "start_date") {
            Some(v) => match parse_w3c(v, city) {
                Some(t) => Some(t),
                None => {
                    return Ok(error(
                        fmt,
                        StatusCode::BAD_REQUEST,
                        "start_date is not a W3C datetime (2026-11-01T00:00:00+07:00)",
                    ));
                }
            },
            None => None,
        };
        let end = match q(params, "end_date") {
            Some(v) => match parse_w3c(v, city) {
                Some(t) => Some(t),
                None => {
                    return Ok(error(
                        fmt,
                        StatusCode::BAD_REQUEST,
                        "end_date is not a W3C datetime (2026-11-30T23:59:59+07:00)",
                    ));
                }
            },
            None => None,
        };
        let (start, end) = match (start, end) {
            (Some(a), Some(b)) => (a, b),
            (Some(a), None) => (a, (a + Duration::days(90)).min(now)),
            (None, Some(b)) => (b - Duration::days(90), b),
            (None, None) => (now - Duration::days(90), now),
        };
        if end < start {
            return Ok(error(
                fmt,
                StatusCode::BAD_REQUEST,
                "end_date is before start_date",
            ));
        }
        if end - start > Duration::days(90) {
            return Ok(error(
                fmt,
                StatusCode::BAD_REQUEST,
                "start_date and end_date may be at most 90 days apart",
            ));
        }
        qy = qy
            .filter(report::Column::CreatedUs.gte(to_us(start)))
            .filter(report::Column::CreatedUs.lte(to_us(end)));
        if let Some(status) = q(params, "status") {
            let mut states: Vec<&str> = Vec::new();
            for part in status.split(',').map(str::trim) {
                match part {
                    "open" => states.extend(OPEN_STATES.iter().map(|s| s.code())),
                    "closed" => states.extend(CLOSED_STATES.iter().map(|s| s.code())),
                    _ => {
                        return Ok(error(
                            fmt,
                            StatusCode::BAD_REQUEST,
                            "status must be open, closed, or both",
                        ));
                    }
                }
            }
            qy = qy.filter(report::Column::State.is_in(states));
        }
    }
    // Newest first along the (city_code, created_us) index: no sort of the whole window.
    let rows = listed(st, qy, 1000).await?;
    let l = lookups(st, ctx, city).await?;
    let list = rows
        .into_iter()
        .map(|m| request_v(ctx, city, m, &l))
        .collect();
    Ok(respond(
        fmt,
        StatusCode::OK,
        "service_requests",
        V::L("request", list),
    ))
}

/// `GET /open311/v2/requests/{id}.{fmt}` and `GET /open311/v2/tokens/{token}.{fmt}`
pub async fn get_request(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(file): Path<String>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Response {
    let (id, fmt, city) = match resource(&st, &ctx, &file, &params).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let qy = report::Entity::find()
        .filter(report::Column::CityCode.eq(&city.code))
        .filter(report::Column::Code.eq(id.trim().to_uppercase()))
        .filter(report::Column::Privacy.ne("confidential"));
    match listed(&st, qy, 1).await.map(|mut v| v.pop()) {
        Ok(Some(m)) => match lookups(&st, &ctx, &city).await {
            Ok(l) => respond(
                fmt,
                StatusCode::OK,
                "service_requests",
                V::L("request", vec![request_v(&ctx, &city, m, &l)]),
            ),
            Err(e) => internal(fmt, e),
        },
        Ok(None) => error(fmt, StatusCode::NOT_FOUND, "service_request_id not found"),
        Err(e) => internal(fmt, e),
    }
}

/// Tokens are never issued (every service is realtime); any token is unknown.
pub async fn get_token(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(file): Path<String>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Response {
    let fmt = match resource(&st, &ctx, &file, &params).await {
        Ok((_, fmt, _)) => fmt,
        Err(r) => return r,
    };
    error(
        fmt,
        StatusCode::NOT_FOUND,
        "token not found: this server answers with service_request_id at once",
    )
}

pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.trim().as_bytes()))
}

/// An API key for Open311 clients; the secret is shown once.
pub async fn issue_key(
    db: &platform::db::Db,
    city: &City,
    actor: &Actor,
    name: &str,
) -> AppResult<(Uuid, String)> {
    if name.trim().is_empty() {
        return Err(AppError::invalid("name", "required"));
    }
    let secret = format!(
        "o311_{}{}",
        Uuid::new_v4().simple(),
        Uuid::new_v4().simple()
    );
    let id = kernel::ids::new_id();
    let mut tx = db.tx().await?;
    api_key::ActiveModel {
        city_code: Set(city.code.clone()),
        id: Set(id),
        name: Set(name.trim().into()),
        key_hash: Set(hash_key(&secret)),
        prefix: Set(secret.chars().take(10).collect()),
        created_us: Set(to_us(Utc::now())),
        revoked: Set(false),
    }
    .insert(&*tx)
    .await?;
    tx.audit(
        &city.code,
        actor,
        Change {
            action: "masyarakat.open311_key",
            subject_type: "open311_key",
            subject_id: id.to_string(),
            before: None,
            after: Some(serde_json::json!({ "name": name.trim() })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok((id, secret))
}

/// Parses `application/x-www-form-urlencoded`, keeping `attribute[CODE]` and `attribute[CODE][]`.
fn parse_form(body: &[u8]) -> (BTreeMap<String, String>, BTreeMap<String, Vec<String>>) {
    let mut plain = BTreeMap::new();
    let mut attrs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        if let Some(rest) = k.strip_prefix("attribute[") {
            let code = rest
                .trim_end_matches("[]")
                .trim_end_matches(']')
                .to_string();
            attrs.entry(code).or_default().push(v.into_owned());
        } else {
            plain.insert(k.into_owned(), v.into_owned());
        }
    }
    (plain, attrs)
}

#[derive(Serialize)]
struct Contact<'a> {
    email: &'a str,
    first_name: &'a str,
    last_name: &'a str,
    phone: &'a str,
    device_id: &'a str,
    account_id: &'a str,
    api_client: Uuid,
}

/// `POST /open311/v2/requests.{fmt}`
pub async fn post_request(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(doc): Path<String>,
    body: Bytes,
) -> Response {
    let Some((name, fmt)) = split_fmt(&doc) else {
        return error(
            Fmt::Json,
            StatusCode::NOT_FOUND,
            "unknown resource; add .xml or .json",
        );
    };
    if name != "requests" {
        return error(fmt, StatusCode::NOT_FOUND, "only requests accept POST");
    }
    let (form, attrs) = parse_form(&body);
    let city = match jurisdiction(&st, &ctx, q(&form, "jurisdiction_id"), fmt).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    // The key first: a wrong key learns nothing else.
    let key = match q(&form, "api_key") {
        Some(k) => k,
        None => {
            return error(
                fmt,
                StatusCode::FORBIDDEN,
                "api_key is required to create a request",
            );
        }
    };
    let client = match api_key::Entity::find()
        .filter(api_key::Column::KeyHash.eq(hash_key(key)))
        .filter(api_key::Column::CityCode.eq(&city.code))
        .filter(api_key::Column::Revoked.eq(false))
        .one(st.db.conn())
        .await
    {
        Ok(Some(c)) => c,
        Ok(None) => {
            return error(
                fmt,
                StatusCode::FORBIDDEN,
                "Invalid api_key received -- can't proceed with create_request.",
            );
        }
        Err(e) => return internal(fmt, e.into()),
    };
    match create(&st, &city, &client, &form, &attrs).await {
        Ok(Ok(code)) => {
            let notice = platform::i18n::t(ctx.lang, "mas-open311-notice");
            let v = V::L(
                "request",
                vec![V::O(vec![
                    ("service_request_id", s(code)),
                    ("service_notice", s(notice)),
                    ("account_id", V::Null),
                ])],
            );
            respond(fmt, StatusCode::CREATED, "service_requests", v)
        }
        Ok(Err((status, msg))) => error(fmt, status, &msg),
        Err(e) => internal(fmt, e),
    }
}

type Refused = (StatusCode, String);

async fn create(
    st: &AppState,
    city: &City,
    client: &api_key::Model,
    form: &BTreeMap<String, String>,
    attrs: &BTreeMap<String, Vec<String>>,
) -> AppResult<Result<String, Refused>> {
    let bad = |m: &str| Ok(Err((StatusCode::BAD_REQUEST, m.to_string())));
    let Some(code) = q(form, "service_code") else {
        return bad("service_code is required");
    };
    let Some(cat) = store::category_by_code(st.db.conn(), city, code)
        .await?
        .filter(|c| c.active)
    else {
        return Ok(Err((
            StatusCode::NOT_FOUND,
            "service_code not found".into(),
        )));
    };
    let (lat, lon) = (q(form, "lat"), q(form, "long"));
    let address = q(form, "address_string").unwrap_or("").trim().to_string();
    let mut plat = None;
    let mut plon = None;
    match (lat, lon) {
        (Some(a), Some(b)) => match (a.parse::<f64>(), b.parse::<f64>()) {
            (Ok(a), Ok(b)) if a.is_finite() && b.is_finite() => {
                if !store::settings(st.db.conn(), city).await?.contains(a, b) {
                    return bad("lat/long is outside the city");
                }
                (plat, plon) = (Some(a), Some(b));
            }
            _ => return bad("lat and long must be decimal numbers"),
        },
        (Some(_), None) | (None, Some(_)) => return bad("lat and long must be sent together"),
        (None, None) if address.is_empty() && q(form, "address_id").is_none() => {
            return bad("a location is required: lat and long, address_string or address_id");
        }
        (None, None) => {}
    }
    let description = q(form, "description").unwrap_or("").trim().to_string();
    if description.chars().count() > 4000 {
        return bad("description is longer than 4000 characters");
    }
    if description.is_empty() {
        return bad("description is required");
    }
    let mut answers = BTreeMap::new();
    for qn in &cat.questions {
        let v = attrs
            .get(&qn.code)
            .and_then(|v| v.first())
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        if v.is_empty() {
            if qn.required {
                return bad(&format!("attribute[{}] is required", qn.code));
            }
            continue;
        }
        if qn.kind == "choice" && !qn.options.contains(&v) {
            return bad(&format!("attribute[{}] has an unknown value", qn.code));
        }
        answers.insert(qn.code.clone(), v);
    }
    let media_url = q(form, "media_url").unwrap_or("").trim().to_string();
    if !media_url.is_empty()
        && !matches!(
            url::Url::parse(&media_url)
                .map(|u| u.scheme().to_string())
                .as_deref(),
            Ok("http" | "https")
        )
    {
        return bad("media_url must be an http or https URL");
    }
    let contact = serde_json::to_string(&Contact {
        email: q(form, "email").unwrap_or(""),
        first_name: q(form, "first_name").unwrap_or(""),
        last_name: q(form, "last_name").unwrap_or(""),
        phone: q(form, "phone").unwrap_or(""),
        device_id: q(form, "device_id").unwrap_or(""),
        account_id: q(form, "account_id").unwrap_or(""),
        api_client: client.id,
    })
    .unwrap_or_default();
    let code = store::submit_external(
        &st.db,
        &st.notifier,
        city,
        store::External {
            client_id: client.id,
            client_name: client.name.clone(),
            category: cat,
            description,
            lat: plat,
            lon: plon,
            address,
            answers,
            contact,
            media_url,
        },
    )
    .await?;
    Ok(Ok(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_tree_prints_as_xml_and_json() {
        let v = V::L(
            "request",
            vec![V::O(vec![
                ("service_request_id", s("ADU-2026-000001")),
                ("lat", V::N(3.6)),
                ("zipcode", V::Null),
            ])],
        );
        let mut out = String::new();
        xml("service_requests", &v, &mut out);
        assert_eq!(
            out,
            "<service_requests><request><service_request_id>ADU-2026-000001</service_request_id><lat>3.6</lat><zipcode></zipcode></request></service_requests>"
        );
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"[{"service_request_id":"ADU-2026-000001","lat":3.6,"zipcode":null}]"#
        );
        let mut out = String::new();
        xml("d", &s("a<b&\"c\""), &mut out);
        assert_eq!(out, "<d>a&lt;b&amp;&quot;c&quot;</d>");
    }

    #[test]
    fn bracketed_attributes_are_read() {
        let (plain, attrs) = parse_form(b"api_key=k&service_code=lampu-jalan&attribute%5Btiang%5D=17&attribute[warna][]=a&attribute[warna][]=b&description=Mati+total");
        assert_eq!(
            plain.get("description").map(String::as_str),
            Some("Mati total")
        );
        assert_eq!(attrs.get("tiang"), Some(&vec!["17".to_string()]));
        assert_eq!(
            attrs.get("warna"),
            Some(&vec!["a".to_string(), "b".to_string()])
        );
    }
}
