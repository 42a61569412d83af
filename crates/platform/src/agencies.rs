//! Agencies (OPD, perangkat daerah) as data: dinas, badan, kecamatan and kelurahan offices,
//! the Inspektorat, puskesmas, hospitals. Apps route work to them; officers belong to one.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter,
    QueryOrder,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::audit::{Actor, Change};
use crate::city::City;
use crate::db::{Db, is_unique_violation};
use crate::entity::agency;
use crate::error::{AppError, AppResult};
use kernel::contact::{Email, Phone};
use kernel::{FieldErrors, Lang};

/// The kinds of agency. Codes are stored; labels are shown.
pub const KINDS: [(&str, &str, &str); 11] = [
    ("dinas", "Dinas", "Agency (dinas)"),
    (
        "setda",
        "Sekretariat Daerah (Sekda)",
        "Regional Secretariat (Sekda)",
    ),
    ("badan", "Badan", "Board (badan)"),
    ("sekretariat", "Sekretariat", "Secretariat"),
    ("satuan", "Satuan (Satpol PP)", "Unit (Satpol PP)"),
    ("inspektorat", "Inspektorat", "Inspectorate"),
    (
        "kecamatan",
        "Kantor Kecamatan",
        "District office (kecamatan)",
    ),
    (
        "kelurahan",
        "Kantor Kelurahan",
        "Village office (kelurahan)",
    ),
    (
        "puskesmas",
        "Puskesmas",
        "Community health centre (puskesmas)",
    ),
    ("rumah_sakit", "Rumah Sakit", "Hospital"),
    ("lainnya", "Lainnya", "Other"),
];

pub fn kind_label(code: &str, lang: Lang) -> &str {
    KINDS
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, id, en)| if lang == Lang::Id { *id } else { *en })
        .unwrap_or(code)
}

/// Kinds whose staff are health staff (facilities).
pub fn is_facility(kind: &str) -> bool {
    matches!(kind, "puskesmas" | "rumah_sakit")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Agency {
    pub id: Uuid,
    pub city_code: String,
    pub name: String,
    pub short_name: String,
    pub kind: String,
    pub parent_id: Option<Uuid>,
    pub region_code: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub active: bool,
}

impl From<agency::Model> for Agency {
    fn from(m: agency::Model) -> Self {
        Agency {
            id: m.id,
            city_code: m.city_code,
            name: m.name,
            short_name: m.short_name,
            kind: m.kind,
            parent_id: m.parent_id,
            region_code: m.region_code,
            email: m.email,
            phone: m.phone,
            active: m.active,
        }
    }
}

/// What an admin types into the agency form (all text, as posted).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct AgencyInput {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub short_name: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub parent_id: String,
    #[serde(default)]
    pub region_code: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub active: Option<String>,
}

struct Valid {
    name: String,
    short_name: String,
    kind: String,
    parent_id: Option<Uuid>,
    region_code: Option<String>,
    email: Option<String>,
    phone: Option<String>,
}

impl Valid {
    /// The row for these answers; `created_at` and `updated_at` are now (an update unsets
    /// `created_at` so it is kept).
    fn into_model(self, city: &City, id: Uuid, active: bool) -> agency::ActiveModel {
        let now = Utc::now();
        agency::ActiveModel {
            city_code: Set(city.code.clone()),
            id: Set(id),
            name: Set(self.name),
            short_name: Set(self.short_name),
            kind: Set(self.kind),
            parent_id: Set(self.parent_id),
            region_code: Set(self.region_code),
            email: Set(self.email),
            phone: Set(self.phone),
            active: Set(active),
            created_at: Set(now),
            updated_at: Set(now),
        }
    }
}

