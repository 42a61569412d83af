//! A city's work calendar as data: working week, office hours and holidays, edited by the admin
//! (holidays also as CSV), turned into a `kernel::calendar::WorkCalendar` for deadline sums.

use chrono::{NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};
use serde::{Deserialize, Serialize};

use std::sync::LazyLock;

use crate::audit::{Actor, Change, Tx};
use crate::city::City;
use crate::db::Db;
use crate::entity::{calendar_setting, holiday};
use crate::error::{AppError, AppResult};
use crate::memo::{self, Memo};
use kernel::FieldErrors;
use kernel::calendar::{CsvRowError, Holiday, HolidayKind, WorkCalendar, parse_holidays_csv};

/// The working week and office hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Settings {
    pub saturday_work: bool,
    pub open_min: u32,
    pub close_min: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            saturday_work: false,
            open_min: 8 * 60,
            close_min: 16 * 60,
        }
    }
}

impl Settings {
    pub fn open_hhmm(&self) -> String {
        format!("{:02}:{:02}", self.open_min / 60, self.open_min % 60)
    }
    pub fn close_hhmm(&self) -> String {
        format!("{:02}:{:02}", self.close_min / 60, self.close_min % 60)
    }
}

/// The settings form, as posted.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SettingsInput {
    #[serde(default)]
    pub saturday_work: Option<String>,
    #[serde(default)]
    pub open: String,
    #[serde(default)]
    pub close: String,
}

fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 24 && m < 60 && h * 60 + m <= 24 * 60).then_some(h * 60 + m)
}

pub async fn settings<C: ConnectionTrait>(conn: &C, city: &City) -> AppResult<Settings> {
    Ok(calendar_setting::Entity::find_by_id(city.code.clone())
        .one(conn)
        .await?
        .map(|m| Settings {
            saturday_work: m.saturday_work,
            open_min: u32::try_from(m.open_min).unwrap_or(480),
            close_min: u32::try_from(m.close_min).unwrap_or(960),
        })
        .unwrap_or_default())
}

pub async fn save_settings(
    db: &Db,
    city: &City,
    actor: &Actor,
    input: &SettingsInput,
) -> AppResult<Settings> {
    let mut errs = FieldErrors::default();
    let open = parse_hhmm(&input.open);
    let close = parse_hhmm(&input.close);
    if open.is_none() {
        errs.add("open", "time_invalid");
    }
    if close.is_none() {
        errs.add("close", "time_invalid");
    }
    let (Some(open_min), Some(close_min)) = (open, close) else {
        return Err(AppError::Invalid(errs));
    };
    if close_min <= open_min {
        errs.add("close", "close_before_open");
        return Err(AppError::Invalid(errs));
    }
    let new = Settings {
        saturday_work: input.saturday_work.is_some(),
        open_min,
        close_min,
    };
    let before = settings(db.conn(), city).await?;
    let mut tx = db.tx().await?;
    let exists = calendar_setting::Entity::find_by_id(city.code.clone())
        .one(&*tx)
        .await?
        .is_some();
    let am = calendar_setting::ActiveModel {
        city_code: Set(city.code.clone()),
        saturday_work: Set(new.saturday_work),
        open_min: Set(i32::try_from(open_min).unwrap_or(480)),
        close_min: Set(i32::try_from(close_min).unwrap_or(960)),
        updated_at: Set(Utc::now()),
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
            action: "calendar.settings",
            subject_type: "calendar",
            subject_id: city.code.clone(),
            before: serde_json::to_value(before).ok(),
            after: serde_json::to_value(new).ok(),
        },
    )
    .await?;
    tx.commit().await?;
    forget(db, city);
    Ok(new)
}

pub async fn holidays<C: ConnectionTrait>(conn: &C, city: &City) -> AppResult<Vec<Holiday>> {
    let rows = holiday::Entity::find()
        .filter(holiday::Column::CityCode.eq(&city.code))
        .order_by_asc(holiday::Column::Date)
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|m| {
            Some(Holiday {
                date: NaiveDate::parse_from_str(&m.date, "%Y-%m-%d").ok()?,
                kind: HolidayKind::parse(&m.kind)?,
                name: m.name,
            })
        })
        .collect())
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub added: usize,
    pub updated: usize,
}

