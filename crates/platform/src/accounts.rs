//! Accounts: citizens who register with their NIK, and staff made by an admin. Passwords are
//! Argon2id (hashed off the async threads, with a dummy hash for unknown users so timing does
//! not tell who exists); failed logins are counted in the database so the limit holds across
//! instances.

use std::sync::Arc;

use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::audit::{Actor, Change};
use crate::city::City;
use crate::db::{Db, is_unique_violation};
use crate::entity::{account, login_attempt};
use crate::error::{AppError, AppResult};
use kernel::contact::{Email, Phone};
use kernel::nik::Nik;
use kernel::roles::Role;
use kernel::{FieldErrors, Lang};

pub const MIN_PASSWORD: usize = 8;
const MAX_FAILURES: i32 = 5;
const LOCK_MINUTES: i64 = 15;

/// A job for the hashing thread, given the thread's Argon2 working memory.
type HashJob = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// Argon2id with the cost chosen at start (tests use a small one).
///
/// All hashing runs on one dedicated thread that keeps one Argon2 working area for its whole
/// life. Allocating and freeing that block per hash (as `hash_password` does) made glibc raise
/// its mmap threshold, after which it kept ~150 MB of freed memory across threads: the idle RSS
/// after seeding the demo went from 20 MB to 176 MB.
#[derive(Clone)]
pub struct Passwords {
    params: Params,
    dummy: Arc<String>,
    jobs: std::sync::mpsc::SyncSender<HashJob>,
}

/// PHC string of an Argon2id hash: `$argon2id$v=19$m=…,t=…,p=…$salt$hash`.
fn phc(params: &Params, salt: &[u8], hash: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        b64.encode(salt),
        b64.encode(hash)
    )
}

/// Parses a PHC string made by `phc` (or by the argon2 crate).
fn parse_phc(s: &str) -> Option<(Params, Vec<u8>, Vec<u8>)> {
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    let parts: Vec<&str> = s.split('$').collect();
    let [_, "argon2id", "v=19", params, salt, hash] = parts.as_slice() else {
        return None;
    };
    let mut m = None;
    let mut t = None;
    let mut p = None;
    for kv in params.split(',') {
        let (k, v) = kv.split_once('=')?;
        let v: u32 = v.parse().ok()?;
        match k {
            "m" => m = Some(v),
            "t" => t = Some(v),
            "p" => p = Some(v),
            _ => return None,
        }
    }
    let hash = b64.decode(hash).ok()?;
    let params = Params::new(m?, t?, p?, Some(hash.len())).ok()?;
    Some((params, b64.decode(salt).ok()?, hash))
}

