//! Cities (tenants). A deployment serves one city by default and can host several; each is a
//! regency/city of the national region data, chosen by its Kemendagri code.

use std::sync::Arc;

use chrono::Utc;
use chrono_tz::Tz;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, QueryOrder};
use serde::Serialize;
use tokio::sync::RwLock;

use crate::audit::{Actor, Change};
use crate::db::Db;
use crate::entity::city;
use crate::error::{AppError, AppResult};
use kernel::region::{self, Region};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct City {
    pub code: String,
    pub name: String,
    #[serde(serialize_with = "ser_tz")]
    pub tz: Tz,
    pub host: Option<String>,
    /// Accept only NIKs issued in this city (Binjai's rule).
    pub own_nik_only: bool,
    pub main_color: String,
}

fn ser_tz<S: serde::Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(tz.name())
}

impl City {
    pub fn province_code(&self) -> &str {
        self.code.split('.').next().unwrap_or("")
    }

    pub fn districts(&self) -> Vec<Region> {
        region::districts_of(&self.code)
    }

    pub fn villages(&self) -> Vec<Region> {
        region::villages_of_regency(&self.code)
    }

    /// True when an account of `account_city` (a city or province code) may act in this city.
    pub fn admits_account_of(&self, account_city: &str) -> bool {
        account_city == self.code || account_city == self.province_code()
    }
}

impl From<city::Model> for City {
    fn from(m: city::Model) -> Self {
        City {
            tz: m.timezone.parse().unwrap_or(chrono_tz::Asia::Jakarta),
            code: m.code,
            name: m.name,
            host: m.host,
            own_nik_only: m.own_nik_only,
            main_color: m.main_color,
        }
    }
}

/// The time zone of a province: WIB in Sumatra, Java and West/Central Kalimantan; WITA in Bali,
/// Nusa Tenggara, South/East/North Kalimantan and Sulawesi; WIT in Maluku and Papua.
pub fn timezone_of_province(province: &str) -> Tz {
    match province.parse::<u8>().unwrap_or(0) {
        51..=53 | 63..=65 | 71..=76 => chrono_tz::Asia::Makassar,
        81..=82 | 91..=99 => chrono_tz::Asia::Jayapura,
        _ => chrono_tz::Asia::Jakarta,
    }
}

pub struct NewCity {
    pub code: String,
    pub host: Option<String>,
    pub own_nik_only: bool,
}

/// Creates a city from its Kemendagri code. Error keys on field `city_code`:
/// `city_code_invalid`, `city_code_unknown`, `city_exists`.
pub async fn create(db: &Db, actor: &Actor, input: NewCity) -> AppResult<City> {
    let Some(code) = region::normalize_regency_code(&input.code) else {
        return Err(AppError::invalid("city_code", "city_code_invalid"));
    };
    let Some(reg) = region::regency(&code) else {
        return Err(AppError::invalid("city_code", "city_code_unknown"));
    };
    if city::Entity::find_by_id(code.clone())
        .one(db.conn())
        .await?
        .is_some()
    {
        return Err(AppError::invalid("city_code", "city_exists"));
    }
    let tz = timezone_of_province(code.split('.').next().unwrap_or(""));
    let mut tx = db.tx().await?;
    let m = city::ActiveModel {
        code: Set(code.clone()),
        name: Set(reg.name.to_string()),
        timezone: Set(tz.name().to_string()),
        host: Set(input
            .host
            .filter(|h| !h.trim().is_empty())
            .map(|h| h.trim().to_lowercase())),
        own_nik_only: Set(input.own_nik_only),
        main_color: Set("#0b5394".into()),
        created_at: Set(Utc::now()),
    }
    .insert(&*tx)
    .await
    .map_err(|e| {
        if crate::db::is_unique_violation(&e) {
            AppError::invalid("host", "host_taken")
        } else {
            e.into()
        }
    })?;
    let city = City::from(m);
    tx.audit(
        &code,
        actor,
        Change {
            action: "city.create",
            subject_type: "city",
            subject_id: code.clone(),
            before: None,
            after: serde_json::to_value(&city).ok(),
        },
    )
    .await?;
    tx.commit().await?;
    // Every city starts with Indonesia's national holidays and the standard deadline kinds;
    // the admin edits both.
    let national = kernel::calendar::holidays_to_csv(&kernel::calendar::national_holidays_2026());
    match crate::calendar::import_csv(db, &city, actor, &national).await {
        Ok(_) => {}
        Err(crate::calendar::ImportError::App(e)) => return Err(e),
        Err(crate::calendar::ImportError::Rows(r)) => {
            return Err(AppError::Internal(anyhow::anyhow!(
                "built-in holiday list refused: {r:?}"
            )));
        }
    }
    crate::deadlines::ensure_default_policies(db, &city, actor).await?;
    Ok(city)
}

pub async fn list(db: &Db) -> AppResult<Vec<City>> {
    Ok(city::Entity::find()
        .order_by_asc(city::Column::Code)
        .all(db.conn())
        .await?
        .into_iter()
        .map(City::from)
        .collect())
}

pub async fn get(db: &Db, code: &str) -> AppResult<Option<City>> {
    Ok(city::Entity::find_by_id(code.to_string())
        .one(db.conn())
        .await?
        .map(City::from))
}

/// An in-memory copy of the cities table, reloaded when a code or host is not found (so a city
/// added on another instance is seen on its first request).
#[derive(Clone, Default)]
pub struct CityCache {
    inner: Arc<RwLock<Vec<City>>>,
    loaded_at: Arc<RwLock<Option<std::time::Instant>>>,
}

/// Unknown host names (the usual case for a single-city deployment) reload at most this often.
const HOST_MISS_RELOAD: std::time::Duration = std::time::Duration::from_secs(30);

impl CityCache {
    pub async fn reload(&self, db: &Db) -> AppResult<()> {
        let all = list(db).await?;
        *self.inner.write().await = all;
        *self.loaded_at.write().await = Some(std::time::Instant::now());
        Ok(())
    }

    pub async fn all(&self) -> Vec<City> {
        self.inner.read().await.clone()
    }

    pub async fn by_code(&self, db: &Db, code: &str) -> AppResult<Option<City>> {
        if let Some(c) = self.inner.read().await.iter().find(|c| c.code == code) {
            return Ok(Some(c.clone()));
        }
        self.reload(db).await?;
        Ok(self
            .inner
            .read()
            .await
            .iter()
            .find(|c| c.code == code)
            .cloned())
    }

    pub async fn by_host(&self, db: &Db, host: &str) -> AppResult<Option<City>> {
        let find = |all: &Vec<City>| {
            all.iter()
                .find(|c| c.host.as_deref() == Some(host))
                .cloned()
        };
        if let Some(c) = find(&*self.inner.read().await) {
            return Ok(Some(c));
        }
        let stale = self
            .loaded_at
            .read()
            .await
            .is_none_or(|t| t.elapsed() > HOST_MISS_RELOAD);
        if stale {
            self.reload(db).await?;
            return Ok(find(&*self.inner.read().await));
        }
        Ok(None)
    }

    pub async fn is_empty(&self, db: &Db) -> AppResult<bool> {
        if !self.inner.read().await.is_empty() {
            return Ok(false);
        }
        self.reload(db).await?;
        Ok(self.inner.read().await.is_empty())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn zones_by_province() {
        assert_eq!(super::timezone_of_province("12"), chrono_tz::Asia::Jakarta);
        assert_eq!(super::timezone_of_province("72"), chrono_tz::Asia::Makassar);
        assert_eq!(super::timezone_of_province("91"), chrono_tz::Asia::Jayapura);
    }
}
