//! The platform's own migrations.

use crate::db::migrate::{Migration, Step, index, table};
use crate::entity::*;

pub fn migrations() -> Vec<Migration> {
    vec![Migration {
        id: "platform.0001_foundation",
        steps: foundation,
    }]
}

fn foundation(s: &sea_orm::Schema) -> Vec<Step> {
    let mut v = Vec::new();
    v.extend(table(s, city::Entity));
    v.extend(table(s, agency::Entity));
    v.push(index(
        "agencies_city_name",
        "agencies",
        &["city_code", "name"],
        true,
    ));
    v.push(index(
        "agencies_city_kind",
        "agencies",
        &["city_code", "kind"],
        false,
    ));
    v.extend(table(s, account::Entity));
    v.push(index(
        "accounts_city_nik",
        "accounts",
        &["city_code", "nik"],
        true,
    ));
    v.push(index(
        "accounts_city_email",
        "accounts",
        &["city_code", "email"],
        true,
    ));
    v.push(index(
        "accounts_city_phone",
        "accounts",
        &["city_code", "phone"],
        true,
    ));
    v.push(index(
        "accounts_city_username",
        "accounts",
        &["city_code", "username"],
        true,
    ));
    v.push(index("accounts_id", "accounts", &["id"], true));
    v.extend(table(s, session::Entity));
    v.push(index(
        "sessions_city_account",
        "sessions",
        &["city_code", "account_id"],
        false,
    ));
    v.extend(table(s, api_token::Entity));
    v.push(index(
        "api_tokens_city_account",
        "api_tokens",
        &["city_code", "account_id"],
        false,
    ));
    v.extend(table(s, login_attempt::Entity));
    v.extend(table(s, audit_entry::Entity));
    v.push(index(
        "audit_city_seq",
        "audit_log",
        &["city_code", "seq"],
        true,
    ));
    v.push(index(
        "audit_city_subject",
        "audit_log",
        &["city_code", "subject_type", "subject_id"],
        false,
    ));
    v.push(index(
        "audit_city_action",
        "audit_log",
        &["city_code", "action"],
        false,
    ));
    v.extend(table(s, audit_head::Entity));
    v.extend(table(s, file::Entity));
    v
}
