use sea_orm::entity::prelude::*;

/// A message to deliver, written in the same transaction as the change that caused it.
/// `status`: pending, failed (will retry), sent, dead (gave up), skipped (nothing to send to).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub city_code: String,
    #[sea_orm(unique)]
    pub idempotency_key: String,
    pub channel: String,
    pub account_id: Option<Uuid>,
    pub recipient: String,
    pub address: Option<String>,
    pub subject: String,
    #[sea_orm(column_type = "Text")]
    pub body: String,
    pub link: Option<String>,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_us: i64,
    pub locked_until_us: i64,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub source_type: String,
    pub source_id: String,
    pub created_us: i64,
    pub sent_us: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