async fn validate(
    db: &Db,
    city: &City,
    input: &AgencyInput,
    self_id: Option<Uuid>,
) -> AppResult<Valid> {
    let mut errs = FieldErrors::new();
    let name = input.name.trim().to_string();
    if name.is_empty() {
        errs.add("name", "required");
    } else if name.chars().count() > 150 {
        errs.add("name", "too_long");
    }
    let short_name = input.short_name.trim().to_string();
    if short_name.is_empty() {
        errs.add("short_name", "required");
    } else if short_name.chars().count() > 40 {
        errs.add("short_name", "too_long");
    }
    if !KINDS.iter().any(|(c, _, _)| *c == input.kind) {
        errs.add("kind", "agency_kind_invalid");
    }
    let parent_id = match input.parent_id.trim() {
        "" => None,
        s => match Uuid::parse_str(s) {
            Ok(id) if Some(id) != self_id && get(db, city, id).await?.is_some() => Some(id),
            _ => {
                errs.add("parent_id", "agency_parent_invalid");
                None
            }
        },
    };
    let region_code = match input.region_code.trim() {
        "" => None,
        s if s.starts_with(&format!("{}.", city.code))
            && (kernel::region::district(s).is_some()
                || city.villages().iter().any(|v| v.code == s)) =>
        {
            Some(s.to_string())
        }
        _ => {
            errs.add("region_code", "region_not_in_city");
            None
        }
    };
    let email = match input.email.trim() {
        "" => None,
        s => errs
            .check("email", Email::parse(s))
            .map(|e| e.as_str().to_string()),
    };
    let phone = match input.phone.trim() {
        "" => None,
        s => errs
            .check("phone", Phone::parse(s))
            .map(|p| p.e164().to_string()),
    };
    errs.into_result().map_err(AppError::Invalid)?;
    Ok(Valid {
        name,
        short_name,
        kind: input.kind.clone(),
        parent_id,
        region_code,
        email,
        phone,
    })
}

fn map_unique(e: sea_orm::DbErr) -> AppError {
    if is_unique_violation(&e) {
        AppError::invalid("name", "agency_name_taken")
    } else {
        e.into()
    }
}

pub async fn create(db: &Db, city: &City, actor: &Actor, input: &AgencyInput) -> AppResult<Agency> {
    let v = validate(db, city, input, None).await?;
    let mut tx = db.tx().await?;
    let m = v
        .into_model(city, kernel::ids::new_id(), true)
        .insert(&*tx)
        .await
        .map_err(map_unique)?;
    let a = Agency::from(m);
    tx.audit(
        &city.code,
        actor,
        Change {
            action: "agency.create",
            subject_type: "agency",
            subject_id: a.id.to_string(),
            before: None,
            after: serde_json::to_value(&a).ok(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(a)
}

pub async fn update(
    db: &Db,
    city: &City,
    actor: &Actor,
    id: Uuid,
    input: &AgencyInput,
) -> AppResult<Agency> {
    let before = get(db, city, id).await?.ok_or(AppError::NotFound)?;
    let v = validate(db, city, input, Some(id)).await?;
    let mut tx = db.tx().await?;
    let mut am = v.into_model(city, id, input.active.is_some());
    am.created_at = Default::default();
    let m = am.update(&*tx).await.map_err(map_unique)?;
    let a = Agency::from(m);
    tx.audit(
        &city.code,
        actor,
        Change {
            action: "agency.update",
            subject_type: "agency",
            subject_id: a.id.to_string(),
            before: serde_json::to_value(&before).ok(),
            after: serde_json::to_value(&a).ok(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(a)
}

pub async fn get(db: &Db, city: &City, id: Uuid) -> AppResult<Option<Agency>> {
    Ok(agency::Entity::find_by_id((city.code.clone(), id))
        .one(db.conn())
        .await?
        .map(Agency::from))
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct AgencyFilter {
    pub q: Option<String>,
    pub kind: Option<String>,
}

/// The city's agencies, by kind then name; `q` searches name and short name.
pub async fn list(db: &Db, city: &City, f: &AgencyFilter) -> AppResult<Vec<Agency>> {
    let mut q = agency::Entity::find().filter(agency::Column::CityCode.eq(city.code.as_str()));
    if let Some(kind) = f.kind.as_deref().filter(|k| !k.is_empty()) {
        q = q.filter(agency::Column::Kind.eq(kind));
    }
    if let Some(text) = f.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        q = q.filter(
            Condition::any()
                .add(crate::db::icontains(agency::Column::Name, text))
                .add(crate::db::icontains(agency::Column::ShortName, text)),
        );
    }
    let rows = q
        .order_by_asc(agency::Column::Kind)
        .order_by_asc(agency::Column::Name)
        .all(db.conn())
        .await?;
    Ok(rows.into_iter().map(Agency::from).collect())
}
