use sea_orm::entity::prelude::*;

/// A kind of deadline (`perizinan.siup`, `masyarakat.verifikasi`): its budget, warn point and
/// escalation ladder (JSON, checked by `kernel::sla::parse_ladder`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sla_policies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub city_code: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub kind: String,
    pub label_id: String,
    pub label_en: String,
    /// `working_days` or `working_hours`.
    pub budget_unit: String,
    pub budget: i32,
    pub warn_pct: i32,
    #[sea_orm(column_type = "Text")]
    pub ladder: String,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
