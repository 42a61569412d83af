use sea_orm::entity::prelude::*;

/// A running (or finished) deadline on one stage of a tracked thing. Instants are microseconds
/// since the epoch so both backends compare and index them the same way. `warn_us`/`due_us` are
/// recomputed on start and resume (null while paused); `next_fire_us` is when the ticker must
/// look at it next.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sla_clocks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub city_code: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub app: String,
    pub kind: String,
    pub subject_type: String,
    pub subject_id: String,
    pub stage: String,
    pub title: String,
    pub link: String,
    pub agency_id: Option<Uuid>,
    pub assignee_id: Option<Uuid>,
    pub requester_id: Option<Uuid>,
    pub budget_unit: String,
    pub budget: i32,
    pub warn_pct: i32,
    pub started_us: i64,
    #[sea_orm(column_type = "Text")]
    pub pauses: String,
    pub paused_since_us: Option<i64>,
    pub stopped_us: Option<i64>,
    pub warn_us: Option<i64>,
    pub due_us: Option<i64>,
    /// `met` or `late` once stopped.
    pub outcome: Option<String>,
    pub late_by_secs: Option<i64>,
    #[sea_orm(indexed)]
    pub next_fire_us: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
