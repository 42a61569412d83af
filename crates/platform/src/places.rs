//! Where a GPS point is: kelurahan boundaries (or office points) an admin imports as GeoJSON,
//! kept per city in memory after the first use. Every app that takes a location (complaints,
//! musrenbang proposals, the command center's map) asks `locate`.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde::Serialize;
use serde_json::Value;

use crate::audit::{Actor, Change};
use crate::city::City;
use crate::clock::to_us;
use crate::db::Db;
use crate::entity::region_shape;
use crate::error::{AppError, AppResult};
use crate::memo::Memo;
use kernel::geo::{self, Found, LatLon, Shape};

/// One refused feature of an import: its position (1-based) and a stable key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureError {
    pub feature: usize,
    /// `geojson_invalid`, `feature_code`, `feature_code_unknown`, `feature_duplicate`,
    /// `geometry_type`, `geometry_coordinates`
    pub key: &'static str,
    pub code: String,
}

#[derive(Debug)]
pub enum ImportError {
    Features(Vec<FeatureError>),
    App(AppError),
}

impl From<AppError> for ImportError {
    fn from(e: AppError) -> Self {
        ImportError::App(e)
    }
}

/// Property names that carry the Kemendagri code in common boundary files.
const CODE_KEYS: &[&str] = &[
    "kode",
    "code",
    "kode_kel",
    "kode_desa",
    "kd_kel",
    "kdepum",
    "KODE",
    "KODE_KEL",
    "KDEPUM",
];

fn code_of(props: Option<&Value>) -> Option<String> {
    let p = props?;
    CODE_KEYS.iter().find_map(|k| match p.get(*k)? {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// `1275021006` or `12.75.02.1006` → `12.75.02.1006`.
fn normalize(code: &str) -> String {
    let digits: String = code.chars().filter(char::is_ascii_digit).collect();
    if digits.len() == 10 && !code.contains('.') {
        format!(
            "{}.{}.{}.{}",
            &digits[0..2],
            &digits[2..4],
            &digits[4..6],
            &digits[6..10]
        )
    } else {
        code.to_string()
    }
}

/// Reads a FeatureCollection: every feature must name a kelurahan of this city and carry a
/// Polygon, MultiPolygon or Point. All problems are listed; nothing is returned unless all good.
pub fn parse_collection(
    city: &City,
    text: &str,
) -> Result<Vec<(String, Value)>, Vec<FeatureError>> {
    let fail = |key| {
        vec![FeatureError {
            feature: 0,
            key,
            code: String::new(),
        }]
    };
    let v: Value = serde_json::from_str(text).map_err(|_| fail("geojson_invalid"))?;
    let features = v
        .get("features")
        .and_then(Value::as_array)
        .filter(|f| !f.is_empty())
        .ok_or_else(|| fail("geojson_invalid"))?;
    let villages: std::collections::HashSet<String> = city
        .villages()
        .into_iter()
        .map(|v| v.code.to_string())
        .collect();
    let mut out = Vec::new();
    let mut errs = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, f) in features.iter().enumerate() {
        let n = i + 1;
        let Some(code) = code_of(f.get("properties")).map(|c| normalize(&c)) else {
            errs.push(FeatureError {
                feature: n,
                key: "feature_code",
                code: String::new(),
            });
            continue;
        };
        let err = |key| FeatureError {
            feature: n,
            key,
            code: code.clone(),
        };
        if !villages.contains(&code) {
            errs.push(err("feature_code_unknown"));
            continue;
        }
        if !seen.insert(code.clone()) {
            errs.push(err("feature_duplicate"));
            continue;
        }
        let g = f.get("geometry").cloned().unwrap_or(Value::Null);
        match geo::parse_geometry(&g) {
            Ok(_) => out.push((code, g)),
            Err(e) => errs.push(err(e.key())),
        }
    }
    if errs.is_empty() { Ok(out) } else { Err(errs) }
}

/// Replaces the city's boundaries with those of the file, in one transaction. Returns how many.
pub async fn import(db: &Db, city: &City, actor: &Actor, text: &str) -> Result<usize, ImportError> {
    let shapes = parse_collection(city, text).map_err(ImportError::Features)?;
    let now = to_us(chrono::Utc::now());
    let mut tx = db.tx().await.map_err(AppError::from)?;
    region_shape::Entity::delete_many()
        .filter(region_shape::Column::CityCode.eq(&city.code))
        .exec(&*tx)
        .await
        .map_err(AppError::from)?;
    for (code, g) in &shapes {
        region_shape::ActiveModel {
            city_code: Set(city.code.clone()),
            code: Set(code.clone()),
            geometry: Set(g.to_string()),
            imported_us: Set(now),
        }
        .insert(&*tx)
        .await
        .map_err(AppError::from)?;
    }
    tx.audit(
        &city.code,
        actor,
        Change {
            action: "places.import",
            subject_type: "batas_wilayah",
            subject_id: city.code.clone(),
            before: None,
            after: Some(serde_json::json!({ "features": shapes.len() })),
        },
    )
    .await
    .map_err(AppError::from)?;
    tx.commit().await.map_err(AppError::from)?;
    forget(db, city);
    Ok(shapes.len())
}

type Shapes = Arc<Vec<(String, Shape)>>;

/// Per database and city: the shapes, re-read after a minute (an import on another instance is
/// seen soon; an import here at once).
static CACHE: LazyLock<Memo<Vec<(String, Shape)>>> =
    LazyLock::new(|| Memo::new(Duration::from_secs(60)));

fn forget(db: &Db, city: &City) {
    CACHE.forget(&crate::memo::key(db, city));
}

/// The city's shapes (from memory when fresh).
pub async fn shapes(db: &Db, city: &City) -> AppResult<Shapes> {
    let key = crate::memo::key(db, city);
    if let Some(s) = CACHE.get(&key) {
        return Ok(s);
    }
    let rows = region_shape::Entity::find()
        .filter(region_shape::Column::CityCode.eq(&city.code))
        .all(db.conn())
        .await?;
    let parsed: Vec<(String, Shape)> = rows
        .into_iter()
        .filter_map(|m| {
            let v: Value = serde_json::from_str(&m.geometry).ok()?;
            Some((m.code, geo::parse_geometry(&v).ok()?))
        })
        .collect();
    Ok(CACHE.put(key, parsed))
}

/// How far a labelled point may be and still name the kelurahan (metres).
pub const NEAREST_MAX_M: f64 = 400.0;

/// The kelurahan of a point: inside an imported boundary, else the nearest imported point or
/// labelled place (e.g. earlier reports whose kelurahan a person chose) within 400 m.
pub async fn locate(
    db: &Db,
    city: &City,
    at: LatLon,
    labelled: &[(String, LatLon)],
) -> AppResult<Option<(String, Found)>> {
    let s = shapes(db, city).await?;
    Ok(geo::locate(&s, labelled, at, NEAREST_MAX_M).map(|(c, f)| (c.to_string(), f)))
}

/// How many kelurahan of the city have a boundary or point (for the admin page).
pub async fn coverage(db: &Db, city: &City) -> AppResult<(usize, usize, usize)> {
    let s = shapes(db, city).await?;
    let areas = s
        .iter()
        .filter(|(_, x)| matches!(x, Shape::Area(_)))
        .count();
    Ok((areas, s.len() - areas, city.villages().len()))
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn codes_with_or_without_dots() {
        assert_eq!(normalize("1275021006"), "12.75.02.1006");
        assert_eq!(normalize("12.75.02.1006"), "12.75.02.1006");
        assert_eq!(normalize("12750210"), "12750210");
    }
}
