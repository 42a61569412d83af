use sea_orm::entity::prelude::*;

/// One line of a report's timeline. Internal notes are never shown publicly.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mas_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub city_code: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub report_id: Uuid,
    pub at_us: i64,
    pub actor_id: Option<Uuid>,
    pub actor_label: String,
    /// The action code (`submit`, `dispose`, `close`, `note`, …).
    pub kind: String,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub note: String,
    pub internal: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