/// Runs Argon2id into `out`, using `memory` (grown when a stored hash asks for more).
fn argon_into(
    params: &Params,
    memory: &mut Vec<Block>,
    pw: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> bool {
    let need = params.block_count();
    if memory.len() < need {
        memory.resize(need, Block::default());
    }
    let Some(area) = memory.get_mut(..need) else {
        return false;
    };
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(pw, salt, out, area)
        .is_ok()
}

impl Passwords {
    /// OWASP's Argon2id setting for small servers: 7 MiB, 5 passes, 1 lane (as strong as their
    /// 19 MiB / 2 passes, with a third of the memory).
    pub fn standard() -> Passwords {
        Self::with_params(Params::new(7 * 1024, 5, 1, Some(32)).unwrap_or_default())
    }

    /// For tests only: fast and weak.
    pub fn fast_for_tests() -> Passwords {
        Self::with_params(Params::new(256, 1, 1, Some(32)).unwrap_or_default())
    }

    fn with_params(params: Params) -> Passwords {
        let (tx, rx) = std::sync::mpsc::sync_channel::<HashJob>(256);
        let spawned = std::thread::Builder::new()
            .name("argon2".into())
            .spawn(move || {
                let mut memory: Vec<Block> = Vec::new();
                while let Ok(job) = rx.recv() {
                    job(&mut memory);
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the password hashing thread");
        }
        // The dummy hash is made on the hashing thread too, so its memory is the thread's.
        let (reply, answer) = std::sync::mpsc::channel();
        let p = params.clone();
        let _ = tx.send(Box::new(move |mem: &mut Vec<Block>| {
            let mut salt = [0u8; 16];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut salt);
            let mut out = [0u8; 32];
            argon_into(&p, mem, b"dummy-password-never-used", &salt, &mut out);
            let _ = reply.send(phc(&p, &salt, &out));
        }));
        let dummy = Arc::new(answer.recv().unwrap_or_default());
        Passwords {
            params,
            dummy,
            jobs: tx,
        }
    }

    /// Runs `f` on the hashing thread.
    async fn on_thread<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: HashJob = Box::new(move |mem| {
            let _ = tx.send(f(mem));
        });
        let jobs = self.jobs.clone();
        // `send` blocks only when 256 jobs wait already.
        tokio::task::spawn_blocking(move || jobs.send(job))
            .await
            .ok()?
            .ok()?;
        rx.await.ok()
    }

    pub async fn hash(&self, password: &str) -> AppResult<String> {
        let params = self.params.clone();
        let pw = password.to_string();
        self.on_thread(move |mem| {
            let mut salt = [0u8; 16];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut salt);
            let mut out = [0u8; 32];
            argon_into(&params, mem, pw.as_bytes(), &salt, &mut out)
                .then(|| phc(&params, &salt, &out))
        })
        .await
        .flatten()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("password hashing failed")))
    }

    /// Verifies against `hash`, or against a dummy hash when there is no account (so the time
    /// taken does not tell whether an account exists).
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> bool {
        let pw = password.to_string();
        let known = hash.is_some();
        let stored = hash
            .map(str::to_string)
            .unwrap_or_else(|| (*self.dummy).clone());
        let ok = self
            .on_thread(move |mem| {
                let Some((params, salt, expected)) = parse_phc(&stored) else {
                    return false;
                };
                let mut out = vec![0u8; expected.len()];
                argon_into(&params, mem, pw.as_bytes(), &salt, &mut out)
                    && out
                        .iter()
                        .zip(&expected)
                        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                        == 0
            })
            .await
            .unwrap_or(false);
        ok && known
    }
}

#[cfg(test)]
mod password_tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_differ_by_salt() {
        let pw = Passwords::fast_for_tests();
        let h1 = pw.hash("rahasia-123").await.expect("hash");
        let h2 = pw.hash("rahasia-123").await.expect("hash");
        assert!(h1.starts_with("$argon2id$v=19$m=256,t=1,p=1$"), "{h1}");
        assert_ne!(h1, h2);
        assert!(pw.verify("rahasia-123", Some(&h1)).await);
        assert!(!pw.verify("rahasia-124", Some(&h1)).await);
        assert!(
            !pw.verify("rahasia-123", None).await,
            "no account never verifies"
        );
        assert!(!pw.verify("x", Some("$argon2id$garbage")).await);
        // a hash made by the argon2 crate itself verifies too (stored hashes stay valid)
        use argon2::password_hash::PasswordHasher;
        let other = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(512, 2, 1, None).expect("p"),
        )
        .hash_password(b"sandi-lama-1")
        .expect("hash")
        .to_string();
        assert!(pw.verify("sandi-lama-1", Some(&other)).await, "{other}");
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Account {
    pub id: Uuid,
    pub city_code: String,
    pub username: Option<String>,
    #[serde(skip)]
    pub nik: Option<String>,
    pub full_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    #[schema(value_type = String)]
    pub role: Role,
    pub agency_id: Option<Uuid>,
    #[schema(value_type = String)]
    pub lang: Lang,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

impl Account {
    /// What the audit log and staff lists call this person (masked NIK for citizens).
    pub fn label(&self) -> String {
        if let Some(u) = &self.username {
            return u.clone();
        }
        match self.nik.as_deref().map(Nik::parse) {
            Some(Ok(n)) => n.masked(),
            _ => self.full_name.clone(),
        }
    }

    pub fn actor(&self) -> Actor {
        Actor {
            id: Some(self.id),
            label: self.label(),
        }
    }

    pub fn masked_nik(&self) -> Option<String> {
        self.nik
            .as_deref()
            .and_then(|n| Nik::parse(n).ok())
            .map(|n| n.masked())
    }
}

impl From<account::Model> for Account {
    fn from(m: account::Model) -> Self {
        Account {
            id: m.id,
            city_code: m.city_code,
            username: m.username,
            nik: m.nik,
            full_name: m.full_name,
            email: m.email,
            phone: m.phone,
            role: Role::parse(&m.role).unwrap_or(Role::Citizen),
            agency_id: m.agency_id,
            lang: Lang::parse(&m.lang).unwrap_or_default(),
            active: m.active,
            created_at: m.created_at,
        }
    }
}

/// The citizen registration form (also the JSON body of `POST /api/v1/register`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct RegisterInput {
    #[serde(default)]
    pub nik: String,
    #[serde(default)]
    pub full_name: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub password_confirm: Option<String>,
}

