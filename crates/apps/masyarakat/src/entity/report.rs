use sea_orm::entity::prelude::*;

/// A complaint. Instants are microseconds since the epoch (both backends index them alike).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "mas_reports")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub city_code: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// `ADU-2026-000123`
    pub code: String,
    pub category_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    pub privacy: String,
    pub reporter_id: Uuid,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// The grid cell of the location (`kernel::geo::cell_of`), so that reports near a place are
    /// found through an index, however many the city has.
    pub cell: Option<i64>,
    pub kelurahan_code: Option<String>,
    /// Who named the kelurahan: `reporter`, `boundary` (inside an imported boundary), `nearest`
    /// (the nearest known place: an estimate), or empty.
    pub kelurahan_source: String,
    pub address: String,
    /// Answers to the category's extra questions (JSON object).
    #[sea_orm(column_type = "Text")]
    pub answers: String,
    pub state: String,
    pub agency_id: Option<Uuid>,
    pub assignee_id: Option<Uuid>,
    pub closure: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub closure_note: String,
    pub after_photo: Option<Uuid>,
    pub estimate_rupiah: Option<i64>,
    pub programme: String,
    pub budget_agency_id: Option<Uuid>,
    pub referred_to: String,
    pub duplicate_of: Option<Uuid>,
    pub awaiting_confirmation: bool,
    pub confirm_due_us: Option<i64>,
    /// When to remind the reporter to answer (cleared once reminded).
    pub confirm_remind_us: Option<i64>,
    /// `confirmed`, `disputed` or `silence`.
    pub confirmation: Option<String>,
    pub satisfaction: Option<i32>,
    pub supporters: i32,
    /// The last public update, for the tracking page and Open311 `status_notes`.
    #[sea_orm(column_type = "Text")]
    pub status_note: String,
    /// `web` or `open311` (with the API client's id as reporter).
    pub source: String,
    /// Open311 submitter's contact (email, name, phone, device) as JSON; admins only.
    #[sea_orm(column_type = "Text")]
    pub contact: String,
    /// Open311 `media_url` given by the client.
    pub media_url: String,
    pub created_us: i64,
    pub updated_us: i64,
    pub verified_us: Option<i64>,
    pub closed_us: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
