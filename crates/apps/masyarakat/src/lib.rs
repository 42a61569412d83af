//! e-Masyarakat: citizens report complaints (photo, place, category); the city's verifier sends
//! them to the agency in charge; the agency follows up under working-day deadlines; the reporter
//! confirms or disputes; leaders read a monthly evaluation. Built as a room of the standard
//! shape (DESIGN.md): `domain` (pure rules), `entity`, `store`, `web`, `api`.

pub mod domain;
pub mod entity;
pub mod store;

use platform::db::migrate::{Migration, Step, index, table};

/// The room's migrations (ids prefixed `masyarakat.`).
pub fn migrations() -> Vec<Migration> {
    vec![Migration {
        id: "masyarakat.0001_reports",
        steps: reports,
    }]
}

fn reports(s: &sea_orm::Schema) -> Vec<Step> {
    use entity::*;
    let mut v = Vec::new();
    v.extend(table(s, category::Entity));
    v.push(index(
        "mas_categories_code",
        "mas_categories",
        &["city_code", "code"],
        true,
    ));
    v.extend(table(s, report::Entity));
    v.push(index(
        "mas_reports_code",
        "mas_reports",
        &["city_code", "code"],
        true,
    ));
    v.push(index(
        "mas_reports_state",
        "mas_reports",
        &["city_code", "state", "id"],
        false,
    ));
    v.push(index(
        "mas_reports_agency",
        "mas_reports",
        &["city_code", "agency_id", "id"],
        false,
    ));
    v.push(index(
        "mas_reports_category",
        "mas_reports",
        &["city_code", "category_id", "id"],
        false,
    ));
    v.push(index(
        "mas_reports_reporter",
        "mas_reports",
        &["city_code", "reporter_id", "id"],
        false,
    ));
    v.push(index(
        "mas_reports_updated",
        "mas_reports",
        &["city_code", "updated_us"],
        false,
    ));
    v.push(index(
        "mas_reports_confirm",
        "mas_reports",
        &["awaiting_confirmation", "confirm_due_us"],
        false,
    ));
    v.extend(table(s, photo::Entity));
    v.extend(table(s, event::Entity));
    v.push(index(
        "mas_events_report",
        "mas_events",
        &["city_code", "report_id", "at_us"],
        false,
    ));
    v.extend(table(s, support::Entity));
    v.extend(table(s, counter::Entity));
    v.extend(table(s, settings::Entity));
    v
}
