//! Queries and changes of e-Masyarakat. Each change is one transaction: the report, its
//! timeline, its deadline (through `platform::deadlines`), the notices (through the outbox) and
//! the audit entry commit together or not at all. Handlers get domain types, never entities.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use chrono::{DateTime, Datelike, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select, TryIntoModel,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{self, Action, ClockOp, Closure, ClosureKind, Privacy, Refusal, State};
use crate::entity::{category, counter, event, photo, report, settings, support};
use kernel::sla::Channel;
use kernel::{FieldError, FieldErrors, Lang, roles::Role};
use platform::accounts::Account;
use platform::audit::{Actor, Change, Tx};
use platform::city::City;
use platform::clock::{from_us, to_us};
use platform::db::Db;
use platform::deadlines::{self, NewDeadline};
use platform::entity::{account, agency};
use platform::error::{AppError, AppResult};
use platform::files::FileStore;
use platform::memo::{self, Memo};
use platform::notify::{Notice, Notifier, Person};

/// The subject type of the room's deadlines and audit entries.
pub const SUBJECT: &str = "pengaduan";

/// An extra question of a category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Question {
    pub code: String,
    pub label_id: String,
    pub label_en: String,
    /// `text`, `number` or `choice`
    pub kind: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub options: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Category {
    pub id: Uuid,
    pub code: String,
    pub name_id: String,
    pub name_en: String,
    pub description: String,
    pub agency_id: Option<Uuid>,
    pub questions: Vec<Question>,
    pub keywords: String,
    pub active: bool,
}

impl Category {
    pub fn name(&self, lang: Lang) -> &str {
        if lang == Lang::Id {
            &self.name_id
        } else {
            &self.name_en
        }
    }
    /// The name in a language given by code (`id`, `en`), for templates.
    pub fn name_for(&self, lang_code: &str) -> &str {
        self.name(Lang::parse(lang_code).unwrap_or_default())
    }
}

impl From<category::Model> for Category {
    fn from(m: category::Model) -> Self {
        Category {
            id: m.id,
            code: m.code,
            name_id: m.name_id,
            name_en: m.name_en,
            description: m.description,
            agency_id: m.agency_id,
            questions: serde_json::from_str(&m.questions).unwrap_or_default(),
            keywords: m.keywords,
            active: m.active,
        }
    }
}

pub async fn categories<C: ConnectionTrait>(
    conn: &C,
    city: &City,
    active_only: bool,
) -> AppResult<Vec<Category>> {
    let mut q = category::Entity::find().filter(category::Column::CityCode.eq(&city.code));
    if active_only {
        q = q.filter(category::Column::Active.eq(true));
    }
    Ok(q.order_by_asc(category::Column::Sort)
        .order_by_asc(category::Column::NameId)
        .all(conn)
        .await?
        .into_iter()
        .map(Category::from)
        .collect())
}

/// What a submission reads of the city's setup, kept a minute per database and city: the
/// categories and the city's box. A change made here forgets them at once; another instance's
/// change is seen within the minute.
static CATEGORIES: LazyLock<Memo<Vec<Category>>> = LazyLock::new(|| Memo::new(MINUTE));
static SETTINGS: LazyLock<Memo<Settings>> = LazyLock::new(|| Memo::new(MINUTE));
const MINUTE: std::time::Duration = std::time::Duration::from_secs(60);

fn forget_reference(db: &Db, city: &City) {
    let key = memo::key(db, city);
    CATEGORIES.forget(&key);
    SETTINGS.forget(&key);
}

/// All the city's categories (switched-off ones too), from the minute's memo.
pub async fn categories_kept(db: &Db, city: &City) -> AppResult<Arc<Vec<Category>>> {
    CATEGORIES
        .get_or_load(memo::key(db, city), async || {
            categories(db.conn(), city, false).await
        })
        .await
}

/// The city's box and duplicate window, from the minute's memo.
pub async fn settings_kept(db: &Db, city: &City) -> AppResult<Settings> {
    let kept = SETTINGS
        .get_or_load(memo::key(db, city), async || {
            settings(db.conn(), city).await
        })
        .await?;
    Ok(*kept)
}

pub async fn category_by_code<C: ConnectionTrait>(
    conn: &C,
    city: &City,
    code: &str,
) -> AppResult<Option<Category>> {
    Ok(category::Entity::find()
        .filter(category::Column::CityCode.eq(&city.code))
        .filter(category::Column::Code.eq(code))
        .one(conn)
        .await?
        .map(Category::from))
}

/// A category as an admin defines it.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct CategoryInput {
    pub code: String,
    pub name_id: String,
    pub name_en: String,
    pub description: String,
    pub agency_id: Option<Uuid>,
    pub questions: Vec<Question>,
    pub keywords: String,
    pub sort: i32,
}

/// Creates a category (its code is the Open311 `service_code`).
pub async fn create_category(
    db: &Db,
    city: &City,
    actor: &Actor,
    input: &CategoryInput,
) -> AppResult<Category> {
    let mut errs = check_category(input);
    let code = input.code.trim().to_lowercase();
    if code.is_empty()
        || code.len() > 40
        || !code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        errs.add("code", "service_code_invalid");
    }
    if category_by_code(db.conn(), city, &code).await?.is_some() {
        errs.add("code", "service_code_taken");
    }
    errs.into_result().map_err(AppError::Invalid)?;
    let mut tx = db.tx().await?;
    let m = category::ActiveModel {
        city_code: Set(city.code.clone()),
        id: Set(kernel::ids::new_id()),
        code: Set(code.clone()),
        name_id: Set(input.name_id.trim().into()),
        name_en: Set(input.name_en.trim().into()),
        description: Set(input.description.trim().into()),
        agency_id: Set(input.agency_id),
        questions: Set(serde_json::to_string(&input.questions).unwrap_or_else(|_| "[]".into())),
        keywords: Set(input.keywords.trim().into()),
        active: Set(true),
        sort: Set(input.sort),
    }
    .insert(&*tx)
    .await?;
    tx.audit(
        &city.code,
        actor,
        Change {
            action: "masyarakat.category_create",
            subject_type: "kategori",
            subject_id: code,
            before: None,
            after: serde_json::to_value(input).ok(),
        },
    )
    .await?;
    tx.commit().await?;
    forget_reference(db, city);
    Ok(m.into())
}

/// Names and questions of a category (its code is checked where it is chosen).
fn check_category(input: &CategoryInput) -> FieldErrors {
    let mut errs = FieldErrors::default();
    if input.name_id.trim().is_empty() {
        errs.add("name_id", "required");
    }
    if input.name_en.trim().is_empty() {
        errs.add("name_en", "required");
    }
    for q in &input.questions {
        if !matches!(q.kind.as_str(), "text" | "number" | "choice")
            || q.code.is_empty()
            || (q.kind == "choice" && q.options.is_empty())
        {
            errs.push(
                FieldError::new("questions", "question_invalid").with_arg("code", q.code.clone()),
            );
        }
    }
    errs
}

/// Changes a category's names, agency, questions and whether citizens can pick it (its code,
/// the Open311 `service_code`, stays).
pub async fn update_category(
    db: &Db,
    city: &City,
    actor: &Actor,
    code: &str,
    input: &CategoryInput,
    active: bool,
) -> AppResult<Category> {
    check_category(input)
        .into_result()
        .map_err(AppError::Invalid)?;
    let mut tx = db.tx().await?;
    let Some(m) = category::Entity::find()
        .filter(category::Column::CityCode.eq(&city.code))
        .filter(category::Column::Code.eq(code))
        .one(&*tx)
        .await?
    else {
        return Err(AppError::NotFound);
    };
    let before = Category::from(m.clone());
    let mut am: category::ActiveModel = m.into();
    am.name_id = Set(input.name_id.trim().into());
    am.name_en = Set(input.name_en.trim().into());
    am.description = Set(input.description.trim().into());
    am.agency_id = Set(input.agency_id);
    am.questions = Set(serde_json::to_string(&input.questions).unwrap_or_else(|_| "[]".into()));
    am.keywords = Set(input.keywords.trim().into());
    am.sort = Set(input.sort);
    am.active = Set(active);
    let m = am.update(&*tx).await?;
    tx.audit(
        &city.code,
        actor,
        Change {
            action: "masyarakat.category_update",
            subject_type: "kategori",
            subject_id: code.to_string(),
            before: serde_json::to_value(&before).ok(),
            after: serde_json::to_value(input).ok(),
        },
    )
    .await?;
    tx.commit().await?;
    forget_reference(db, city);
    Ok(m.into())
}

/// The area counted as the city and the duplicate-search window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Settings {
    pub min_lat: f64,
    pub min_lon: f64,
    pub max_lat: f64,
    pub max_lon: f64,
    pub duplicate_radius_m: i32,
    pub duplicate_days: i32,
}

impl Default for Settings {
    /// Until an admin draws the city's box, anywhere in Indonesia counts.
    fn default() -> Self {
        Settings {
            min_lat: -11.5,
            min_lon: 94.5,
            max_lat: 6.5,
            max_lon: 141.5,
            duplicate_radius_m: 150,
            duplicate_days: 30,
        }
    }
}

impl Settings {
    pub fn contains(&self, lat: f64, lon: f64) -> bool {
        (self.min_lat..=self.max_lat).contains(&lat) && (self.min_lon..=self.max_lon).contains(&lon)
    }
    pub fn centre(&self) -> (f64, f64) {
        (
            (self.min_lat + self.max_lat) / 2.0,
            (self.min_lon + self.max_lon) / 2.0,
        )
    }
}

pub async fn settings<C: ConnectionTrait>(conn: &C, city: &City) -> AppResult<Settings> {
    Ok(settings::Entity::find_by_id(city.code.clone())
        .one(conn)
        .await?
        .map(|m| Settings {
            min_lat: m.min_lat,
            min_lon: m.min_lon,
            max_lat: m.max_lat,
            max_lon: m.max_lon,
            duplicate_radius_m: m.duplicate_radius_m,
            duplicate_days: m.duplicate_days,
        })
        .unwrap_or_default())
}

pub async fn save_settings(db: &Db, city: &City, actor: &Actor, s: Settings) -> AppResult<()> {
    let mut errs = FieldErrors::default();
    if !(s.min_lat < s.max_lat
        && s.min_lon < s.max_lon
        && (-90.0..=90.0).contains(&s.min_lat)
        && (-90.0..=90.0).contains(&s.max_lat))
    {
        errs.add("bounds", "bounds_invalid");
    }
    if !(10..=5000).contains(&s.duplicate_radius_m) {
        errs.push(
            FieldError::new("duplicate_radius_m", "number_range")
                .with_arg("min", 10)
                .with_arg("max", 5000),
        );
    }
    if !(1..=365).contains(&s.duplicate_days) {
        errs.push(
            FieldError::new("duplicate_days", "number_range")
                .with_arg("min", 1)
                .with_arg("max", 365),
        );
    }
    errs.into_result().map_err(AppError::Invalid)?;
    let mut tx = db.tx().await?;
    let exists = settings::Entity::find_by_id(city.code.clone())
        .one(&*tx)
        .await?
        .is_some();
    let am = settings::ActiveModel {
        city_code: Set(city.code.clone()),
        min_lat: Set(s.min_lat),
        min_lon: Set(s.min_lon),
        max_lat: Set(s.max_lat),
        max_lon: Set(s.max_lon),
        duplicate_radius_m: Set(s.duplicate_radius_m),
        duplicate_days: Set(s.duplicate_days),
    };
    if exists {
        am.update(&*tx).await?;
    } else {
        am.insert(&*tx).await?;
    }
    tx.audit(
        &city.code,
        actor,
        Change {
            action: "masyarakat.settings",
            subject_type: "pengaturan",
            subject_id: city.code.clone(),
            before: None,
            after: serde_json::to_value(s).ok(),
        },
    )
    .await?;
    tx.commit().await?;
    forget_reference(db, city);
    Ok(())
}