fn check_password(errs: &mut FieldErrors, field: &str, pw: &str, confirm: Option<&str>) {
    if pw.chars().count() < MIN_PASSWORD {
        errs.push(
            kernel::FieldError::new(field, "password_too_short").with_arg("min", MIN_PASSWORD),
        );
    } else if pw.len() > 256 {
        errs.add(field, "too_long");
    } else if let Some(c) = confirm
        && c != pw
    {
        errs.add(&format!("{field}_confirm"), "password_mismatch");
    }
}

fn check_name(errs: &mut FieldErrors, name: &str) -> String {
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        errs.add("full_name", "required");
    } else if name.chars().count() > 120 {
        errs.add("full_name", "too_long");
    }
    name
}

/// Registers a citizen of `city`. Error keys (field): `nik_*` (nik), `nik_other_city` (nik),
/// `nik_taken` (nik), `phone_invalid` (phone), `email_invalid` (email), `contact_required`
/// (phone), `email_taken`, `phone_taken`, `password_too_short`, `password_mismatch`.
pub async fn register_citizen(
    db: &Db,
    pw: &Passwords,
    city: &City,
    input: &RegisterInput,
) -> AppResult<Account> {
    let mut errs = FieldErrors::new();
    let nik = errs.check("nik", Nik::parse(&input.nik));
    if let Some(n) = &nik
        && city.own_nik_only
        && n.regency_code() != city.code
    {
        errs.push(kernel::FieldError::new("nik", "nik_other_city").with_arg("city", &city.name));
    }
    let full_name = check_name(&mut errs, &input.full_name);
    let phone = match input.phone.trim() {
        "" => None,
        s => errs.check("phone", Phone::parse(s)),
    };
    let email = match input.email.trim() {
        "" => None,
        s => errs.check("email", Email::parse(s)),
    };
    if input.phone.trim().is_empty() && input.email.trim().is_empty() {
        errs.add("phone", "contact_required");
    }
    check_password(
        &mut errs,
        "password",
        &input.password,
        input.password_confirm.as_deref(),
    );
    // Uniqueness, checked up front for clear messages (the unique indexes still guard races).
    if let Some(n) = &nik
        && errs.get("nik").is_none()
        && find_one(db, city, account::Column::Nik, n.as_str())
            .await?
            .is_some()
    {
        errs.add("nik", "nik_taken");
    }
    if let Some(e) = &email
        && find_one(db, city, account::Column::Email, e.as_str())
            .await?
            .is_some()
    {
        errs.add("email", "email_taken");
    }
    if let Some(p) = &phone
        && find_one(db, city, account::Column::Phone, p.e164())
            .await?
            .is_some()
    {
        errs.add("phone", "phone_taken");
    }
    errs.into_result().map_err(AppError::Invalid)?;
    let Some(nik) = nik else {
        return Err(AppError::invalid("nik", "nik_required"));
    };
    let nik_masked = nik.masked();
    insert_account(
        db,
        pw,
        city,
        None,
        NewAccount {
            city_code: city.code.clone(),
            username: None,
            nik: Some(nik.as_str().to_string()),
            full_name,
            email: email.map(|e| e.as_str().to_string()),
            phone: phone.map(|p| p.e164().to_string()),
            password: &input.password,
            role: Role::Citizen,
            agency_id: None,
        },
        "account.register",
        serde_json::json!({"role": "citizen", "nik": nik_masked}),
        ("nik", "nik_taken"),
    )
    .await
}

/// The staff account form an admin fills.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct StaffInput {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub full_name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub agency_id: String,
    #[serde(default)]
    pub password: String,
    /// Make the account province-level: it may act in every city of the province (a province
    /// hosting its regencies). Only from the shell for now.
    #[serde(skip)]
    pub province_wide: bool,
}

