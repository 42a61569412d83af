use sea_orm::entity::prelude::*;

/// Per-city settings of the room: the area that counts as the city (a box of latitude and
/// longitude) and how near and how recent an open report must be to be offered as a duplicate.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "mas_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub city_code: String,
    pub min_lat: f64,
    pub min_lon: f64,
    pub max_lat: f64,
    pub max_lon: f64,
    pub duplicate_radius_m: i32,
    pub duplicate_days: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