/// A complaint as the room reads it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub id: Uuid,
    pub code: String,
    pub category_id: Uuid,
    pub description: String,
    #[schema(value_type = String)]
    pub privacy: Privacy,
    #[serde(skip)]
    pub reporter_id: Uuid,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub kelurahan_code: Option<String>,
    /// `reporter`, `boundary`, `nearest` (an estimate) or empty.
    pub kelurahan_source: String,
    pub address: String,
    pub answers: BTreeMap<String, String>,
    #[schema(value_type = String)]
    pub state: State,
    pub agency_id: Option<Uuid>,
    pub assignee_id: Option<Uuid>,
    #[schema(value_type = Option<String>)]
    pub closure: Option<ClosureKind>,
    pub closure_note: String,
    pub after_photo: Option<Uuid>,
    pub estimate_rupiah: Option<i64>,
    pub programme: String,
    pub budget_agency_id: Option<Uuid>,
    pub referred_to: String,
    pub duplicate_of: Option<Uuid>,
    pub awaiting_confirmation: bool,
    pub confirm_due_at: Option<DateTime<Utc>>,
    pub confirmation: Option<String>,
    pub supporters: i32,
    pub status_note: String,
    pub photos: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub verified_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
}

fn to_report(m: report::Model, photos: Vec<Uuid>) -> Report {
    Report {
        id: m.id,
        code: m.code,
        category_id: m.category_id,
        description: m.description,
        privacy: Privacy::parse(&m.privacy).unwrap_or(Privacy::Confidential),
        reporter_id: m.reporter_id,
        lat: m.lat,
        lon: m.lon,
        kelurahan_code: m.kelurahan_code,
        kelurahan_source: m.kelurahan_source,
        address: m.address,
        answers: serde_json::from_str(&m.answers).unwrap_or_default(),
        state: State::parse(&m.state).unwrap_or(State::Diterima),
        agency_id: m.agency_id,
        assignee_id: m.assignee_id,
        closure: m.closure.as_deref().and_then(ClosureKind::parse),
        closure_note: m.closure_note,
        after_photo: m.after_photo,
        estimate_rupiah: m.estimate_rupiah,
        programme: m.programme,
        budget_agency_id: m.budget_agency_id,
        referred_to: m.referred_to,
        duplicate_of: m.duplicate_of,
        awaiting_confirmation: m.awaiting_confirmation,
        confirm_due_at: m.confirm_due_us.map(from_us),
        confirmation: m.confirmation,
        supporters: m.supporters,
        status_note: m.status_note,
        photos,
        created_at: from_us(m.created_us),
        updated_at: from_us(m.updated_us),
        verified_at: m.verified_us.map(from_us),
        closed_at: m.closed_us.map(from_us),
    }
}

async fn photos_of<C: ConnectionTrait>(conn: &C, city: &City, id: Uuid) -> AppResult<Vec<Uuid>> {
    Ok(photo::Entity::find()
        .filter(photo::Column::CityCode.eq(&city.code))
        .filter(photo::Column::ReportId.eq(id))
        .filter(photo::Column::Kind.eq("before"))
        .order_by_asc(photo::Column::Sort)
        .all(conn)
        .await?
        .into_iter()
        .map(|p| p.file_id)
        .collect())
}

pub async fn get_by_code<C: ConnectionTrait>(
    conn: &C,
    city: &City,
    code: &str,
) -> AppResult<Option<Report>> {
    let Some(m) = report::Entity::find()
        .filter(report::Column::CityCode.eq(&city.code))
        .filter(report::Column::Code.eq(code.trim().to_uppercase()))
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    let photos = photos_of(conn, city, m.id).await?;
    Ok(Some(to_report(m, photos)))
}

/// What a citizen submits.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct ReportInput {
    /// The category's code.
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub description: String,
    /// public, anonymous or confidential (default public)
    #[serde(default)]
    pub privacy: String,
    #[serde(default)]
    pub lat: String,
    #[serde(default)]
    pub lon: String,
    /// The kelurahan's Kemendagri code, when there is no GPS.
    #[serde(default)]
    pub kelurahan: String,
    #[serde(default)]
    pub address: String,
    /// Answers to the category's extra questions, by question code.
    #[serde(default)]
    pub answers: BTreeMap<String, String>,
    /// Ids of photos uploaded first (`/api/v1/files`), one to three.
    #[serde(default)]
    pub photos: Vec<Uuid>,
}

pub const MAX_PHOTOS: usize = 3;

struct Checked {
    category: Category,
    description: String,
    privacy: Privacy,
    lat: Option<f64>,
    lon: Option<f64>,
    kelurahan: Option<String>,
    kelurahan_source: &'static str,
    address: String,
    answers: BTreeMap<String, String>,
    photos: Vec<Uuid>,
}

/// What a report would be refused for if sent as it stands (nothing when it would be taken):
/// for the form that asks one question at a time.
pub async fn problems(
    db: &Db,
    files: &FileStore,
    city: &City,
    reporter: &Account,
    input: &ReportInput,
) -> AppResult<FieldErrors> {
    match check(db, files, city, reporter, input).await {
        Ok(_) => Ok(FieldErrors::default()),
        Err(AppError::Invalid(errs)) => Ok(errs),
        Err(e) => Err(e),
    }
}

async fn check(
    db: &Db,
    files: &FileStore,
    city: &City,
    reporter: &Account,
    input: &ReportInput,
) -> AppResult<Checked> {
    let mut errs = FieldErrors::default();
    let category = match input.category.trim() {
        "" => {
            errs.add("category", "category_required");
            None
        }
        code => {
            let c = categories_kept(db, city)
                .await?
                .iter()
                .find(|c| c.code == code && c.active)
                .cloned();
            if c.is_none() {
                errs.add("category", "category_unknown");
            }
            c
        }
    };
    let description = input.description.trim().to_string();
    if description.chars().count() < 10 {
        errs.add("description", "description_required");
    } else if description.chars().count() > 4000 {
        errs.push(FieldError::new("description", "too_long").with_arg("max", 4000));
    }
    let privacy = match input.privacy.trim() {
        "" => Some(Privacy::Public),
        p => Privacy::parse(p),
    };
    if privacy.is_none() {
        errs.add("privacy", "choose_one");
    }
    let s = settings_kept(db, city).await?;
    let (lat, lon) = (input.lat.trim(), input.lon.trim());
    let (mut plat, mut plon) = (None, None);
    if !lat.is_empty() || !lon.is_empty() {
        match (lat.parse::<f64>(), lon.parse::<f64>()) {
            (Ok(a), Ok(b)) if a.is_finite() && b.is_finite() => {
                if s.contains(a, b) {
                    (plat, plon) = (Some(a), Some(b));
                } else {
                    errs.add("location", "location_outside_city");
                }
            }
            _ => errs.add("location", "location_invalid"),
        }
    }
    let kelurahan = match input.kelurahan.trim() {
        "" => None,
        k => {
            if city.villages().iter().any(|v| v.code == k) {
                Some(k.to_string())
            } else {
                errs.add("kelurahan", "region_not_in_city");
                None
            }
        }
    };
    if plat.is_none()
        && kelurahan.is_none()
        && errs.get("location").is_none()
        && errs.get("kelurahan").is_none()
    {
        errs.add("location", "location_required");
    }
    let address = input.address.trim().to_string();
    if address.chars().count() > 300 {
        errs.push(FieldError::new("address", "too_long").with_arg("max", 300));
    }
    let mut answers = BTreeMap::new();
    if let Some(c) = &category {
        for q in &c.questions {
            let v = input.answers.get(&q.code).map(|s| s.trim()).unwrap_or("");
            let field = format!("q_{}", q.code);
            if v.is_empty() {
                if q.required {
                    errs.add(&field, "required");
                }
                continue;
            }
            match q.kind.as_str() {
                "number" if v.replace(',', ".").parse::<f64>().is_err() => {
                    errs.add(&field, "number_invalid")
                }
                "choice" if !q.options.iter().any(|o| o == v) => errs.add(&field, "choose_one"),
                _ if v.chars().count() > 500 => {
                    errs.push(FieldError::new(&field, "too_long").with_arg("max", 500))
                }
                _ => {
                    answers.insert(q.code.clone(), v.to_string());
                }
            }
        }
    }
    let mut photos = Vec::new();
    for id in &input.photos {
        if !photos.contains(id) {
            photos.push(*id);
        }
    }
    if photos.is_empty() {
        errs.add("photos", "photo_required");
    } else if photos.len() > MAX_PHOTOS {
        errs.push(FieldError::new("photos", "photos_too_many").with_arg("max", MAX_PHOTOS));
    } else {
        for id in &photos {
            match files.get(db, city, *id).await? {
                Some(f) if f.owner_id == Some(reporter.id) => {}
                _ => {
                    errs.add("photos", "photo_invalid");
                    break;
                }
            }
        }
    }
    errs.into_result().map_err(AppError::Invalid)?;
    let (Some(category), Some(privacy)) = (category, privacy) else {
        return Err(AppError::invalid("category", "category_required"));
    };
    let (kelurahan, kelurahan_source) = match (kelurahan, plat.zip(plon)) {
        (Some(k), _) => (Some(k), "reporter"),
        (None, Some(at)) => match derive_kelurahan(db, city, at).await? {
            Some((k, src)) => (Some(k), src),
            None => (None, ""),
        },
        (None, None) => (None, ""),
    };
    Ok(Checked {
        category,
        description,
        privacy,
        lat: plat,
        lon: plon,
        kelurahan,
        kelurahan_source,
        address,
        answers,
        photos,
    })
}

/// The kelurahan of a GPS point: inside an imported boundary, else the nearest imported point or
/// report whose kelurahan a person (reporter or staff) named, within 400 m, marked as an estimate.
pub async fn derive_kelurahan(
    db: &Db,
    city: &City,
    (lat, lon): (f64, f64),
) -> AppResult<Option<(String, &'static str)>> {
    let source = |found| match found {
        kernel::geo::Found::Boundary => "boundary",
        kernel::geo::Found::Nearest(_) => "nearest",
    };
    // A boundary answers without reading any report.
    if let Some((k, found @ kernel::geo::Found::Boundary)) =
        platform::places::locate(db, city, (lat, lon), &[]).await?
    {
        return Ok(Some((k, source(found))));
    }
    let mut labelled = labelled_near(db, city, (lat, lon), platform::places::NEAREST_MAX_M).await?;
    // Where labelled reports are dense, the first ones found need not hold the nearest: look
    // again close by, and the nearest of both wins.
    if labelled.len() == LABELLED_SAMPLE as usize {
        labelled.extend(labelled_near(db, city, (lat, lon), LABELLED_CLOSE_M).await?);
    }
    Ok(platform::places::locate(db, city, (lat, lon), &labelled)
        .await?
        .map(|(k, found)| (k, source(found))))
}

/// How many labelled reports one look around a point reads.
const LABELLED_SAMPLE: u64 = 50;
/// How close the second look goes where labelled reports are dense (metres).
const LABELLED_CLOSE_M: f64 = 50.0;

/// Up to [`LABELLED_SAMPLE`] reports within `d` metres (a box) whose kelurahan a person named.
async fn labelled_near(
    db: &Db,
    city: &City,
    (lat, lon): (f64, f64),
    d: f64,
) -> AppResult<Vec<(String, (f64, f64))>> {
    let dlat = d / 111_000.0;
    let dlon = d / (111_000.0 * lat.to_radians().cos().abs().max(0.01));
    Ok(near(report::Entity::find(), city, (lat, lon), d)
        .filter(report::Column::KelurahanSource.is_in(["reporter", "staff"]))
        .filter(report::Column::Lat.between(lat - dlat, lat + dlat))
        .filter(report::Column::Lon.between(lon - dlon, lon + dlon))
        .select_only()
        .column(report::Column::KelurahanCode)
        .column(report::Column::Lat)
        .column(report::Column::Lon)
        .limit(LABELLED_SAMPLE)
        .into_tuple::<(Option<String>, Option<f64>, Option<f64>)>()
        .all(db.conn())
        .await?
        .into_iter()
        .filter_map(|(k, a, b)| Some((k?, (a?, b?))))
        .collect())
}