/// True when `username` is taken by an account that could log in where the new one will: the
/// city's own and its province's accounts, or, for a province-level account, any account of the
/// province's cities. Keeps logins unambiguous in every city.
async fn username_taken(
    db: &Db,
    city: &City,
    username: &str,
    province_wide: bool,
) -> AppResult<bool> {
    let scope = if province_wide {
        Condition::any()
            .add(account::Column::CityCode.eq(city.province_code()))
            .add(account::Column::CityCode.starts_with(format!("{}.", city.province_code())))
    } else {
        in_city(city)
    };
    Ok(account::Entity::find()
        .filter(scope)
        .filter(account::Column::Username.eq(username))
        .one(db.conn())
        .await?
        .is_some())
}

fn valid_username(u: &str) -> bool {
    (3..=40).contains(&u.len())
        && u.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
}

/// Creates a staff account (any role but citizen) in `city_code` (a city, or a province for
/// province-level staff).
pub async fn create_staff(
    db: &Db,
    pw: &Passwords,
    city: &City,
    actor: &Actor,
    input: &StaffInput,
) -> AppResult<Account> {
    let mut errs = FieldErrors::new();
    let username = input.username.trim().to_lowercase();
    if !valid_username(&username) {
        errs.add("username", "username_invalid");
    } else if username_taken(db, city, &username, input.province_wide).await? {
        errs.add("username", "username_taken");
    }
    let full_name = check_name(&mut errs, &input.full_name);
    let email = match input.email.trim() {
        "" => None,
        s => errs.check("email", Email::parse(s)),
    };
    let phone = match input.phone.trim() {
        "" => None,
        s => errs.check("phone", Phone::parse(s)),
    };
    let role = Role::parse(&input.role).filter(|r| r.is_staff());
    if role.is_none() {
        errs.add("role", "role_invalid");
    }
    let agency_id = match (role, input.agency_id.trim()) {
        (Some(r), "") if r.needs_agency() => {
            errs.add("agency_id", "agency_required");
            None
        }
        (Some(r), s) if r.needs_agency() => match Uuid::parse_str(s) {
            Ok(id) => match crate::agencies::get(db, city, id).await? {
                Some(a) if r != Role::HealthStaff || crate::agencies::is_facility(&a.kind) => {
                    Some(id)
                }
                Some(_) => {
                    errs.add("agency_id", "agency_not_facility");
                    None
                }
                None => {
                    errs.add("agency_id", "agency_required");
                    None
                }
            },
            Err(_) => {
                errs.add("agency_id", "agency_required");
                None
            }
        },
        _ => None,
    };
    check_password(&mut errs, "password", &input.password, None);
    errs.into_result().map_err(AppError::Invalid)?;
    let Some(role) = role else {
        return Err(AppError::invalid("role", "role_invalid"));
    };
    insert_account(
        db,
        pw,
        city,
        Some(actor),
        NewAccount {
            city_code: if input.province_wide {
                city.province_code().to_string()
            } else {
                city.code.clone()
            },
            username: Some(username.clone()),
            nik: None,
            full_name,
            email: email.map(|e| e.as_str().to_string()),
            phone: phone.map(|p| p.e164().to_string()),
            password: &input.password,
            role,
            agency_id,
        },
        "account.create_staff",
        serde_json::json!({"username": username, "role": role.code(), "agency_id": agency_id}),
        ("username", "username_taken"),
    )
    .await
}

/// A checked account, ready to store.
struct NewAccount<'a> {
    /// The city, or the province for province-level accounts.
    city_code: String,
    username: Option<String>,
    nik: Option<String>,
    full_name: String,
    email: Option<String>,
    phone: Option<String>,
    password: &'a str,
    role: Role,
    agency_id: Option<Uuid>,
}