/// Imports holidays from CSV (`date,kind,name`). Nothing is saved unless every row is valid;
/// the errors name each bad line. Dates already there are overwritten (name, kind); others stay.
pub async fn import_csv(
    db: &Db,
    city: &City,
    actor: &Actor,
    text: &str,
) -> Result<ImportReport, ImportError> {
    let rows = parse_holidays_csv(text).map_err(ImportError::Rows)?;
    if rows.is_empty() {
        return Err(ImportError::Rows(vec![CsvRowError {
            line: 1,
            key: "csv_empty",
        }]));
    }
    let mut tx = db.tx().await.map_err(AppError::from)?;
    let mut report = ImportReport {
        added: 0,
        updated: 0,
    };
    for h in &rows {
        let date = h.date.format("%Y-%m-%d").to_string();
        let existing = holiday::Entity::find_by_id((city.code.clone(), date.clone()))
            .one(&*tx)
            .await
            .map_err(AppError::from)?;
        let am = holiday::ActiveModel {
            city_code: Set(city.code.clone()),
            date: Set(date),
            kind: Set(h.kind.code().to_string()),
            name: Set(h.name.clone()),
        };
        if existing.is_some() {
            am.update(&*tx).await.map_err(AppError::from)?;
            report.updated += 1;
        } else {
            am.insert(&*tx).await.map_err(AppError::from)?;
            report.added += 1;
        }
    }
    tx.audit(
        &city.code,
        actor,
        Change {
            action: "calendar.import",
            subject_type: "calendar",
            subject_id: city.code.clone(),
            before: None,
            after: serde_json::to_value(&report).ok(),
        },
    )
    .await
    .map_err(AppError::from)?;
    tx.commit().await.map_err(AppError::from)?;
    forget(db, city);
    Ok(report)
}

#[derive(Debug)]
pub enum ImportError {
    Rows(Vec<CsvRowError>),
    App(AppError),
}

impl From<AppError> for ImportError {
    fn from(e: AppError) -> Self {
        ImportError::App(e)
    }
}

/// Removes one holiday.
pub async fn delete_holiday(db: &Db, city: &City, actor: &Actor, date: &str) -> AppResult<()> {
    let mut tx = db.tx().await?;
    let res = holiday::Entity::delete_by_id((city.code.clone(), date.to_string()))
        .exec(&*tx)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::NotFound);
    }
    tx.audit(
        &city.code,
        actor,
        Change {
            action: "calendar.holiday_delete",
            subject_type: "calendar",
            subject_id: city.code.clone(),
            before: Some(serde_json::json!({ "date": date })),
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    forget(db, city);
    Ok(())
}

/// The calendar as [`load`] reads it, kept a minute per database and city: every deadline's
/// start and step sums with it. Changes made through this module forget it at once; another
/// instance's change is seen within the minute.
static KEPT: LazyLock<Memo<WorkCalendar>> =
    LazyLock::new(|| Memo::new(std::time::Duration::from_secs(60)));

pub async fn load_kept(tx: &Tx, city: &City) -> AppResult<WorkCalendar> {
    let key = memo::key_of(tx.db_id(), city);
    Ok((*KEPT
        .get_or_load(key, async || load(&**tx, city).await)
        .await?)
        .clone())
}

fn forget(db: &Db, city: &City) {
    KEPT.forget(&memo::key(db, city));
}

/// The city's calendar, ready for deadline sums.
pub async fn load<C: ConnectionTrait>(conn: &C, city: &City) -> AppResult<WorkCalendar> {
    let s = settings(conn, city).await?;
    let hs = holidays(conn, city).await?;
    let mut cal = WorkCalendar::standard(city.tz, hs.iter().map(|h| h.date));
    cal.workdays[5] = s.saturday_work;
    cal.open_min = s.open_min;
    cal.close_min = s.close_min;
    Ok(cal)
}

#[cfg(test)]
mod tests {
    use super::parse_hhmm;

    #[test]
    fn office_hours_parse() {
        assert_eq!(parse_hhmm("08:00"), Some(480));
        assert_eq!(parse_hhmm(" 16:30 "), Some(990));
        assert_eq!(parse_hhmm("24:00"), Some(1440));
        assert_eq!(parse_hhmm("24:30"), None);
        assert_eq!(parse_hhmm("8"), None);
        assert_eq!(parse_hhmm("07:60"), None);
    }
}