/// The city's reports in the grid cells within `radius_m` of a point (all the city's when the
/// radius spans too many cells); the caller still filters by the exact box or distance.
fn near(
    q: Select<report::Entity>,
    city: &City,
    at: (f64, f64),
    radius_m: f64,
) -> Select<report::Entity> {
    let q = q.filter(report::Column::CityCode.eq(&city.code));
    match kernel::geo::cells_around(at, radius_m) {
        Some(cells) => q.filter(report::Column::Cell.is_in(cells)),
        None => q,
    }
}

/// The agency a new report is suggested for: the category's, else the kelurahan's office.
pub async fn suggest_agency<C: ConnectionTrait>(
    conn: &C,
    city: &City,
    category: &Category,
    kelurahan: Option<&str>,
) -> AppResult<Option<Uuid>> {
    if category.agency_id.is_some() {
        return Ok(category.agency_id);
    }
    let Some(k) = kelurahan else { return Ok(None) };
    Ok(agency::Entity::find()
        .filter(agency::Column::CityCode.eq(&city.code))
        .filter(agency::Column::RegionCode.eq(k))
        .filter(agency::Column::Active.eq(true))
        .one(conn)
        .await?
        .map(|a| a.id))
}

async fn next_code(tx: &Tx, city: &City, year: i32) -> AppResult<String> {
    // One statement: the year's counter is created at 1 or moved up by one, and read back (with
    // the audit chain's head, which the submission's entry needs next).
    let mut upsert = counter::Entity::insert(counter::ActiveModel {
        city_code: Set(city.code.clone()),
        year: Set(year),
        last: Set(1),
    })
    .on_conflict(
        OnConflict::columns([counter::Column::CityCode, counter::Column::Year])
            .value(
                counter::Column::Last,
                sea_orm::sea_query::ExprTrait::add(
                    Expr::col((counter::Entity, counter::Column::Last)),
                    Expr::value(1),
                ),
            )
            .to_owned(),
    )
    .into_query();
    upsert.returning_col(counter::Column::Last);
    let rows = tx
        .query_with_head(&city.code, tx.get_database_backend().build(&upsert))
        .await?;
    let last: i64 = rows
        .first()
        .ok_or_else(|| sea_orm::DbErr::Custom("the ticket counter came back empty".into()))?
        .try_get("", "last")?;
    Ok(domain::ticket_code(year, last))
}

