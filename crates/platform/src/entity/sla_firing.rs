use sea_orm::entity::prelude::*;

/// One rung occurrence that has fired. The primary key is what makes firing exactly-once when
/// several instances tick the same database: only one insert of a given key succeeds.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sla_firings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub city_code: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub clock_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub rung: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub occurrence: i32,
    pub fired_us: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
