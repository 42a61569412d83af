use sea_orm::entity::prelude::*;

/// A complaint category (an Open311 service): who handles it and what extra it asks.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "mas_categories")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub city_code: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The Open311 `service_code` (`lampu-jalan`).
    pub code: String,
    pub name_id: String,
    pub name_en: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    pub agency_id: Option<Uuid>,
    /// Extra questions (JSON list of `Question`).
    #[sea_orm(column_type = "Text")]
    pub questions: String,
    pub keywords: String,
    pub active: bool,
    pub sort: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