/// Records a supporter of a report once (1 when new, 0 when they already were one).
async fn add_supporter(
    tx: &Tx,
    city: &City,
    report_id: Uuid,
    account: Uuid,
    now_us: i64,
) -> AppResult<u64> {
    Ok(support::Entity::insert(support::ActiveModel {
        city_code: Set(city.code.clone()),
        report_id: Set(report_id),
        account_id: Set(account),
        created_us: Set(now_us),
    })
    .on_conflict(
        OnConflict::columns([
            support::Column::CityCode,
            support::Column::ReportId,
            support::Column::AccountId,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(&**tx)
    .await?)
}

/// A timeline line to add.
struct Ev<'a> {
    kind: &'a str,
    from: Option<State>,
    to: Option<State>,
    note: &'a str,
    internal: bool,
}

async fn add_event(
    tx: &Tx,
    city_code: &str,
    report_id: Uuid,
    at_us: i64,
    who: &Actor,
    e: Ev<'_>,
) -> AppResult<()> {
    let Ev {
        kind,
        from,
        to,
        note,
        internal,
    } = e;
    let line = event::ActiveModel {
        city_code: Set(city_code.into()),
        id: Set(kernel::ids::new_id()),
        report_id: Set(report_id),
        at_us: Set(at_us),
        actor_id: Set(who.id),
        actor_label: Set(who.label.clone()),
        kind: Set(kind.into()),
        from_state: Set(from.map(|s| s.code().to_string())),
        to_state: Set(to.map(|s| s.code().to_string())),
        note: Set(note.into()),
        internal: Set(internal),
    };
    // A timeline line is read only by later transactions: it goes with the queued writes.
    tx.insert_later(line);
    Ok(())
}

/// The room's messages (registered with the platform's wording, so admins can edit them).
pub const MESSAGES: &[platform::notify::templates::Builtin] = &[
    platform::notify::templates::Builtin {
        key: "masyarakat.received",
        about_id: "Pengaduan diterima (ke pelapor)",
        about_en: "Complaint received (to the reporter)",
        placeholders: &["code", "category", "link", "city"],
        id: (
            "Pengaduan {code} diterima",
            "Terima kasih. Pengaduan Anda ({category}) sudah kami terima dengan nomor {code}. Kami akan memeriksanya dalam 3 hari kerja.\n\nIkuti perkembangannya: {link}\n\n{city}",
            "{city}: pengaduan {code} diterima. Pantau di",
        ),
        en: (
            "Complaint {code} received",
            "Thank you. Your complaint ({category}) was received as {code}. We will check it within 3 working days.\n\nFollow it here: {link}\n\n{city}",
            "{city}: complaint {code} received. Track it at",
        ),
    },
    platform::notify::templates::Builtin {
        key: "masyarakat.update",
        about_id: "Perkembangan pengaduan (ke pelapor dan pendukung)",
        about_en: "Complaint update (to the reporter and supporters)",
        placeholders: &["code", "state", "note", "link", "city"],
        id: (
            "Pengaduan {code}: {state}",
            "Pengaduan {code} sekarang: {state}.\n\n{note}\n\nLihat: {link}\n\n{city}",
            "{city}: pengaduan {code} {state}.",
        ),
        en: (
            "Complaint {code}: {state}",
            "Complaint {code} is now: {state}.\n\n{note}\n\nSee: {link}\n\n{city}",
            "{city}: complaint {code} {state}.",
        ),
    },
    platform::notify::templates::Builtin {
        key: "masyarakat.question",
        about_id: "Petugas meminta keterangan (ke pelapor)",
        about_en: "Staff ask for more information (to the reporter)",
        placeholders: &["code", "state", "note", "link", "city"],
        id: (
            "Pengaduan {code}: mohon keterangan Anda",
            "Petugas perlu keterangan tambahan dari Anda untuk pengaduan {code}:\n\n{note}\n\nJawab di sini: {link}\nBatas waktu pemeriksaan berhenti sampai Anda menjawab.\n\n{city}",
            "{city}: pengaduan {code} perlu keterangan Anda. Jawab di",
        ),
        en: (
            "Complaint {code}: we need more information",
            "Staff need more information from you about complaint {code}:\n\n{note}\n\nAnswer here: {link}\nThe checking deadline stops until you answer.\n\n{city}",
            "{city}: complaint {code} needs your answer. Reply at",
        ),
    },
    platform::notify::templates::Builtin {
        key: "masyarakat.closed",
        about_id: "Pengaduan ditutup, pelapor diminta konfirmasi (ke pelapor dan pendukung)",
        about_en: "Complaint closed, the reporter asked to confirm (to the reporter and supporters)",
        placeholders: &["code", "state", "note", "confirm_by", "link", "city"],
        id: (
            "Pengaduan {code}: {state}",
            "Pengaduan {code} ditutup: {state}.\n\n{note}\n\nApakah masalahnya sudah beres? Beri tahu kami paling lambat {confirm_by}: {link}\nBila tidak ada jawaban sampai saat itu, pengaduan dianggap selesai.\n\n{city}",
            "{city}: pengaduan {code} ditutup ({state}). Sudah beres? Jawab paling lambat {confirm_by}:",
        ),
        en: (
            "Complaint {code}: {state}",
            "Complaint {code} was closed: {state}.\n\n{note}\n\nIs the problem solved? Tell us by {confirm_by}: {link}\nWithout an answer by then, the complaint counts as resolved.\n\n{city}",
            "{city}: complaint {code} closed ({state}). Solved? Answer by {confirm_by}:",
        ),
    },
    platform::notify::templates::Builtin {
        key: "masyarakat.confirm_reminder",
        about_id: "Pengingat: pelapor belum menjawab apakah sudah beres (ke pelapor)",
        about_en: "Reminder: the reporter has not said whether it is solved (to the reporter)",
        placeholders: &["code", "state", "confirm_by", "link", "city"],
        id: (
            "Pengaduan {code}: sudah beres?",
            "Pengaduan {code} sudah ditutup ({state}), tetapi kami belum mendengar dari Anda. Apakah masalahnya sudah beres?\n\nBeri tahu kami paling lambat {confirm_by}: {link}\nBila tidak ada jawaban sampai saat itu, pengaduan dianggap selesai.\n\n{city}",
            "{city}: pengaduan {code} sudah beres? Jawab paling lambat {confirm_by}:",
        ),
        en: (
            "Complaint {code}: is it solved?",
            "Complaint {code} was closed ({state}), but we have not heard from you. Is the problem solved?\n\nTell us by {confirm_by}: {link}\nWithout an answer by then, the complaint counts as resolved.\n\n{city}",
            "{city}: complaint {code} solved? Answer by {confirm_by}:",
        ),
    },
    platform::notify::templates::Builtin {
        key: "masyarakat.disposed",
        about_id: "Pengaduan baru untuk OPD (ke petugas)",
        about_en: "New complaint for the agency (to its officers)",
        placeholders: &["code", "category", "link", "city"],
        id: (
            "Pengaduan baru untuk OPD Anda: {code}",
            "Pengaduan {code} ({category}) didisposisikan ke OPD Anda. Tindak lanjuti dalam 5 hari kerja.\n\nBuka: {link}\n\n{city}",
            "{city}: pengaduan {code} untuk OPD Anda.",
        ),
        en: (
            "New complaint for your agency: {code}",
            "Complaint {code} ({category}) was sent to your agency. Follow it up within 5 working days.\n\nOpen: {link}\n\n{city}",
            "{city}: complaint {code} for your agency.",
        ),
    },
];

/// Registers the room's messages with the platform (idempotent).
pub fn register_messages() {
    platform::notify::templates::register(MESSAGES);
}

/// The channels a citizen hears on (each person's choices apply on top).
const CITIZEN_CHANNELS: [Channel; 3] = [Channel::InApp, Channel::Email, Channel::Sms];
const STAFF_CHANNELS: [Channel; 2] = [Channel::InApp, Channel::Email];

fn state_label(s: State, lang: Lang) -> String {
    platform::i18n::t(lang, &format!("mas-state-{}", s.code()))
}

pub fn public_path(code: &str) -> String {
    format!("/pengaduan/{code}")
}

/// A new report's own data, whichever way it came in.
struct Fresh {
    category_id: Uuid,
    description: String,
    privacy: Privacy,
    reporter_id: Uuid,
    lat: Option<f64>,
    lon: Option<f64>,
    kelurahan: Option<String>,
    kelurahan_source: &'static str,
    address: String,
    answers: BTreeMap<String, String>,
    /// Who hears of the deadline as requester (the reporter's account, if any).
    requester: Option<Uuid>,
    source: &'static str,
    contact: String,
    media_url: String,
}

/// Starts the deadline of a stage of a report (stopping none: the caller does that).
async fn start_stage(
    tx: &Tx,
    city: &City,
    now: DateTime<Utc>,
    code: &str,
    stage: domain::Stage,
    agency: Option<Uuid>,
    requester: Option<Uuid>,
) -> AppResult<Uuid> {
    deadlines::start(
        tx,
        city,
        now,
        NewDeadline {
            app: "masyarakat".into(),
            kind: stage.kind().into(),
            subject_type: SUBJECT.into(),
            subject_id: code.to_string(),
            stage: stage.code().into(),
            title: code.to_string(),
            link: format!("/staf/pengaduan/{code}"),
            agency_id: agency,
            assignee_id: None,
            requester_id: requester,
        },
    )
    .await
}

/// Numbers and inserts a new report (state `diterima`) inside the caller's transaction, with
/// its first timeline line and its verification deadline.
async fn file_new(
    tx: &Tx,
    city: &City,
    now: DateTime<Utc>,
    actor: &Actor,
    f: Fresh,
) -> AppResult<report::Model> {
    let requester = f.requester;
    let now_us = to_us(now);
    let code = next_code(tx, city, now.with_timezone(&city.tz).year()).await?;
    let id = kernel::ids::new_id();
    let filed = report::ActiveModel {
        city_code: Set(city.code.clone()),
        id: Set(id),
        code: Set(code.clone()),
        category_id: Set(f.category_id),
        description: Set(f.description),
        privacy: Set(f.privacy.code().into()),
        reporter_id: Set(f.reporter_id),
        lat: Set(f.lat),
        lon: Set(f.lon),
        cell: Set(f.lat.zip(f.lon).map(kernel::geo::cell_of)),
        kelurahan_code: Set(f.kelurahan),
        kelurahan_source: Set(f.kelurahan_source.into()),
        address: Set(f.address),
        answers: Set(serde_json::to_string(&f.answers).unwrap_or_else(|_| "{}".into())),
        state: Set(State::Diterima.code().into()),
        agency_id: Set(None),
        assignee_id: Set(None),
        closure: Set(None),
        closure_note: Set(String::new()),
        after_photo: Set(None),
        estimate_rupiah: Set(None),
        programme: Set(String::new()),
        budget_agency_id: Set(None),
        referred_to: Set(String::new()),
        duplicate_of: Set(None),
        awaiting_confirmation: Set(false),
        confirm_due_us: Set(None),
        confirm_remind_us: Set(None),
        confirmation: Set(None),
        satisfaction: Set(None),
        supporters: Set(0),
        status_note: Set(String::new()),
        source: Set(f.source.into()),
        contact: Set(f.contact),
        media_url: Set(f.media_url),
        created_us: Set(now_us),
        updated_us: Set(now_us),
        verified_us: Set(None),
        closed_us: Set(None),
    };
    // The new row goes with the transaction's queued writes; the answer is what was written.
    tx.insert_later(filed.clone());
    let filed = filed.try_into_model()?;
    add_event(
        tx,
        &city.code,
        id,
        now_us,
        actor,
        Ev {
            kind: "submit",
            from: None,
            to: Some(State::Diterima),
            note: "",
            internal: false,
        },
    )
    .await?;
    start_stage(
        tx,
        city,
        now,
        &code,
        domain::Stage::Verification,
        None,
        requester,
    )
    .await?;
    Ok(filed)
}

/// Submits a complaint: ticket code, photos, timeline, the verification deadline and the
/// reporter's receipt, in one transaction.
pub async fn submit(
    db: &Db,
    notifier: &Notifier,
    files: &FileStore,
    city: &City,
    reporter: &Account,
    input: &ReportInput,
) -> AppResult<Report> {
    let c = check(db, files, city, reporter, input).await?;
    let now = notifier.now();
    let prefs = platform::notify::prefs_of(db.conn(), &city.code, reporter.id).await?;
    let mut tx = db.tx().await?;
    let actor = reporter.actor();
    let filed = file_new(
        &tx,
        city,
        now,
        &actor,
        Fresh {
            category_id: c.category.id,
            description: c.description,
            privacy: c.privacy,
            reporter_id: reporter.id,
            lat: c.lat,
            lon: c.lon,
            kelurahan: c.kelurahan,
            kelurahan_source: c.kelurahan_source,
            address: c.address,
            answers: c.answers,
            requester: Some(reporter.id),
            source: "web",
            contact: String::new(),
            media_url: String::new(),
        },
    )
    .await?;
    let (id, code) = (filed.id, filed.code.clone());
    for (i, f) in c.photos.iter().enumerate() {
        let row = photo::ActiveModel {
            city_code: Set(city.code.clone()),
            report_id: Set(id),
            file_id: Set(*f),
            kind: Set("before".into()),
            sort: Set(i32::try_from(i).unwrap_or(0)),
        };
        tx.insert_later(row);
    }
    let cat = c.category.clone();
    let code_v = code.clone();
    let vars = move |lang: Lang| {
        vec![
            ("code", code_v.clone()),
            ("category", cat.name(lang).to_string()),
        ]
    };
    notifier
        .enqueue_later(
            &tx,
            city,
            &[Person::from_account_view(reporter, prefs)],
            &CITIZEN_CHANNELS,
            &Notice {
                template: "masyarakat.received",
                vars: &vars,
                link: Some(public_path(&code)),
                source_type: SUBJECT,
                source_id: code.clone(),
                key: receipt_key(&code),
            },
        )
        .await?;
    tx.audit(
        &city.code,
        &actor,
        Change {
            action: "masyarakat.submit",
            subject_type: SUBJECT,
            subject_id: code.clone(),
            before: None,
            after: Some(
                serde_json::json!({ "category": c.category.code, "privacy": c.privacy.code() }),
            ),
        },
    )
    .await?;
    tx.commit().await?;
    // What was just written, as read back (photos in their order): no second trip for it.
    Ok(to_report(filed, c.photos))
}

/// The key of the reporter's receipt for a new report (its outbox rows carry it).
pub fn receipt_key(code: &str) -> String {
    format!("mas:{code}:received")
}

/// A report from an Open311 client (no account: the client's key stands as reporter).
pub struct External {
    pub client_id: Uuid,
    pub client_name: String,
    pub category: Category,
    pub description: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub address: String,
    pub answers: BTreeMap<String, String>,
    pub contact: String,
    pub media_url: String,
}

/// Files an Open311 report with its verification deadline, timeline and audit.
pub async fn submit_external(
    db: &Db,
    notifier: &Notifier,
    city: &City,
    e: External,
) -> AppResult<String> {
    let now = notifier.now();
    let (kelurahan, kelurahan_source) = match e.lat.zip(e.lon) {
        Some(at) => match derive_kelurahan(db, city, at).await? {
            Some((k, src)) => (Some(k), src),
            None => (None, ""),
        },
        None => (None, ""),
    };
    let mut tx = db.tx().await?;
    let actor = Actor {
        id: Some(e.client_id),
        label: format!("open311:{}", e.client_name),
    };
    let code = file_new(
        &tx,
        city,
        now,
        &actor,
        Fresh {
            category_id: e.category.id,
            description: e.description,
            privacy: Privacy::Public,
            reporter_id: e.client_id,
            lat: e.lat,
            lon: e.lon,
            kelurahan,
            kelurahan_source,
            address: e.address,
            answers: e.answers,
            requester: None,
            source: "open311",
            contact: e.contact,
            media_url: e.media_url,
        },
    )
    .await?
    .code;
    tx.audit(
        &city.code,
        &actor,
        Change {
            action: "masyarakat.submit",
            subject_type: SUBJECT,
            subject_id: code.clone(),
            before: None,
            after: Some(serde_json::json!({ "category": e.category.code, "source": "open311" })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(code)
}

/// A sample report for the demo city (source `demo`): filed like a citizen's, without photos.
#[allow(clippy::too_many_arguments)]
pub async fn file_sample(
    db: &Db,
    city: &City,
    reporter: Uuid,
    category: &str,
    description: &str,
    (lat, lon): (f64, f64),
    kelurahan: &str,
    address: &str,
    now: DateTime<Utc>,
) -> AppResult<String> {
    let Some(cat) = category_by_code(db.conn(), city, category).await? else {
        return Err(AppError::NotFound);
    };
    let actor = Actor {
        id: None,
        label: "demo".into(),
    };
    let mut tx = db.tx().await?;
    let code = file_new(
        &tx,
        city,
        now,
        &actor,
        Fresh {
            category_id: cat.id,
            description: description.into(),
            privacy: Privacy::Public,
            reporter_id: reporter,
            lat: Some(lat),
            lon: Some(lon),
            kelurahan: Some(kelurahan.into()),
            kelurahan_source: "reporter",
            address: address.into(),
            answers: BTreeMap::new(),
            requester: Some(reporter),
            source: "demo",
            contact: String::new(),
            media_url: String::new(),
        },
    )
    .await?
    .code;
    tx.audit(
        &city.code,
        &actor,
        Change {
            action: "masyarakat.submit",
            subject_type: SUBJECT,
            subject_id: code.clone(),
            before: None,
            after: Some(serde_json::json!({ "category": category, "source": "demo" })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(code)
}

/// Who the account is to this report.
pub fn actor_for(report: &Report, who: &Account) -> Option<domain::Actor> {
    if who.id == report.reporter_id {
        return Some(domain::Actor::Reporter);
    }
    match who.role {
        Role::Admin | Role::Operator => Some(domain::Actor::Verifier),
        Role::Officer | Role::Head
            if who.agency_id.is_some() && who.agency_id == report.agency_id =>
        {
            Some(domain::Actor::Agency)
        }
        _ => None,
    }
}

/// An action on a report, posted by a person.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct ActionInput {
    /// dispose, hold, answer, start, schedule, coordinate, close, confirm, dispute
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub agency: String,
    /// The public text: disposition or coordination note, question, answer, schedule, closing
    /// answer or dispute reason.
    #[serde(default)]
    pub note: String,
    /// close: fixed_directly, needs_budget, not_our_authority, rejected, duplicate
    #[serde(default)]
    pub closure: String,
    #[serde(default)]
    pub after_photo: String,
    #[serde(default)]
    pub estimate: String,
    #[serde(default)]
    pub programme: String,
    #[serde(default)]
    pub budget_agency: String,
    #[serde(default)]
    pub referred_to: String,
    #[serde(default)]
    pub duplicate_of: String,
}

fn uuid_field(errs: &mut FieldErrors, field: &str, s: &str, key: &'static str) -> Option<Uuid> {
    match s.trim() {
        "" => None,
        v => match Uuid::parse_str(v) {
            Ok(u) => Some(u),
            Err(_) => {
                errs.add(field, key);
                None
            }
        },
    }
}

fn parse_action(input: &ActionInput) -> Result<Action, FieldErrors> {
    let mut errs = FieldErrors::default();
    let note = input.note.clone();
    let action = match input.action.as_str() {
        "dispose" | "coordinate" => {
            let agency = uuid_field(&mut errs, "agency", &input.agency, "agency_required");
            match agency {
                Some(a) if input.action == "dispose" => Some(Action::Dispose { agency: a, note }),
                Some(a) => Some(Action::Coordinate { agency: a, note }),
                None => {
                    if errs.is_empty() {
                        errs.add("agency", "agency_required");
                    }
                    None
                }
            }
        }
        "hold" => Some(Action::Hold { question: note }),
        "answer" => Some(Action::Answer { text: note }),
        "start" => Some(Action::Start),
        "schedule" => Some(Action::Schedule { note }),
        "confirm" => Some(Action::Confirm),
        "dispute" => Some(Action::Dispute { reason: note }),
        "close" => {
            let kind = match input.closure.trim() {
                "" => None,
                k => match ClosureKind::parse(k) {
                    Some(k) => Some(k),
                    None => {
                        errs.add("closure", "closure_required");
                        None
                    }
                },
            };
            let estimate = match input.estimate.trim() {
                "" => None,
                e => {
                    let digits: String = e.chars().filter(char::is_ascii_digit).collect();
                    match digits.parse::<i64>() {
                        Ok(n) if !digits.is_empty() && !e.contains('-') => Some(n),
                        _ => {
                            errs.add("estimate", "estimate_required");
                            None
                        }
                    }
                }
            };
            Some(Action::Close(Closure {
                kind,
                note,
                after_photo: uuid_field(
                    &mut errs,
                    "after_photo",
                    &input.after_photo,
                    "after_photo_required",
                ),
                estimate_rupiah: estimate,
                programme: input.programme.trim().to_string(),
                budget_agency: uuid_field(
                    &mut errs,
                    "budget_agency",
                    &input.budget_agency,
                    "agency_required",
                ),
                referred_to: input.referred_to.trim().to_string(),
                duplicate_of: input.duplicate_of.trim().to_uppercase(),
            }))
        }
        _ => {
            errs.add("action", "transition_not_allowed");
            None
        }
    };
    match action {
        Some(a) if errs.is_empty() => Ok(a),
        _ => Err(errs),
    }
}

fn problems_to_errors(p: Vec<domain::Problem>) -> FieldErrors {
    let mut errs = FieldErrors::default();
    for (f, k) in p {
        errs.add(f, k);
    }
    errs
}

/// Applies an action by a person, with its deadline change, timeline entry, notices and audit,
/// in one transaction. A refused action changes nothing.
pub async fn act(
    db: &Db,
    notifier: &Notifier,
    files: &FileStore,
    city: &City,
    who: &Account,
    code: &str,
    input: &ActionInput,
) -> AppResult<Report> {
    let action = parse_action(input).map_err(AppError::Invalid)?;
    let now = notifier.now();
    let now_us = to_us(now);
    let mut tx = db.tx().await?;
    let Some(m) = report::Entity::find()
        .filter(report::Column::CityCode.eq(&city.code))
        .filter(report::Column::Code.eq(code.trim().to_uppercase()))
        .one(&*tx)
        .await?
    else {
        return Err(AppError::NotFound);
    };
    let r = to_report(m.clone(), vec![]);
    let role = actor_for(&r, who).ok_or(AppError::Forbidden)?;
    let step = match domain::apply(r.state, r.awaiting_confirmation, role, &action) {
        Ok(s) => s,
        Err(Refusal::NotAllowed) => {
            return Err(AppError::invalid("action", "transition_not_allowed"));
        }
        Err(Refusal::Invalid(p)) => return Err(AppError::Invalid(problems_to_errors(p))),
    };
    // Checks that need the database.
    let mut errs = FieldErrors::default();
    let agency_ok = |id: Uuid| async move {
        agency::Entity::find_by_id((city.code.clone(), id))
            .one(db.conn())
            .await
            .map(|a| a.is_some_and(|a| a.active))
    };
    if let Some(a) = step.new_agency
        && !agency_ok(a).await?
    {
        errs.add("agency", "agency_required");
    }
    let mut master: Option<report::Model> = None;
    if let Action::Close(c) = &action {
        if let Some(a) = c.budget_agency
            && !agency_ok(a).await?
        {
            errs.add("budget_agency", "agency_required");
        }
        if let Some(p) = c.after_photo {
            match files.get(db, city, p).await? {
                Some(f) if f.owner_id == Some(who.id) => {}
                _ => errs.add("after_photo", "photo_invalid"),
            }
        }
        if c.kind == Some(ClosureKind::Duplicate) {
            master = report::Entity::find()
                .filter(report::Column::CityCode.eq(&city.code))
                .filter(report::Column::Code.eq(&c.duplicate_of))
                .one(&*tx)
                .await?
                .filter(|x| x.id != m.id && x.state != State::Duplikat.code());
            if master.is_none() {
                errs.add("duplicate_of", "duplicate_of_unknown");
            }
        }
    }
    errs.into_result().map_err(AppError::Invalid)?;

    // The deadline.
    let running = deadlines::running(&*tx, city, SUBJECT, &r.code).await?;
    match step.clock {
        ClockOp::StartStage(stage) => {
            if let Some(id) = running {
                deadlines::stop(&tx, city, id, now).await?;
            }
            start_stage(
                &tx,
                city,
                now,
                &r.code,
                stage,
                step.new_agency.or(r.agency_id),
                Some(r.reporter_id),
            )
            .await?;
        }
        ClockOp::Pause => {
            if let Some(id) = running {
                deadlines::pause(&tx, city, id, now).await?;
            }
        }
        ClockOp::Resume => {
            if let Some(id) = running {
                deadlines::resume(&tx, city, id, now).await?;
            }
        }
        ClockOp::Stop => {
            if let Some(id) = running {
                deadlines::stop(&tx, city, id, now).await?;
            }
        }
        ClockOp::None => {}
    }

    // The report.
    let (confirm_by, remind_at) = match &action {
        Action::Close(c) if c.kind.is_some_and(ClosureKind::asks_confirmation) => {
            let cal = platform::calendar::load_kept(&tx, city).await?;
            (
                cal.add_working_days(now, CONFIRM_DAYS, &[]),
                cal.add_working_days(now, CONFIRM_DAYS - REMIND_BEFORE, &[]),
            )
        }
        _ => (None, None),
    };
    let from = r.state;
    let mut am: report::ActiveModel = m.clone().into();
    am.state = Set(step.to.code().into());
    am.updated_us = Set(now_us);
    if let Some(a) = step.new_agency {
        am.agency_id = Set(Some(a));
        am.assignee_id = Set(None);
    }
    if matches!(action, Action::Dispose { .. }) && r.verified_at.is_none() {
        am.verified_us = Set(Some(now_us));
    }
    let note = note_of(&action).to_string();
    if let Action::Close(c) = &action
        && let Some(kind) = c.kind
    {
        am.closure = Set(Some(kind.code().into()));
        am.closure_note = Set(c.note.trim().into());
        am.after_photo = Set(c.after_photo);
        am.estimate_rupiah = Set(c.estimate_rupiah);
        am.programme = Set(c.programme.clone());
        am.budget_agency_id = Set(c.budget_agency);
        am.referred_to = Set(c.referred_to.clone());
        am.duplicate_of = Set(master.as_ref().map(|x| x.id));
        am.closed_us = Set(Some(now_us));
        am.awaiting_confirmation = Set(kind.asks_confirmation());
        am.confirm_due_us = Set(confirm_by.map(to_us));
        am.confirm_remind_us = Set(remind_at.map(to_us));
        am.confirmation = Set(None);
        if let Some(f) = c.after_photo {
            photo::ActiveModel {
                city_code: Set(city.code.clone()),
                report_id: Set(r.id),
                file_id: Set(f),
                kind: Set("after".into()),
                sort: Set(0),
            }
            .insert(&*tx)
            .await?;
        }
    }
    match &action {
        Action::Confirm => {
            am.awaiting_confirmation = Set(false);
            am.confirm_remind_us = Set(None);
            am.confirmation = Set(Some("confirmed".into()));
        }
        Action::Dispute { .. } => {
            am.awaiting_confirmation = Set(false);
            am.confirmation = Set(Some("disputed".into()));
            am.closure = Set(None);
            am.closed_us = Set(None);
            am.confirm_due_us = Set(None);
            am.confirm_remind_us = Set(None);
        }
        _ => {}
    }
    if step.tell_reporter && !note.is_empty() {
        am.status_note = Set(note.clone());
    }
    am.update(&*tx).await?;

    // Duplicates: the reporter and supporters follow the master.
    if let Some(master) = &master {
        let mut followers: Vec<Uuid> = support::Entity::find()
            .filter(support::Column::CityCode.eq(&city.code))
            .filter(support::Column::ReportId.eq(r.id))
            .all(&*tx)
            .await?
            .into_iter()
            .map(|s| s.account_id)
            .collect();
        followers.push(r.reporter_id);
        let mut added = 0;
        for f in followers.into_iter().filter(|f| *f != master.reporter_id) {
            added += add_supporter(&tx, city, master.id, f, now_us).await?;
        }
        report::Entity::update_many()
            .col_expr(
                report::Column::Supporters,
                sea_orm::sea_query::ExprTrait::add(
                    Expr::col(report::Column::Supporters),
                    Expr::value(i32::try_from(added).unwrap_or(0)),
                ),
            )
            .filter(report::Column::CityCode.eq(&city.code))
            .filter(report::Column::Id.eq(master.id))
            .exec(&*tx)
            .await?;
    }

    let actor = who.actor();
    add_event(
        &tx,
        &city.code,
        r.id,
        now_us,
        &actor,
        Ev {
            kind: action.code(),
            from: Some(from),
            to: Some(step.to),
            note: &note,
            internal: false,
        },
    )
    .await?;

    // Notices: the reporter and supporters; the agency's officers on a new disposition.
    if step.tell_reporter {
        let mut ids = vec![r.reporter_id];
        ids.extend(
            support::Entity::find()
                .filter(support::Column::CityCode.eq(&city.code))
                .filter(support::Column::ReportId.eq(r.id))
                .all(&*tx)
                .await?
                .into_iter()
                .map(|s| s.account_id),
        );
        let people = people_of(&*tx, city, &ids).await?;
        let (template, vars) = update_notice(city, &r.code, &action, step.to, &note, confirm_by);
        notifier
            .enqueue(
                &tx,
                city,
                &people,
                &CITIZEN_CHANNELS,
                &Notice {
                    template,
                    vars: &vars,
                    link: Some(public_path(&r.code)),
                    source_type: SUBJECT,
                    source_id: r.code.clone(),
                    key: format!("mas:{}:{}:{}", r.code, action.code(), now_us),
                },
            )
            .await?;
    }
    if let Some(a) = step.new_agency {
        let officers: Vec<Uuid> = account::Entity::find()
            .filter(account::Column::CityCode.eq(&city.code))
            .filter(account::Column::AgencyId.eq(a))
            .filter(account::Column::Role.is_in([Role::Officer.code(), Role::Head.code()]))
            .filter(account::Column::Active.eq(true))
            .all(&*tx)
            .await?
            .into_iter()
            .map(|x| x.id)
            .collect();
        tell_staff(
            &tx,
            notifier,
            city,
            &r,
            &officers,
            format!("mas:{}:to:{a}:{now_us}", r.code),
        )
        .await?;
    }
    tx.audit(
        &city.code,
        &actor,
        Change {
            action: &format!("masyarakat.{}", action.code()),
            subject_type: SUBJECT,
            subject_id: r.code.clone(),
            before: Some(serde_json::json!({ "state": from.code() })),
            after: Some(serde_json::json!({ "state": step.to.code(), "agency": step.new_agency })),
        },
    )
    .await?;
    tx.commit().await?;
    get_by_code(db.conn(), city, &r.code)
        .await?
        .ok_or(AppError::NotFound)
}

/// The words an action carries for the timeline and the reporter (a question, a reason, a note).
fn note_of(action: &Action) -> &str {
    match action {
        Action::Hold { question } => question.trim(),
        Action::Answer { text } => text.trim(),
        Action::Schedule { note } => note.trim(),
        Action::Dispute { reason } => reason.trim(),
        Action::Close(c) => c.note.trim(),
        Action::Dispose { note, .. } | Action::Coordinate { note, .. } => note.trim(),
        Action::Start | Action::Confirm => "",
    }
}

/// What the reporter and supporters are told of a step: the wording's key and its values. A
/// question asks for an answer; a closure that waits for the reporter says until when.
fn update_notice(
    city: &City,
    code: &str,
    action: &Action,
    to: State,
    note: &str,
    confirm_by: Option<DateTime<Utc>>,
) -> (
    &'static str,
    impl Fn(Lang) -> Vec<(&'static str, String)> + Sync + use<>,
) {
    let template = match (action, confirm_by) {
        (Action::Hold { .. }, _) => "masyarakat.question",
        (Action::Close(_), Some(_)) => "masyarakat.closed",
        _ => "masyarakat.update",
    };
    let (code, note, tz) = (code.to_string(), note.to_string(), city.tz);
    let vars = move |lang: Lang| {
        let mut v = vec![
            ("code", code.clone()),
            ("state", state_label(to, lang)),
            ("note", note.clone()),
        ];
        if let Some(at) = confirm_by {
            v.push(("confirm_by", kernel::format::date_long(at, tz, lang)));
        }
        v
    };
    (template, vars)
}

/// What the reporter and the report's supporters would be told if `role` took `action` now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Told {
    /// How many people hear it: the reporter and each supporter.
    pub people: usize,
    /// The message as sent (email and in-app), in the reporter's language.
    pub message: platform::notify::templates::Rendered,
    /// The reporter's language.
    pub lang: Lang,
}

/// What taking `action` now would tell the reporter and supporters, worded as the reporter
/// would get it (in their language), without changing anything; `None` when the step is
/// refused or tells nobody. Staff pages show it beside each action.
pub async fn told(
    db: &Db,
    notifier: &Notifier,
    city: &City,
    r: &Report,
    role: domain::Actor,
    action: &Action,
) -> AppResult<Option<Told>> {
    let Ok(step) = domain::apply(r.state, r.awaiting_confirmation, role, action) else {
        return Ok(None);
    };
    if !step.tell_reporter {
        return Ok(None);
    }
    let confirm_by = match action {
        Action::Close(c) if c.kind.is_some_and(ClosureKind::asks_confirmation) => {
            platform::calendar::load(db.conn(), city)
                .await?
                .add_working_days(notifier.now(), CONFIRM_DAYS, &[])
        }
        _ => None,
    };
    let (template, vars) =
        update_notice(city, &r.code, action, step.to, note_of(action), confirm_by);
    let lang = people_of(db.conn(), city, &[r.reporter_id])
        .await?
        .first()
        .map_or(Lang::Id, |p| p.lang);
    let message = notifier
        .preview(
            db.conn(),
            city,
            template,
            &vars(lang),
            Some(&public_path(&r.code)),
            lang,
        )
        .await?;
    Ok(Some(Told {
        people: 1 + usize::try_from(r.supporters).unwrap_or(0),
        message,
        lang,
    }))
}

/// Tells officers (in-app and email) that a report is now theirs to handle.
async fn tell_staff(
    tx: &Tx,
    notifier: &Notifier,
    city: &City,
    r: &Report,
    officers: &[Uuid],
    key: String,
) -> AppResult<()> {
    let people = people_of(&**tx, city, officers).await?;
    let cat = category::Entity::find_by_id((city.code.clone(), r.category_id))
        .one(&**tx)
        .await?
        .map(Category::from);
    let code = r.code.clone();
    let vars = move |lang: Lang| {
        vec![
            ("code", code.clone()),
            (
                "category",
                cat.as_ref()
                    .map(|c| c.name(lang).to_string())
                    .unwrap_or_default(),
            ),
        ]
    };
    notifier
        .enqueue(
            tx,
            city,
            &people,
            &STAFF_CHANNELS,
            &Notice {
                template: "masyarakat.disposed",
                vars: &vars,
                link: Some(format!("/staf/pengaduan/{}", r.code)),
                source_type: SUBJECT,
                source_id: r.code.clone(),
                key,
            },
        )
        .await?;
    Ok(())
}

async fn people_of<C: ConnectionTrait>(
    conn: &C,
    city: &City,
    ids: &[Uuid],
) -> AppResult<Vec<Person>> {
    let mut out = Vec::new();
    for id in ids {
        if let Some(m) = account::Entity::find_by_id((city.code.clone(), *id))
            .one(conn)
            .await?
            && m.active
        {
            let prefs = platform::notify::prefs_of(conn, &city.code, m.id).await?;
            let acc = Account::from(m);
            out.push(Person::from_account_view(&acc, prefs));
        }
    }
    Ok(out)
}

/// "Saya juga": a citizen supports and follows someone else's open report.
pub async fn support(
    db: &Db,
    notifier: &Notifier,
    city: &City,
    who: &Account,
    code: &str,
) -> AppResult<Report> {
    let now_us = to_us(notifier.now());
    let mut tx = db.tx().await?;
    let Some(m) = report::Entity::find()
        .filter(report::Column::CityCode.eq(&city.code))
        .filter(report::Column::Code.eq(code.trim().to_uppercase()))
        .one(&*tx)
        .await?
    else {
        return Err(AppError::NotFound);
    };
    if m.reporter_id == who.id {
        return Err(AppError::invalid("support", "support_own_report"));
    }
    let state = State::parse(&m.state).unwrap_or(State::Diterima);
    if state.is_closed() || !Privacy::parse(&m.privacy).is_some_and(Privacy::is_listed_publicly) {
        return Err(AppError::invalid("support", "support_not_open"));
    }
    let added = add_supporter(&tx, city, m.id, who.id, now_us).await?;
    if added == 1 {
        report::Entity::update_many()
            .col_expr(
                report::Column::Supporters,
                sea_orm::sea_query::ExprTrait::add(
                    Expr::col(report::Column::Supporters),
                    Expr::value(1),
                ),
            )
            .filter(report::Column::CityCode.eq(&city.code))
            .filter(report::Column::Id.eq(m.id))
            .exec(&*tx)
            .await?;
        add_event(
            &tx,
            &city.code,
            m.id,
            now_us,
            &who.actor(),
            Ev {
                kind: "support",
                from: None,
                to: None,
                note: "",
                internal: false,
            },
        )
        .await?;
        tx.audit(
            &city.code,
            &who.actor(),
            Change {
                action: "masyarakat.support",
                subject_type: SUBJECT,
                subject_id: m.code.clone(),
                before: None,
                after: None,
            },
        )
        .await?;
    }
    tx.commit().await?;
    get_by_code(db.conn(), city, code)
        .await?
        .ok_or(AppError::NotFound)
}

/// A closed report the reporter did not answer within its window counts as confirmed, with a
/// line in its timeline and in the audit log. Up to [`SILENCE_BATCH`] a call, oldest first (the
/// next tick takes the rest); one answered in the meantime is left as the reporter said.
pub async fn confirm_by_silence(db: &Db, now: DateTime<Utc>) -> AppResult<u64> {
    let now_us = to_us(now);
    let due = report::Entity::find()
        .filter(report::Column::AwaitingConfirmation.eq(true))
        .filter(report::Column::ConfirmDueUs.lte(now_us))
        .order_by_asc(report::Column::ConfirmDueUs)
        .limit(SILENCE_BATCH)
        .all(db.conn())
        .await?;
    if due.is_empty() {
        return Ok(0);
    }
    let mut tx = db.tx().await?;
    let mut n = 0;
    for m in due {
        let res = report::Entity::update_many()
            .col_expr(report::Column::AwaitingConfirmation, Expr::value(false))
            .col_expr(report::Column::Confirmation, Expr::value("silence"))
            .col_expr(report::Column::UpdatedUs, Expr::value(now_us))
            .filter(report::Column::CityCode.eq(&m.city_code))
            .filter(report::Column::Id.eq(m.id))
            .filter(report::Column::AwaitingConfirmation.eq(true))
            .exec(&*tx)
            .await?;
        if res.rows_affected == 0 {
            continue;
        }
        n += 1;
        let system = Actor::system();
        add_event(
            &tx,
            &m.city_code,
            m.id,
            now_us,
            &system,
            Ev {
                kind: "confirm_silence",
                from: None,
                to: None,
                note: "",
                internal: false,
            },
        )
        .await?;
        tx.audit(
            &m.city_code,
            &system,
            Change {
                action: "masyarakat.confirm_silence",
                subject_type: SUBJECT,
                subject_id: m.code.clone(),
                before: None,
                after: Some(serde_json::json!({ "confirmation": "silence" })),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(n)
}

/// How many unanswered closures one tick settles.
pub const SILENCE_BATCH: u64 = 500;

/// Working days the reporter has to confirm or dispute a closure; silence then confirms.
pub const CONFIRM_DAYS: u32 = 10;
/// Working days before that end when the reporter is reminded.
pub const REMIND_BEFORE: u32 = 2;

/// Reminds each reporter who has not answered a closure, [`REMIND_BEFORE`] working days before
/// silence confirms it: once, on their chosen channels. Up to [`SILENCE_BATCH`] a call; the
/// reminder time is cleared in the same transaction that queues the message, so an instance
/// running the same tick sends none twice.
pub async fn remind_to_confirm(
    db: &Db,
    cities: &platform::city::CityCache,
    notifier: &Notifier,
) -> AppResult<u64> {
    let now = notifier.now();
    let now_us = to_us(now);
    let due = report::Entity::find()
        .filter(report::Column::AwaitingConfirmation.eq(true))
        .filter(report::Column::ConfirmRemindUs.lte(now_us))
        .order_by_asc(report::Column::ConfirmRemindUs)
        .limit(SILENCE_BATCH)
        .all(db.conn())
        .await?;
    if due.is_empty() {
        return Ok(0);
    }
    let tx = db.tx().await?;
    let mut n = 0;
    for m in due {
        let Some(city) = cities.by_code(db, &m.city_code).await? else {
            continue;
        };
        let claimed = report::Entity::update_many()
            .col_expr(
                report::Column::ConfirmRemindUs,
                Expr::value(Option::<i64>::None),
            )
            .filter(report::Column::CityCode.eq(&m.city_code))
            .filter(report::Column::Id.eq(m.id))
            .filter(report::Column::AwaitingConfirmation.eq(true))
            .filter(report::Column::ConfirmRemindUs.is_not_null())
            .exec(&*tx)
            .await?;
        if claimed.rows_affected == 0 {
            continue;
        }
        let people = people_of(&*tx, &city, &[m.reporter_id]).await?;
        let r = to_report(m, vec![]);
        let (code, state, due_at, tz) = (r.code.clone(), r.state, r.confirm_due_at, city.tz);
        let vars = move |lang: Lang| {
            vec![
                ("code", code.clone()),
                ("state", state_label(state, lang)),
                (
                    "confirm_by",
                    due_at
                        .map(|d| kernel::format::date_long(d, tz, lang))
                        .unwrap_or_default(),
                ),
            ]
        };
        notifier
            .enqueue(
                &tx,
                &city,
                &people,
                &CITIZEN_CHANNELS,
                &Notice {
                    template: "masyarakat.confirm_reminder",
                    vars: &vars,
                    link: Some(public_path(&r.code)),
                    source_type: SUBJECT,
                    source_id: r.code.clone(),
                    key: format!("mas:{}:remind:{}", r.code, to_us(due_at.unwrap_or(now))),
                },
            )
            .await?;
        n += 1;
    }
    tx.commit().await?;
    Ok(n)
}

/// The stage whose deadline runs now, as the reporter and the public see it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Step {
    /// `verifikasi` (the city's desk) or `tindak_lanjut` (the agency).
    pub stage: String,
    /// When the stage is due, in working time of the city's calendar.
    pub due_at: Option<DateTime<Utc>>,
    /// `on_track`, `at_risk`, `breached`, or `paused` (waiting for the reporter's answer).
    pub state: String,
}

/// The report's current stage against its deadline; none when no clock runs (being worked on,
/// or closed).
pub async fn current_step(
    db: &Db,
    city: &City,
    code: &str,
    now: DateTime<Utc>,
) -> AppResult<Option<Step>> {
    Ok(deadlines::of_subject(db, city, SUBJECT, code, now)
        .await?
        .into_iter()
        .rev()
        .find(|d| d.stopped_at.is_none())
        .map(|d| Step {
            stage: d.stage,
            due_at: d.due_at.filter(|_| d.state != "paused"),
            state: d.state,
        }))
}

/// One line of the timeline.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub kind: String,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    pub note: String,
    pub internal: bool,
    /// Empty where the viewer may not know who acted.
    pub actor: String,
}

/// The timeline, oldest first; internal notes only when asked for (staff).
pub async fn timeline(
    db: &Db,
    city: &City,
    report_id: Uuid,
    with_internal: bool,
) -> AppResult<Vec<TimelineEntry>> {
    let mut q = event::Entity::find()
        .filter(event::Column::CityCode.eq(&city.code))
        .filter(event::Column::ReportId.eq(report_id));
    if !with_internal {
        q = q.filter(event::Column::Internal.eq(false));
    }
    Ok(q.order_by_asc(event::Column::AtUs)
        .order_by_asc(event::Column::Id)
        .all(db.conn())
        .await?
        .into_iter()
        .map(|e| TimelineEntry {
            at: from_us(e.at_us),
            kind: e.kind,
            from_state: e.from_state,
            to_state: e.to_state,
            note: e.note,
            internal: e.internal,
            actor: e.actor_label,
        })
        .collect())
}

/// An internal note by staff (never shown publicly).
pub async fn add_internal_note(
    db: &Db,
    notifier: &Notifier,
    city: &City,
    who: &Account,
    code: &str,
    text: &str,
) -> AppResult<()> {
    if text.trim().is_empty() {
        return Err(AppError::invalid("note", "required"));
    }
    let r = get_by_code(db.conn(), city, code)
        .await?
        .ok_or(AppError::NotFound)?;
    match actor_for(&r, who) {
        Some(domain::Actor::Verifier | domain::Actor::Agency) => {}
        _ => return Err(AppError::Forbidden),
    }
    let mut tx = db.tx().await?;
    add_event(
        &tx,
        &city.code,
        r.id,
        to_us(notifier.now()),
        &who.actor(),
        Ev {
            kind: "note",
            from: None,
            to: None,
            note: text.trim(),
            internal: true,
        },
    )
    .await?;
    tx.audit(
        &city.code,
        &who.actor(),
        Change {
            action: "masyarakat.note",
            subject_type: SUBJECT,
            subject_id: r.code.clone(),
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Staff set or correct a report's kelurahan (an estimate, or none). Kept as named by staff, so
/// it teaches the place around it like a reporter's choice; an internal timeline line and the
/// audit record the change.
pub async fn set_kelurahan(
    db: &Db,
    notifier: &Notifier,
    city: &City,
    who: &Account,
    code: &str,
    kelurahan: &str,
) -> AppResult<Report> {
    let k = kelurahan.trim();
    let Some(village) = city.villages().into_iter().find(|v| v.code == k) else {
        return Err(AppError::invalid("kelurahan", "region_not_in_city"));
    };
    let r = get_by_code(db.conn(), city, code)
        .await?
        .ok_or(AppError::NotFound)?;
    match actor_for(&r, who) {
        Some(domain::Actor::Verifier | domain::Actor::Agency) => {}
        _ => return Err(AppError::Forbidden),
    }
    let now_us = to_us(notifier.now());
    let mut tx = db.tx().await?;
    report::Entity::update_many()
        .col_expr(report::Column::KelurahanCode, Expr::value(k.to_string()))
        .col_expr(report::Column::KelurahanSource, Expr::value("staff"))
        .col_expr(report::Column::UpdatedUs, Expr::value(now_us))
        .filter(report::Column::CityCode.eq(&city.code))
        .filter(report::Column::Id.eq(r.id))
        .exec(&*tx)
        .await?;
    let note = format!("Kel. {}", village.name);
    add_event(
        &tx,
        &city.code,
        r.id,
        now_us,
        &who.actor(),
        Ev {
            kind: "kelurahan",
            from: None,
            to: None,
            note: &note,
            internal: true,
        },
    )
    .await?;
    tx.audit(
        &city.code,
        &who.actor(),
        Change {
            action: "masyarakat.kelurahan",
            subject_type: SUBJECT,
            subject_id: r.code.clone(),
            before: Some(serde_json::json!({
                "kelurahan": r.kelurahan_code,
                "source": r.kelurahan_source,
            })),
            after: Some(serde_json::json!({ "kelurahan": k, "source": "staff" })),
        },
    )
    .await?;
    tx.commit().await?;
    get_by_code(db.conn(), city, &r.code)
        .await?
        .ok_or(AppError::NotFound)
}

/// The staff inbox's filters.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct InboxFilter {
    pub state: Option<State>,
    pub agency: Option<Uuid>,
    pub category: Option<Uuid>,
    pub kelurahan: Option<String>,
    /// Only those whose running deadline is past due.
    pub overdue: bool,
}

/// The due instant (µs) of a report's running deadline, as a subquery to use on the reports
/// table (NULL when no clock runs).
pub fn running_due() -> sea_orm::sea_query::SelectStatement {
    use platform::entity::sla_clock;
    use sea_orm::sea_query::{Expr, ExprTrait, Query};
    Query::select()
        .column((sla_clock::Entity, sla_clock::Column::DueUs))
        .from(sla_clock::Entity)
        .and_where(
            Expr::col((sla_clock::Entity, sla_clock::Column::CityCode))
                .equals((report::Entity, report::Column::CityCode)),
        )
        .and_where(Expr::col((sla_clock::Entity, sla_clock::Column::SubjectType)).eq(SUBJECT))
        .and_where(
            Expr::col((sla_clock::Entity, sla_clock::Column::SubjectId))
                .equals((report::Entity, report::Column::Code)),
        )
        .and_where(Expr::col((sla_clock::Entity, sla_clock::Column::StoppedUs)).is_null())
        .limit(1)
        .to_owned()
}

/// Reports for staff, newest first, paged in the database (`before`: the last id of the
/// previous page; ids are time-ordered).
pub async fn inbox(
    db: &Db,
    city: &City,
    f: &InboxFilter,
    now: DateTime<Utc>,
    limit: u64,
    before: Option<Uuid>,
) -> AppResult<Vec<Report>> {
    let mut q = filtered(city, f, now);
    if let Some(b) = before {
        q = q.filter(report::Column::Id.lt(b));
    }
    let rows = q
        .order_by_desc(report::Column::Id)
        .limit(limit)
        .all(db.conn())
        .await?;
    Ok(rows.into_iter().map(|m| to_report(m, vec![])).collect())
}

/// Where a page of the list by deadline ends: the last row's running clock, by due instant and
/// then id (the order of the list and of the clocks' index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueCursor {
    pub due_us: i64,
    pub clock: Uuid,
}

impl DueCursor {
    /// As it goes into a URL: `<due µs>.<clock id>`.
    pub fn to_param(self) -> String {
        format!("{}.{}", self.due_us, self.clock.simple())
    }

    /// What `to_param` wrote; anything else is `None` (the list then starts at the top).
    pub fn parse(s: &str) -> Option<DueCursor> {
        let (due, clock) = s.split_once('.')?;
        Some(DueCursor {
            due_us: due.parse().ok()?,
            clock: Uuid::parse_str(clock).ok()?,
        })
    }
}

/// The next things to do: the reports whose deadline runs, the nearest due first (the most
/// overdue at the top), each with its due instant and its place in the list. A clock that
/// waits for the reporter's answer is left out. Paged by position in the clocks' index
/// (`after`: the previous page's last), so a page neither skips nor repeats a report when
/// others are handled meanwhile, and reads no more of the index however deep it goes.
pub async fn inbox_by_due(
    db: &Db,
    city: &City,
    f: &InboxFilter,
    now: DateTime<Utc>,
    limit: u64,
    after: Option<DueCursor>,
) -> AppResult<Vec<(Report, DateTime<Utc>, DueCursor)>> {
    use platform::entity::sla_clock;
    use sea_orm::sea_query::ExprTrait;
    // Driven by the running clocks in due order (their index), not by sorting the reports.
    let clock: sea_orm::RelationDef = report::Entity::belongs_to(sla_clock::Entity)
        .from((report::Column::CityCode, report::Column::Code))
        .to((sla_clock::Column::CityCode, sla_clock::Column::SubjectId))
        .into();
    let mut q = filtered(city, f, now)
        .join(sea_orm::JoinType::InnerJoin, clock)
        .filter(sla_clock::Column::StoppedUs.is_null())
        .filter(sla_clock::Column::SubjectType.eq(SUBJECT))
        .filter(sla_clock::Column::PausedSinceUs.is_null())
        .filter(sla_clock::Column::DueUs.is_not_null());
    if let Some(a) = after {
        let col = |c: sla_clock::Column| Expr::col((sla_clock::Entity, c));
        q = q.filter(
            Expr::tuple([col(sla_clock::Column::DueUs), col(sla_clock::Column::Id)])
                .gt(Expr::tuple([Expr::value(a.due_us), Expr::value(a.clock)])),
        );
    }
    let rows = q
        .order_by_asc(sla_clock::Column::DueUs)
        .order_by_asc(sla_clock::Column::Id)
        .limit(limit)
        .all(db.conn())
        .await?;
    let codes: Vec<String> = rows.iter().map(|m| m.code.clone()).collect();
    let clocks: BTreeMap<String, DueCursor> = sla_clock::Entity::find()
        .filter(sla_clock::Column::CityCode.eq(&city.code))
        .filter(sla_clock::Column::SubjectType.eq(SUBJECT))
        .filter(sla_clock::Column::SubjectId.is_in(codes))
        .filter(sla_clock::Column::StoppedUs.is_null())
        .filter(sla_clock::Column::PausedSinceUs.is_null())
        .all(db.conn())
        .await?
        .into_iter()
        .filter_map(|c| {
            let due_us = c.due_us?;
            Some((
                c.subject_id,
                DueCursor {
                    due_us,
                    clock: c.id,
                },
            ))
        })
        .collect();
    Ok(rows
        .into_iter()
        .filter_map(|m| {
            let c = *clocks.get(&m.code)?;
            Some((to_report(m, vec![]), from_us(c.due_us), c))
        })
        .collect())
}

/// How many reports the inbox's filters let through (counted in the database).
pub async fn count_filtered(
    db: &Db,
    city: &City,
    f: &InboxFilter,
    now: DateTime<Utc>,
) -> AppResult<u64> {
    Ok(sea_orm::PaginatorTrait::count(filtered(city, f, now), db.conn()).await?)
}

/// Of the reports received in `[from, until)`: how many, how many were fixed directly, how
/// many need budget (as the monthly evaluation counts them), along the index of received time.
pub async fn received_figures(
    db: &Db,
    city: &City,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> AppResult<(u64, u64, u64)> {
    let received = || {
        report::Entity::find()
            .filter(report::Column::CityCode.eq(&city.code))
            .filter(report::Column::CreatedUs.gte(to_us(from)))
            .filter(report::Column::CreatedUs.lt(to_us(until)))
    };
    let closed_as = |kind: ClosureKind| received().filter(report::Column::Closure.eq(kind.code()));
    use sea_orm::PaginatorTrait;
    Ok((
        received().count(db.conn()).await?,
        closed_as(ClosureKind::FixedDirectly)
            .count(db.conn())
            .await?,
        closed_as(ClosureKind::NeedsBudget).count(db.conn()).await?,
    ))
}

/// The reports the inbox's filters let through (city first: every index leads with it).
fn filtered(city: &City, f: &InboxFilter, now: DateTime<Utc>) -> Select<report::Entity> {
    let mut q = report::Entity::find().filter(report::Column::CityCode.eq(&city.code));
    if let Some(s) = f.state {
        q = q.filter(report::Column::State.eq(s.code()));
    }
    if let Some(a) = f.agency {
        q = q.filter(report::Column::AgencyId.eq(a));
    }
    if let Some(c) = f.category {
        q = q.filter(report::Column::CategoryId.eq(c));
    }
    if let Some(k) = &f.kelurahan {
        q = q.filter(report::Column::KelurahanCode.eq(k.clone()));
    }
    if f.overdue {
        // The reports whose running clock is past due (not paused: those wait for the
        // reporter), as a subquery on the clocks' due index: every one, however many.
        use platform::entity::sla_clock;
        use sea_orm::sea_query::Query;
        let late = Query::select()
            .column(sla_clock::Column::SubjectId)
            .from(sla_clock::Entity)
            .and_where(sla_clock::Column::CityCode.eq(&city.code))
            .and_where(sla_clock::Column::StoppedUs.is_null())
            .and_where(sla_clock::Column::DueUs.lte(to_us(now)))
            .and_where(sla_clock::Column::SubjectType.eq(SUBJECT))
            .and_where(sla_clock::Column::PausedSinceUs.is_null())
            .to_owned();
        q = q.filter(report::Column::Code.in_subquery(late));
    }
    q
}

/// The due instant of each listed report whose deadline runs (not paused): by code. Looked up
/// by the reports' codes (the clocks' subject index), a few hundred at a time, so a list or map
/// marks exactly its own late reports however many are late in the city.
pub async fn running_dues(
    db: &Db,
    city: &City,
    codes: &[String],
) -> AppResult<std::collections::HashMap<String, DateTime<Utc>>> {
    use platform::entity::sla_clock;
    let mut out = std::collections::HashMap::new();
    for chunk in codes.chunks(500) {
        let rows: Vec<(String, Option<i64>)> = sla_clock::Entity::find()
            .select_only()
            .column(sla_clock::Column::SubjectId)
            .column(sla_clock::Column::DueUs)
            .filter(sla_clock::Column::CityCode.eq(&city.code))
            .filter(sla_clock::Column::SubjectType.eq(SUBJECT))
            .filter(sla_clock::Column::SubjectId.is_in(chunk.iter().cloned()))
            .filter(sla_clock::Column::StoppedUs.is_null())
            .filter(sla_clock::Column::PausedSinceUs.is_null())
            .into_tuple()
            .all(db.conn())
            .await?;
        out.extend(rows.into_iter().filter_map(|(c, d)| Some((c, from_us(d?)))));
    }
    Ok(out)
}

/// What became of one report in a bulk disposition.
#[derive(Debug, Clone, PartialEq)]
pub enum BulkOutcome {
    Done,
    /// Refused, with the error key (e.g. `transition_not_allowed`); nothing changed for it.
    Refused(String),
}

/// Applies one action (a disposition) to several reports, each in its own transaction (one
/// refused report leaves the others done, and itself unchanged).
pub async fn act_many(
    db: &Db,
    notifier: &Notifier,
    files: &FileStore,
    city: &City,
    who: &Account,
    codes: &[String],
    input: &ActionInput,
) -> AppResult<Vec<(String, BulkOutcome)>> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for code in codes.iter().map(|c| c.trim().to_uppercase()) {
        if code.is_empty() || !seen.insert(code.clone()) {
            continue;
        }
        let outcome = match act(db, notifier, files, city, who, &code, input).await {
            Ok(_) => BulkOutcome::Done,
            Err(AppError::Invalid(e)) => BulkOutcome::Refused(
                e.0.first()
                    .map(|f| f.key.to_string())
                    .unwrap_or_else(|| "invalid".into()),
            ),
            Err(AppError::NotFound) => BulkOutcome::Refused("not_found".into()),
            Err(AppError::Forbidden) => BulkOutcome::Refused("forbidden".into()),
            Err(e) => return Err(e),
        };
        out.push((code, outcome));
    }
    Ok(out)
}

/// A reporter's own reports, newest first.
pub async fn of_reporter(
    db: &Db,
    city: &City,
    reporter: Uuid,
    limit: u64,
) -> AppResult<Vec<Report>> {
    let rows = report::Entity::find()
        .filter(report::Column::CityCode.eq(&city.code))
        .filter(report::Column::ReporterId.eq(reporter))
        .order_by_desc(report::Column::Id)
        .limit(limit)
        .all(db.conn())
        .await?;
    Ok(rows.into_iter().map(|m| to_report(m, vec![])).collect())
}

/// How many reports a city has (for the benchmark and statistics).
pub async fn count(db: &Db, city: &City) -> AppResult<u64> {
    Ok(report::Entity::find()
        .filter(report::Column::CityCode.eq(&city.code))
        .count(db.conn())
        .await?)
}

/// An open report near a place, offered while reporting ("Saya juga").
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Nearby {
    pub code: String,
    pub description: String,
    pub distance_m: u32,
    pub supporters: i32,
    pub created_at: DateTime<Utc>,
}

pub use kernel::geo::distance_m;

/// Open, public reports of a category within the city's duplicate radius and age, nearest first.
pub async fn nearby(
    db: &Db,
    city: &City,
    category: &str,
    (lat, lon): (f64, f64),
    not_by: Option<Uuid>,
    now: DateTime<Utc>,
) -> AppResult<Vec<Nearby>> {
    let Some(cat) = category_by_code(db.conn(), city, category).await? else {
        return Ok(vec![]);
    };
    let s = settings(db.conn(), city).await?;
    let radius = f64::from(s.duplicate_radius_m);
    let dlat = radius / 111_000.0;
    let dlon = radius / (111_000.0 * lat.to_radians().cos().abs().max(0.01));
    let since = to_us(now - chrono::Duration::days(i64::from(s.duplicate_days)));
    let open: Vec<&str> = State::ALL
        .iter()
        .filter(|x| !x.is_closed())
        .map(|x| x.code())
        .collect();
    let rows = near(report::Entity::find(), city, (lat, lon), radius)
        .filter(report::Column::CategoryId.eq(cat.id))
        .filter(report::Column::CreatedUs.gte(since))
        .filter(report::Column::State.is_in(open))
        .filter(report::Column::Privacy.ne(Privacy::Confidential.code()))
        .filter(report::Column::Lat.between(lat - dlat, lat + dlat))
        .filter(report::Column::Lon.between(lon - dlon, lon + dlon))
        .limit(50)
        .all(db.conn())
        .await?;
    let mut out: Vec<Nearby> = rows
        .into_iter()
        .filter(|m| Some(m.reporter_id) != not_by)
        .filter_map(|m| {
            let d = distance_m((lat, lon), (m.lat?, m.lon?));
            (d <= radius).then(|| Nearby {
                code: m.code,
                description: m.description.chars().take(140).collect(),
                distance_m: d.round() as u32,
                supporters: m.supporters,
                created_at: from_us(m.created_us),
            })
        })
        .collect();
    out.sort_by_key(|n| n.distance_m);
    out.truncate(5);
    Ok(out)
}

/// A reply template (see `entity::reply`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reply {
    pub id: Uuid,
    pub title: String,
    pub body: String,
}

/// What a reply template may name.
pub const REPLY_PLACEHOLDERS: &[&str] = &["kode", "kategori", "opd"];

pub async fn replies<C: ConnectionTrait>(conn: &C, city: &City) -> AppResult<Vec<Reply>> {
    Ok(crate::entity::reply::Entity::find()
        .filter(crate::entity::reply::Column::CityCode.eq(&city.code))
        .order_by_asc(crate::entity::reply::Column::Title)
        .all(conn)
        .await?
        .into_iter()
        .map(|m| Reply {
            id: m.id,
            title: m.title,
            body: m.body,
        })
        .collect())
}

/// Adds a reply template; an unknown `{placeholder}` is refused by name.
pub async fn add_reply(
    db: &Db,
    city: &City,
    actor: &Actor,
    title: &str,
    body: &str,
    now: DateTime<Utc>,
) -> AppResult<Reply> {
    use crate::entity::reply;
    let (title, body) = (title.trim(), body.trim());
    let mut errs = FieldErrors::default();
    if title.is_empty() {
        errs.add("title", "required");
    } else if title.chars().count() > 80 {
        errs.push(FieldError::new("title", "too_long").with_arg("max", 80));
    }
    if body.is_empty() {
        errs.add("body", "required");
    } else if body.chars().count() > 1000 {
        errs.push(FieldError::new("body", "too_long").with_arg("max", 1000));
    } else if let Some(p) = kernel::message::unknown_placeholder(body, REPLY_PLACEHOLDERS) {
        errs.push(
            FieldError::new("body", "template_placeholder")
                .with_arg("name", format!("{{{p}}}"))
                .with_arg("known", "{kode} {kategori} {opd}"),
        );
    }
    errs.into_result().map_err(AppError::Invalid)?;
    let mut tx = db.tx().await?;
    let m = reply::ActiveModel {
        city_code: Set(city.code.clone()),
        id: Set(kernel::ids::new_id()),
        title: Set(title.into()),
        body: Set(body.into()),
        created_us: Set(to_us(now)),
    }
    .insert(&*tx)
    .await?;
    tx.audit(
        &city.code,
        actor,
        Change {
            action: "masyarakat.reply_add",
            subject_type: "templat_balasan",
            subject_id: m.id.to_string(),
            before: None,
            after: Some(serde_json::json!({ "title": title, "body": body })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Reply {
        id: m.id,
        title: m.title,
        body: m.body,
    })
}

pub async fn delete_reply(db: &Db, city: &City, actor: &Actor, id: Uuid) -> AppResult<()> {
    use crate::entity::reply;
    let mut tx = db.tx().await?;
    let Some(m) = reply::Entity::find_by_id((city.code.clone(), id))
        .one(&*tx)
        .await?
    else {
        return Err(AppError::NotFound);
    };
    reply::Entity::delete_by_id((city.code.clone(), id))
        .exec(&*tx)
        .await?;
    tx.audit(
        &city.code,
        actor,
        Change {
            action: "masyarakat.reply_delete",
            subject_type: "templat_balasan",
            subject_id: id.to_string(),
            before: Some(serde_json::json!({ "title": m.title, "body": m.body })),
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A reply template filled in for one report (`{opd}` reads "OPD terkait" before disposition).
pub fn fill_reply(body: &str, code: &str, category: &str, agency: &str) -> String {
    let agency = if agency.trim().is_empty() {
        "OPD terkait"
    } else {
        agency
    };
    kernel::message::render(
        body,
        &[("kode", code), ("kategori", category), ("opd", agency)],
    )
}

/// Which reports the public map shows.
#[derive(Debug, Clone, Default)]
pub struct PublicFilter {
    pub category: Option<Uuid>,
    /// `Some(true)`: still open; `Some(false)`: closed; `None`: both.
    pub open: Option<bool>,
    /// Received since (microseconds).
    pub since_us: i64,
}

/// Reports anyone may see on the public map (not confidential, not merged duplicates, with a
/// place), newest first, at most `limit`: the query pages in the database.
pub async fn public_reports(
    db: &Db,
    city: &City,
    f: &PublicFilter,
    limit: u64,
) -> AppResult<Vec<Report>> {
    let mut q = report::Entity::find()
        .filter(report::Column::CityCode.eq(&city.code))
        .filter(report::Column::CreatedUs.gte(f.since_us))
        .filter(report::Column::Privacy.ne(Privacy::Confidential.code()))
        .filter(report::Column::State.ne(State::Duplikat.code()))
        .filter(report::Column::Lat.is_not_null());
    if let Some(c) = f.category {
        q = q.filter(report::Column::CategoryId.eq(c));
    }
    match f.open {
        Some(true) => q = q.filter(report::Column::ClosedUs.is_null()),
        Some(false) => q = q.filter(report::Column::ClosedUs.is_not_null()),
        None => {}
    }
    let rows = q
        .order_by_desc(report::Column::CreatedUs)
        .limit(limit)
        .all(db.conn())
        .await?;
    Ok(rows.into_iter().map(|m| to_report(m, vec![])).collect())
}

/// Assigns a report to one officer of the agency holding it. The city desk and the agency's
/// head may assign anyone of the agency; an officer may take it for themselves.
pub async fn assign(
    db: &Db,
    notifier: &Notifier,
    city: &City,
    who: &Account,
    code: &str,
    officer: Uuid,
) -> AppResult<Report> {
    let r = get_by_code(db.conn(), city, code)
        .await?
        .ok_or(AppError::NotFound)?;
    let role = actor_for(&r, who).ok_or(AppError::Forbidden)?;
    let may = match role {
        domain::Actor::Verifier => true,
        domain::Actor::Agency => who.role == Role::Head || who.id == officer,
        domain::Actor::Reporter => false,
    };
    if !may {
        return Err(AppError::Forbidden);
    }
    if r.state.is_closed() || r.agency_id.is_none() {
        return Err(AppError::invalid("action", "transition_not_allowed"));
    }
    let target = account::Entity::find_by_id((city.code.clone(), officer))
        .one(db.conn())
        .await?
        .filter(|a| {
            a.active
                && a.agency_id == r.agency_id
                && (a.role == Role::Officer.code() || a.role == Role::Head.code())
        });
    let Some(target) = target else {
        return Err(AppError::invalid("assignee", "assignee_invalid"));
    };
    let now_us = to_us(notifier.now());
    let mut tx = db.tx().await?;
    report::Entity::update_many()
        .col_expr(report::Column::AssigneeId, Expr::value(Some(officer)))
        .col_expr(report::Column::UpdatedUs, Expr::value(now_us))
        .filter(report::Column::CityCode.eq(&city.code))
        .filter(report::Column::Id.eq(r.id))
        .exec(&*tx)
        .await?;
    if let Some(d) = deadlines::running(&*tx, city, SUBJECT, &r.code).await? {
        deadlines::set_assignee(&tx, city, d, Some(officer)).await?;
    }
    add_event(
        &tx,
        &city.code,
        r.id,
        now_us,
        &who.actor(),
        Ev {
            kind: "assign",
            from: None,
            to: None,
            note: &target.full_name,
            internal: true,
        },
    )
    .await?;
    if officer != who.id {
        tell_staff(
            &tx,
            notifier,
            city,
            &r,
            &[officer],
            format!("mas:{}:assign:{officer}:{now_us}", r.code),
        )
        .await?;
    }
    tx.audit(
        &city.code,
        &who.actor(),
        Change {
            action: "masyarakat.assign",
            subject_type: SUBJECT,
            subject_id: r.code.clone(),
            before: Some(serde_json::json!({ "assignee": r.assignee_id })),
            after: Some(serde_json::json!({ "assignee": officer })),
        },
    )
    .await?;
    tx.commit().await?;
    get_by_code(db.conn(), city, &r.code)
        .await?
        .ok_or(AppError::NotFound)
}