/// Hashes the password, stores the account and audits it in one transaction. `actor` is who
/// made it (`None`: the person registering themselves). A unique-index race becomes the given
/// field error.
#[allow(clippy::too_many_arguments)]
async fn insert_account(
    db: &Db,
    pw: &Passwords,
    city: &City,
    actor: Option<&Actor>,
    new: NewAccount<'_>,
    action: &str,
    after: serde_json::Value,
    on_unique: (&str, &'static str),
) -> AppResult<Account> {
    let hash = pw.hash(new.password).await?;
    let mut tx = db.tx().await?;
    let m = account::ActiveModel {
        city_code: Set(new.city_code),
        id: Set(kernel::ids::new_id()),
        username: Set(new.username),
        nik: Set(new.nik),
        full_name: Set(new.full_name),
        email: Set(new.email),
        phone: Set(new.phone),
        password_hash: Set(hash),
        role: Set(new.role.code().into()),
        agency_id: Set(new.agency_id),
        lang: Set(Lang::Id.code().into()),
        active: Set(true),
        created_at: Set(Utc::now()),
        last_login_at: Set(None),
    }
    .insert(&*tx)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            AppError::invalid(on_unique.0, on_unique.1)
        } else {
            e.into()
        }
    })?;
    let acc = Account::from(m);
    let who = actor.cloned().unwrap_or_else(|| acc.actor());
    tx.audit(
        &city.code,
        &who,
        Change {
            action,
            subject_type: "account",
            subject_id: acc.id.to_string(),
            before: None,
            after: Some(after),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(acc)
}

/// Accounts that may act in `city`: its own and its province's.
fn in_city(city: &City) -> Condition {
    Condition::any()
        .add(account::Column::CityCode.eq(city.code.as_str()))
        .add(account::Column::CityCode.eq(city.province_code()))
}

async fn find_one(
    db: &Db,
    city: &City,
    col: account::Column,
    value: &str,
) -> AppResult<Option<account::Model>> {
    Ok(account::Entity::find()
        .filter(in_city(city))
        .filter(col.eq(value))
        .one(db.conn())
        .await?)
}

pub async fn get(db: &Db, city: &City, id: Uuid) -> AppResult<Option<Account>> {
    Ok(account::Entity::find()
        .filter(in_city(city))
        .filter(account::Column::Id.eq(id))
        .one(db.conn())
        .await?
        .map(Account::from))
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct AccountFilter {
    pub q: Option<String>,
    pub role: Option<String>,
}

pub async fn list(db: &Db, city: &City, f: &AccountFilter, limit: u64) -> AppResult<Vec<Account>> {
    let mut q = account::Entity::find().filter(in_city(city));
    if let Some(r) = f.role.as_deref().filter(|r| !r.is_empty()) {
        q = q.filter(account::Column::Role.eq(r));
    }
    if let Some(t) = f.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        q = q.filter(
            Condition::any()
                .add(crate::db::icontains(account::Column::FullName, t))
                .add(crate::db::icontains(account::Column::Username, t))
                .add(account::Column::Email.eq(t.to_lowercase())),
        );
    }
    let rows = q
        .order_by_asc(account::Column::Role)
        .order_by_asc(account::Column::FullName)
        .limit(limit)
        .all(db.conn())
        .await?;
    Ok(rows.into_iter().map(Account::from).collect())
}

/// Why a login failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginError {
    /// Wrong identifier or password (never says which).
    Invalid,
    /// Too many failures; try again later.
    Locked,
}

/// Finds the account for what a person typed: NIK, email, phone or username.
async fn find_by_identifier(
    db: &Db,
    city: &City,
    ident: &str,
) -> AppResult<Option<account::Model>> {
    let ident = ident.trim();
    if let Ok(nik) = Nik::parse(ident) {
        return find_one(db, city, account::Column::Nik, nik.as_str()).await;
    }
    if ident.contains('@') {
        return match Email::parse(ident) {
            Ok(e) => find_one(db, city, account::Column::Email, e.as_str()).await,
            Err(_) => Ok(None),
        };
    }
    if let Ok(p) = Phone::parse(ident)
        && ident.chars().any(|c| c.is_ascii_digit())
        && let Some(m) = find_one(db, city, account::Column::Phone, p.e164()).await?
    {
        return Ok(Some(m));
    }
    find_one(db, city, account::Column::Username, &ident.to_lowercase()).await
}

fn attempt_key(ident: &str) -> String {
    let k: String = ident.trim().to_lowercase().chars().take(100).collect();
    format!("id:{k}")
}

async fn is_locked(db: &Db, city: &City, key: &str, now: DateTime<Utc>) -> AppResult<bool> {
    let row = login_attempt::Entity::find_by_id((city.code.clone(), key.to_string()))
        .one(db.conn())
        .await?;
    Ok(row.is_some_and(|r| {
        r.failures >= MAX_FAILURES && now - r.window_start < Duration::minutes(LOCK_MINUTES)
    }))
}

