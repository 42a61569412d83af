//! The platform's own migrations.

use crate::db::migrate::{Migration, Step, index, table};
use crate::entity::*;

pub fn migrations() -> Vec<Migration> {
    vec![
        Migration {
            id: "platform.0001_foundation",
            steps: foundation,
        },
        Migration {
            id: "platform.0002_deadlines_notifications",
            steps: deadlines_notifications,
        },
        Migration {
            id: "platform.0003_region_shapes",
            steps: |s| table(s, region_shape::Entity),
        },
        Migration {
            id: "platform.0004_sla_clocks_due_then_id",
            steps: |_| sla_clocks_due_then_id(),
        },
    ]
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

/// Running deadlines in due order, ties in the clock's (time-ordered) id: a list by deadline
/// reads its page off the index even when many fall due at the same instant (everything filed
/// overnight is due at the same office hour), instead of sorting them all.
fn sla_clocks_due_then_id() -> Vec<Step> {
    vec![
        Step::Sql("DROP INDEX IF EXISTS sla_clocks_due".into()),
        index(
            "sla_clocks_due",
            "sla_clocks",
            &["city_code", "stopped_us", "due_us", "id"],
            false,
        ),
    ]
}

fn deadlines_notifications(s: &sea_orm::Schema) -> Vec<Step> {
    let mut v = Vec::new();
    v.extend(table(s, calendar_setting::Entity));
    v.extend(table(s, holiday::Entity));
    v.extend(table(s, sla_policy::Entity));
    v.extend(table(s, sla_clock::Entity));
    v.push(index(
        "sla_clocks_subject",
        "sla_clocks",
        &["city_code", "subject_type", "subject_id"],
        false,
    ));
    v.push(index(
        "sla_clocks_due",
        "sla_clocks",
        &["city_code", "stopped_us", "due_us"],
        false,
    ));
    v.extend(table(s, sla_firing::Entity));
    v.extend(table(s, outbox::Entity));
    v.push(index(
        "outbox_due",
        "outbox",
        &["status", "next_attempt_us"],
        false,
    ));
    v.push(index(
        "outbox_city_created",
        "outbox",
        &["city_code", "status", "created_us"],
        false,
    ));
    v.extend(table(s, notification::Entity));
    v.push(index(
        "notifications_account",
        "notifications",
        &["city_code", "account_id", "created_us"],
        false,
    ));
    v.extend(table(s, notify_pref::Entity));
    v.extend(table(s, message_template::Entity));
    v.extend(table(s, webhook::Entity));
    v.extend(table(s, short_link::Entity));
    v.push(index(
        "short_links_path",
        "short_links",
        &["city_code", "path"],
        true,
    ));
    v
}
