//! Helpers shared by the platform's black-box tests.
#![allow(dead_code)]
#![allow(clippy::expect_used, clippy::unwrap_used)]

use platform::accounts::{self, Passwords, RegisterInput, StaffInput};
use platform::agencies::{self, AgencyInput};
use platform::audit::Actor;
use platform::city::{self, City, NewCity};
use platform::db::Db;

pub fn pw() -> Passwords {
    Passwords::fast_for_tests()
}

pub async fn city(db: &Db, code: &str) -> City {
    city::create(
        db,
        &Actor::cli(),
        NewCity {
            code: code.into(),
            host: None,
            own_nik_only: true,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("city {code}: {e:?}"))
}

pub async fn agency(db: &Db, c: &City, name: &str, short: &str, kind: &str) -> agencies::Agency {
    agencies::create(
        db,
        c,
        &Actor::cli(),
        &AgencyInput {
            name: name.into(),
            short_name: short.into(),
            kind: kind.into(),
            ..Default::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("agency: {e:?}"))
}

pub fn citizen(nik: &str, phone: &str) -> RegisterInput {
    RegisterInput {
        nik: nik.into(),
        full_name: "Budi Santoso".into(),
        phone: phone.into(),
        email: String::new(),
        password: "rahasia-123".into(),
        password_confirm: Some("rahasia-123".into()),
    }
}

pub async fn staff(
    db: &Db,
    c: &City,
    username: &str,
    role: &str,
    agency: Option<uuid::Uuid>,
) -> accounts::Account {
    accounts::create_staff(
        db,
        &pw(),
        c,
        &Actor::cli(),
        &StaffInput {
            username: username.into(),
            full_name: format!("Staf {username}"),
            role: role.into(),
            agency_id: agency.map(|a| a.to_string()).unwrap_or_default(),
            password: "rahasia-123".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("staff {username}: {e:?}"))
}

/// The error keys of a validation failure, by field.
pub fn keys(e: platform::AppError) -> Vec<(String, &'static str)> {
    match e {
        platform::AppError::Invalid(errs) => errs.0.into_iter().map(|e| (e.field, e.key)).collect(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}
