use sea_orm::entity::prelude::*;

/// One entry of the hash-chained audit log. `seq` orders entries; each city has its own chain.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub seq: i64,
    pub city_code: String,
    pub id: Uuid,
    /// Microseconds since the epoch, UTC (exact on both backends, and what the hash covers).
    pub at_us: i64,
    pub actor_id: Option<Uuid>,
    pub actor: String,
    pub action: String,
    pub subject_type: String,
    pub subject_id: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub before: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub after: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