async fn record_failure(db: &Db, city: &City, key: &str, now: DateTime<Utc>) -> AppResult<()> {
    let tx = db.begin_write().await?;
    let row = login_attempt::Entity::find_by_id((city.code.clone(), key.to_string()))
        .one(&*tx)
        .await?;
    match row {
        Some(r) if now - r.window_start < Duration::minutes(LOCK_MINUTES) => {
            let failures = r.failures + 1;
            let mut am: login_attempt::ActiveModel = r.into();
            am.failures = Set(failures);
            am.update(&*tx).await?;
        }
        Some(r) => {
            let mut am: login_attempt::ActiveModel = r.into();
            am.failures = Set(1);
            am.window_start = Set(now);
            am.update(&*tx).await?;
        }
        None => {
            login_attempt::ActiveModel {
                city_code: Set(city.code.clone()),
                key: Set(key.to_string()),
                failures: Set(1),
                window_start: Set(now),
            }
            .insert(&*tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Checks a login. Failures count per identifier and per client address; five within fifteen
/// minutes lock that key for the rest of the window.
pub async fn authenticate(
    db: &Db,
    pw: &Passwords,
    city: &City,
    ident: &str,
    password: &str,
    client: Option<&str>,
) -> AppResult<Result<Account, LoginError>> {
    let now = Utc::now();
    let key = attempt_key(ident);
    let ip_key = client.map(|c| format!("ip:{c}"));
    if is_locked(db, city, &key, now).await? {
        return Ok(Err(LoginError::Locked));
    }
    let found = find_by_identifier(db, city, ident)
        .await?
        .filter(|m| m.active);
    let ok = pw
        .verify(password, found.as_ref().map(|m| m.password_hash.as_str()))
        .await;
    match (ok, found) {
        (true, Some(m)) => {
            let acc = Account::from(m.clone());
            let mut am: account::ActiveModel = m.into();
            am.last_login_at = Set(Some(now));
            let attempts = login_attempt::Entity::delete_by_id((city.code.clone(), key));
            db.write(async |tx| {
                am.update(tx).await?;
                attempts.exec(tx).await
            })
            .await?;
            Ok(Ok(acc))
        }
        _ => {
            record_failure(db, city, &key, now).await?;
            if let Some(k) = ip_key {
                record_failure(db, city, &k, now).await?;
            }
            Ok(Err(LoginError::Invalid))
        }
    }
}

/// Changes a password after checking the current one. Keys: `password_wrong`,
/// `password_too_short`, `password_mismatch`.
pub async fn change_password(
    db: &Db,
    pw: &Passwords,
    city: &City,
    acc: &Account,
    current: &str,
    new: &str,
    confirm: &str,
) -> AppResult<()> {
    let m = account::Entity::find_by_id((acc.city_code.clone(), acc.id))
        .one(db.conn())
        .await?
        .ok_or(AppError::NotFound)?;
    let mut errs = FieldErrors::new();
    if !pw.verify(current, Some(&m.password_hash)).await {
        errs.add("current", "password_wrong");
    }
    check_password(&mut errs, "new", new, Some(confirm));
    errs.into_result().map_err(AppError::Invalid)?;
    let hash = pw.hash(new).await?;
    let mut tx = db.tx().await?;
    let mut am: account::ActiveModel = m.into();
    am.password_hash = Set(hash);
    am.update(&*tx).await?;
    tx.audit(
        &city.code,
        &acc.actor(),
        Change {
            action: "account.password_change",
            subject_type: "account",
            subject_id: acc.id.to_string(),
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    // Other sessions of this account end.
    crate::sessions::delete_all_for(db, acc.id).await?;
    Ok(())
}

pub async fn set_lang(db: &Db, acc: &Account, lang: Lang) -> AppResult<()> {
    if let Some(m) = account::Entity::find_by_id((acc.city_code.clone(), acc.id))
        .one(db.conn())
        .await?
    {
        let mut am: account::ActiveModel = m.into();
        am.lang = Set(lang.code().into());
        db.write(async |tx| am.update(tx).await).await?;
    }
    Ok(())
}

/// How many accounts a city has (the setup page shows only while there are none).
pub async fn count_admins(db: &Db, city: &City) -> AppResult<u64> {
    use sea_orm::PaginatorTrait;
    Ok(account::Entity::find()
        .filter(in_city(city))
        .filter(account::Column::Role.eq(Role::Admin.code()))
        .count(db.conn())
        .await?)
}
