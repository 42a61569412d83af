use sea_orm::entity::prelude::*;

/// A kelurahan's (or kecamatan's) boundary or point, imported by an admin as GeoJSON: which
/// area a GPS point falls in.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "region_shapes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub city_code: String,
    /// The Kemendagri code of the kelurahan/desa.
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    /// The GeoJSON geometry (Polygon, MultiPolygon or Point).
    #[sea_orm(column_type = "Text")]
    pub geometry: String,
    pub imported_us: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
