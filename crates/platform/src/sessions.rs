//! Login sessions (in the database, so they work across instances) and personal access tokens
//! for API clients. Cookies and tokens carry random secrets; only their SHA-256 is stored.

use base64::Engine;
use chrono::{Duration, Utc};
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, JoinType, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::accounts::Account;
use crate::audit::Change;
use crate::city::City;
use crate::db::Db;
use crate::entity::{account, api_token, session};
use crate::error::{AppError, AppResult};

pub const SESSION_DAYS: i64 = 7;

/// A fresh random secret, URL-safe.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Starts a session for `acc` in `city`; returns the cookie value.
pub async fn create(db: &Db, city: &City, acc: &Account) -> AppResult<String> {
    let token = random_token(32);
    let now = Utc::now();
    let row = session::ActiveModel {
        token_hash: Set(sha256_hex(&token)),
        city_code: Set(city.code.clone()),
        account_city: Set(acc.city_code.clone()),
        account_id: Set(acc.id),
        created_at: Set(now),
        expires_at: Set(now + Duration::days(SESSION_DAYS)),
    };
    db.write(async |tx| row.insert(tx).await).await?;
    Ok(token)
}

/// The account behind a session cookie, if the session is alive and belongs to this city.
/// The session and its account are read together (one query on every page).
pub async fn lookup(db: &Db, city: &City, token: &str) -> AppResult<Option<Account>> {
    let Some((s, acc)) = session::Entity::find_by_id(sha256_hex(token))
        .join(
            JoinType::LeftJoin,
            session::Entity::belongs_to(account::Entity)
                .from((session::Column::AccountCity, session::Column::AccountId))
                .to((account::Column::CityCode, account::Column::Id))
                .into(),
        )
        .select_also(account::Entity)
        .one(db.conn())
        .await?
    else {
        return Ok(None);
    };
    if s.expires_at < Utc::now() || s.city_code != city.code {
        return Ok(None);
    }
    Ok(acc.filter(|a| a.active).map(Account::from))
}

pub async fn delete(db: &Db, token: &str) -> AppResult<()> {
    let gone = session::Entity::delete_by_id(sha256_hex(token));
    db.write(async |tx| gone.exec(tx).await).await?;
    Ok(())
}

pub async fn delete_all_for(db: &Db, account_id: Uuid) -> AppResult<()> {
    let gone = session::Entity::delete_many().filter(session::Column::AccountId.eq(account_id));
    db.write(async |tx| gone.exec(tx).await).await?;
    Ok(())
}

/// Removes expired sessions; returns how many.
pub async fn sweep(db: &Db) -> AppResult<u64> {
    let gone = session::Entity::delete_many().filter(session::Column::ExpiresAt.lt(Utc::now()));
    let r = db.write(async |tx| gone.exec(tx).await).await?;
    Ok(r.rows_affected)
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiToken {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub created_at: chrono::DateTime<Utc>,
    pub last_used_at: Option<chrono::DateTime<Utc>>,
    pub revoked: bool,
}

impl From<api_token::Model> for ApiToken {
    fn from(m: api_token::Model) -> Self {
        ApiToken {
            id: m.id,
            name: m.name,
            prefix: m.prefix,
            created_at: m.created_at,
            last_used_at: m.last_used_at,
            revoked: m.revoked_at.is_some(),
        }
    }
}

/// Makes a personal access token; the secret (`bk_…`) is returned once and never again.
pub async fn create_token(
    db: &Db,
    city: &City,
    acc: &Account,
    name: &str,
) -> AppResult<(String, ApiToken)> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AppError::invalid("name", "required"));
    }
    if name.chars().count() > 80 {
        return Err(AppError::invalid("name", "too_long"));
    }
    let secret = format!("bk_{}", random_token(24));
    let prefix: String = secret.chars().take(10).collect();
    let mut tx = db.tx().await?;
    let m = api_token::ActiveModel {
        city_code: Set(city.code.clone()),
        id: Set(kernel::ids::new_id()),
        account_id: Set(acc.id),
        name: Set(name.to_string()),
        prefix: Set(prefix),
        token_hash: Set(sha256_hex(&secret)),
        created_at: Set(Utc::now()),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(&*tx)
    .await?;
    tx.audit(
        &city.code,
        &acc.actor(),
        Change {
            action: "token.create",
            subject_type: "api_token",
            subject_id: m.id.to_string(),
            before: None,
            after: Some(serde_json::json!({"name": m.name, "prefix": m.prefix})),
        },
    )
    .await?;
    tx.commit().await?;
    Ok((secret, m.into()))
}

pub async fn list_tokens(db: &Db, city: &City, acc: &Account) -> AppResult<Vec<ApiToken>> {
    let rows = api_token::Entity::find()
        .filter(api_token::Column::CityCode.eq(city.code.as_str()))
        .filter(api_token::Column::AccountId.eq(acc.id))
        .order_by_desc(api_token::Column::CreatedAt)
        .all(db.conn())
        .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

pub async fn revoke_token(db: &Db, city: &City, acc: &Account, id: Uuid) -> AppResult<()> {
    let m = api_token::Entity::find_by_id((city.code.clone(), id))
        .one(db.conn())
        .await?
        .filter(|m| m.account_id == acc.id)
        .ok_or(AppError::NotFound)?;
    let mut tx = db.tx().await?;
    let mut am: api_token::ActiveModel = m.into();
    am.revoked_at = Set(Some(Utc::now()));
    am.update(&*tx).await?;
    tx.audit(
        &city.code,
        &acc.actor(),
        Change {
            action: "token.revoke",
            subject_type: "api_token",
            subject_id: id.to_string(),
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The account behind a bearer token, if the token is live and of this city.
/// The token and its account are read together (one query on every API call).
pub async fn lookup_token(db: &Db, city: &City, secret: &str) -> AppResult<Option<Account>> {
    let Some((t, acc)) = api_token::Entity::find()
        .filter(api_token::Column::TokenHash.eq(sha256_hex(secret)))
        .join(
            JoinType::LeftJoin,
            api_token::Entity::belongs_to(account::Entity)
                .from(api_token::Column::AccountId)
                .to(account::Column::Id)
                .into(),
        )
        .select_also(account::Entity)
        .one(db.conn())
        .await?
    else {
        return Ok(None);
    };
    if t.revoked_at.is_some() || t.city_code != city.code {
        return Ok(None);
    }
    let acc = acc
        .filter(|a| a.active && city.admits_account_of(&a.city_code))
        .map(Account::from);
    // "Last used" to the minute: a token in steady use is not written on every call.
    let now = Utc::now();
    if t.last_used_at
        .is_none_or(|at| now - at >= chrono::Duration::minutes(1))
    {
        let mut am: api_token::ActiveModel = t.into();
        am.last_used_at = Set(Some(now));
        db.write(async |tx| am.update(tx).await).await?;
    }
    Ok(acc)
}
