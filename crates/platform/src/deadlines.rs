//! Deadlines (SLA clocks) any app attaches to a stage of a tracked thing, their policies (budget,
//! warn point, escalation ladder) as data per kind, the ticker that fires ladder rungs exactly
//! once, and the overview operators and the command center read.
//!
//! Exactly once: a rung occurrence fires by inserting its key into `sla_firings` (ON CONFLICT DO
//! NOTHING) in the same transaction as the notices it queues. Whichever instance inserts first
//! queues them; any other sees zero rows and queues nothing.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use std::sync::LazyLock;

use crate::audit::{Actor, Change, Tx};
use crate::city::{City, CityCache};
use crate::clock::{from_us, to_us};
use crate::db::Db;
use crate::entity::{account, agency, sla_clock, sla_firing, sla_policy};
use crate::error::{AppError, AppResult};
use crate::memo::{self, Memo};
use crate::notify::{Around, Notice, Notifier};
use kernel::calendar::{Pause, WorkCalendar};
use kernel::sla::{Budget, Ladder, SlaClock, Status, Trigger, due_rungs, firing_at, parse_ladder};
use kernel::{FieldError, FieldErrors, Lang};

/// A kind of deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    pub kind: String,
    pub label_id: String,
    pub label_en: String,
    pub budget: Budget,
    pub warn_pct: u8,
    pub ladder: Ladder,
    pub ladder_json: String,
}

impl Policy {
    pub fn label(&self, lang: Lang) -> &str {
        if lang == Lang::Id {
            &self.label_id
        } else {
            &self.label_en
        }
    }
}

fn budget_of(unit: &str, amount: i32) -> Budget {
    let n = u32::try_from(amount).unwrap_or(1).max(1);
    if unit == "working_hours" {
        Budget::WorkingHours(n)
    } else {
        Budget::WorkingDays(n)
    }
}

fn unit_of(b: Budget) -> (&'static str, i32) {
    match b {
        Budget::WorkingDays(n) => ("working_days", i32::try_from(n).unwrap_or(i32::MAX)),
        Budget::WorkingHours(n) => ("working_hours", i32::try_from(n).unwrap_or(i32::MAX)),
    }
}

impl TryFrom<sla_policy::Model> for Policy {
    type Error = AppError;
    fn try_from(m: sla_policy::Model) -> AppResult<Policy> {
        let ladder = parse_ladder(&m.ladder)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("ladder {}: {}", m.kind, e.key)))?;
        Ok(Policy {
            kind: m.kind,
            label_id: m.label_id,
            label_en: m.label_en,
            budget: budget_of(&m.budget_unit, m.budget),
            warn_pct: u8::try_from(m.warn_pct).unwrap_or(75),
            ladder,
            ladder_json: m.ladder,
        })
    }
}

/// The kinds every city starts with: Binjai's SIUP rule (1×24 h, breach to the Inspektorat by
/// email and SMS) and LAPOR!'s complaint stages (3 working days to verify, 5 to follow up).
pub fn default_policies() -> Vec<(
    &'static str,
    &'static str,
    &'static str,
    Budget,
    &'static str,
)> {
    vec![
        (
            "perizinan.siup",
            "Penerbitan SIUP (1×24 jam kerja)",
            "Trading licence (SIUP) issuance (1×24 working hours)",
            Budget::WorkingHours(24),
            r#"[
  {"trigger": "warn", "notify": ["assignee"], "channels": ["in_app", "email"]},
  {"trigger": "breach", "notify": ["agency_head", "inspectorate"], "channels": ["email", "sms", "in_app"]},
  {"trigger": {"after_breach": 8}, "notify": ["inspectorate"], "channels": ["email", "sms"], "repeat_every_hours": 8, "repeat_times": 2},
  {"trigger": {"after_breach": 24}, "notify": ["sekda"], "channels": ["email", "sms"]}
]"#,
        ),
        (
            "masyarakat.verifikasi",
            "Verifikasi pengaduan (3 hari kerja)",
            "Complaint verification (3 working days)",
            Budget::WorkingDays(3),
            r#"[
  {"trigger": "warn", "notify": ["assignee"], "channels": ["in_app", "email"]},
  {"trigger": "breach", "notify": ["agency_head", "inspectorate"], "channels": ["in_app", "email"]},
  {"trigger": {"after_breach": 16}, "notify": ["sekda"], "channels": ["email"]}
]"#,
        ),
        (
            "masyarakat.tindak_lanjut",
            "Tindak lanjut pengaduan (5 hari kerja)",
            "Complaint follow-up (5 working days)",
            Budget::WorkingDays(5),
            r#"[
  {"trigger": "warn", "notify": ["assignee"], "channels": ["in_app", "email"]},
  {"trigger": "breach", "notify": ["agency_head", "inspectorate"], "channels": ["in_app", "email", "sms"], "repeat_every_hours": 8, "repeat_times": 2},
  {"trigger": {"after_breach": 24}, "notify": ["sekda"], "channels": ["email", "sms"]}
]"#,
        ),
    ]
}

/// Adds the default kinds a city lacks (idempotent).
pub async fn ensure_default_policies(db: &Db, city: &City, actor: &Actor) -> AppResult<usize> {
    let mut added = 0;
    for (kind, id, en, budget, ladder) in default_policies() {
        if sla_policy::Entity::find_by_id((city.code.clone(), kind.to_string()))
            .one(db.conn())
            .await?
            .is_some()
        {
            continue;
        }
        let (unit, amount) = unit_of(budget);
        save_policy(
            db,
            city,
            actor,
            kind,
            &PolicyInput {
                label_id: id.into(),
                label_en: en.into(),
                budget_unit: unit.into(),
                budget: amount.to_string(),
                warn_pct: "75".into(),
                ladder: ladder.into(),
            },
        )
        .await?;
        added += 1;
    }
    Ok(added)
}

pub async fn policies(db: &Db, city: &City) -> AppResult<Vec<Policy>> {
    policies_on(db.conn(), city).await
}

async fn policies_on<C: ConnectionTrait>(conn: &C, city: &City) -> AppResult<Vec<Policy>> {
    sla_policy::Entity::find()
        .filter(sla_policy::Column::CityCode.eq(&city.code))
        .order_by_asc(sla_policy::Column::Kind)
        .all(conn)
        .await?
        .into_iter()
        .map(Policy::try_from)
        .collect()
}

/// The city's deadline kinds, kept a minute per database and city: every deadline's start and
/// step reads its kind. Saving one here forgets them at once.
static POLICIES: LazyLock<Memo<Vec<Policy>>> =
    LazyLock::new(|| Memo::new(std::time::Duration::from_secs(60)));

/// [`policy`], from the minute's memo.
async fn policy_kept(tx: &Tx, city: &City, kind: &str) -> AppResult<Option<Policy>> {
    let all = POLICIES
        .get_or_load(memo::key_of(tx.db_id(), city), async || {
            policies_on(&**tx, city).await
        })
        .await?;
    Ok(all.iter().find(|p| p.kind == kind).cloned())
}

pub async fn policy<C: ConnectionTrait>(
    conn: &C,
    city: &City,
    kind: &str,
) -> AppResult<Option<Policy>> {
    sla_policy::Entity::find_by_id((city.code.clone(), kind.to_string()))
        .one(conn)
        .await?
        .map(Policy::try_from)
        .transpose()
}

/// The policy form, as posted.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct PolicyInput {
    #[serde(default)]
    pub label_id: String,
    #[serde(default)]
    pub label_en: String,
    #[serde(default)]
    pub budget_unit: String,
    #[serde(default)]
    pub budget: String,
    #[serde(default)]
    pub warn_pct: String,
    #[serde(default)]
    pub ladder: String,
}

fn valid_kind(kind: &str) -> bool {
    !kind.is_empty()
        && kind.len() <= 60
        && kind
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_')
}

/// Creates or changes a kind. The ladder is checked: an unknown recipient or channel is named.
pub async fn save_policy(
    db: &Db,
    city: &City,
    actor: &Actor,
    kind: &str,
    input: &PolicyInput,
) -> AppResult<Policy> {
    let mut errs = FieldErrors::default();
    if !valid_kind(kind) {
        errs.add("kind", "kind_invalid");
    }
    if input.label_id.trim().is_empty() {
        errs.add("label_id", "required");
    }
    if input.label_en.trim().is_empty() {
        errs.add("label_en", "required");
    }
    if !matches!(input.budget_unit.as_str(), "working_days" | "working_hours") {
        errs.add("budget_unit", "choose_one");
    }
    let budget = match input.budget.trim().parse::<i32>() {
        Ok(n) if (1..=2000).contains(&n) => n,
        _ => {
            errs.push(
                FieldError::new("budget", "number_range")
                    .with_arg("min", 1)
                    .with_arg("max", 2000),
            );
            0
        }
    };
    let warn = match input.warn_pct.trim().parse::<i32>() {
        Ok(n) if (1..=99).contains(&n) => n,
        _ => {
            errs.push(
                FieldError::new("warn_pct", "number_range")
                    .with_arg("min", 1)
                    .with_arg("max", 99),
            );
            0
        }
    };
    match parse_ladder(&input.ladder) {
        Ok(_) => {}
        Err(e) => errs.push(
            FieldError::new("ladder", e.key)
                .with_arg(
                    "rung",
                    e.rung.map(|r| (r + 1).to_string()).unwrap_or_default(),
                )
                .with_arg("detail", e.detail),
        ),
    }
    if !errs.is_empty() {
        return Err(AppError::Invalid(errs));
    }
    let before = policy(db.conn(), city, kind).await?;
    let mut tx = db.tx().await?;
    let am = sla_policy::ActiveModel {
        city_code: Set(city.code.clone()),
        kind: Set(kind.to_string()),
        label_id: Set(input.label_id.trim().to_string()),
        label_en: Set(input.label_en.trim().to_string()),
        budget_unit: Set(input.budget_unit.clone()),
        budget: Set(budget),
        warn_pct: Set(warn),
        ladder: Set(input.ladder.trim().to_string()),
        updated_at: Set(Utc::now()),
    };
    if before.is_some() {
        am.update(&*tx).await?;
    } else {
        am.insert(&*tx).await?;
    }
    tx.audit(
        &city.code,
        actor,
        Change {
            action: "sla.policy_save",
            subject_type: "sla_policy",
            subject_id: kind.to_string(),
            before: before.map(|p| serde_json::json!({ "budget": format!("{:?}", p.budget), "warn_pct": p.warn_pct, "ladder": p.ladder_json })),
            after: Some(serde_json::json!({ "budget": format!("{} {}", budget, input.budget_unit), "warn_pct": warn, "ladder": input.ladder.trim() })),
        },
    )
    .await?;
    tx.commit().await?;
    POLICIES.forget(&memo::key(db, city));
    policy(db.conn(), city, kind)
        .await?
        .ok_or(AppError::NotFound)
}

/// A deadline to start.
#[derive(Debug, Clone)]
pub struct NewDeadline {
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
}

/// A deadline as read back.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Deadline {
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
    pub started_at: DateTime<Utc>,
    pub warn_at: Option<DateTime<Utc>>,
    pub due_at: Option<DateTime<Utc>>,
    pub stopped_at: Option<DateTime<Utc>>,
    /// on_track, at_risk, breached, paused, met, late
    pub state: String,
    /// Working seconds past due (breached or late).
    pub late_by_secs: Option<i64>,
    /// Working seconds left (on track or at risk).
    pub left_secs: Option<i64>,
}

fn kernel_clock(m: &sla_clock::Model) -> SlaClock {
    let pauses: Vec<(i64, i64)> = serde_json::from_str(&m.pauses).unwrap_or_default();
    SlaClock {
        started_at: from_us(m.started_us),
        budget: budget_of(&m.budget_unit, m.budget),
        warn_pct: u8::try_from(m.warn_pct).unwrap_or(75),
        pauses: pauses
            .into_iter()
            .map(|(a, b)| Pause {
                from: from_us(a),
                until: from_us(b),
            })
            .collect(),
        paused_since: m.paused_since_us.map(from_us),
        stopped_at: m.stopped_us.map(from_us),
    }
}

fn pauses_json(c: &SlaClock) -> String {
    let v: Vec<(i64, i64)> = c
        .pauses
        .iter()
        .map(|p| (to_us(p.from), to_us(p.until)))
        .collect();
    serde_json::to_string(&v).unwrap_or_else(|_| "[]".into())
}

fn state_of(status: &Status) -> (&'static str, Option<i64>, Option<i64>) {
    match status {
        Status::OnTrack { left } => ("on_track", None, Some(left.num_seconds())),
        Status::AtRisk { left } => ("at_risk", None, Some(left.num_seconds())),
        Status::Breached { late_by } => ("breached", Some(late_by.num_seconds()), None),
        Status::Paused => ("paused", None, None),
        Status::Met => ("met", None, None),
        Status::Late { late_by } => ("late", Some(late_by.num_seconds()), None),
    }
}

fn to_view(m: &sla_clock::Model, cal: &WorkCalendar, now: DateTime<Utc>) -> Deadline {
    let c = kernel_clock(m);
    let status = c.status(cal, now);
    let (state, late, left) = state_of(&status);
    Deadline {
        id: m.id,
        app: m.app.clone(),
        kind: m.kind.clone(),
        subject_type: m.subject_type.clone(),
        subject_id: m.subject_id.clone(),
        stage: m.stage.clone(),
        title: m.title.clone(),
        link: m.link.clone(),
        agency_id: m.agency_id,
        assignee_id: m.assignee_id,
        started_at: from_us(m.started_us),
        warn_at: m.warn_us.map(from_us),
        due_at: m.due_us.map(from_us),
        stopped_at: m.stopped_us.map(from_us),
        state: state.into(),
        late_by_secs: late.or(m.late_by_secs),
        left_secs: left,
    }
}

/// The next instant a rung occurrence not yet fired falls due (None when nothing is left).
fn next_fire(
    ladder: &Ladder,
    clock: &SlaClock,
    cal: &WorkCalendar,
    now: DateTime<Utc>,
    fired: &BTreeSet<(usize, u32)>,
) -> Option<i64> {
    if clock.stopped_at.is_some() || clock.paused_since.is_some() {
        return None;
    }
    let mut best: Option<DateTime<Utc>> = None;
    for (r, rung) in ladder.iter().enumerate() {
        for k in 0..=rung.repeat_times {
            if fired.contains(&(r, k)) {
                continue;
            }
            if let Some(at) = firing_at(ladder, clock, cal, now, (r, k)) {
                best = Some(best.map_or(at, |b| b.min(at)));
            }
            break;
        }
    }
    best.map(to_us)
}

fn refresh(
    m: &mut sla_clock::ActiveModel,
    c: &SlaClock,
    policy: &Policy,
    cal: &WorkCalendar,
    now: DateTime<Utc>,
    fired: &BTreeSet<(usize, u32)>,
) {
    m.pauses = Set(pauses_json(c));
    m.paused_since_us = Set(c.paused_since.map(to_us));
    m.stopped_us = Set(c.stopped_at.map(to_us));
    let open = c.stopped_at.is_none() && c.paused_since.is_none();
    m.warn_us = Set(if open {
        c.warn_at(cal, now).map(to_us)
    } else {
        None
    });
    m.due_us = Set(if c.paused_since.is_none() {
        c.due_at(cal, now).map(to_us)
    } else {
        None
    });
    m.next_fire_us = Set(next_fire(&policy.ladder, c, cal, now, fired));
}

/// Starts a deadline inside the caller's transaction. The kind must exist.
pub async fn start(tx: &Tx, city: &City, now: DateTime<Utc>, d: NewDeadline) -> AppResult<Uuid> {
    let Some(policy) = policy_kept(tx, city, &d.kind).await? else {
        let mut errs = FieldErrors::default();
        errs.push(FieldError::new("kind", "sla_kind_unknown").with_arg("kind", d.kind.clone()));
        return Err(AppError::Invalid(errs));
    };
    let cal = crate::calendar::load_kept(tx, city).await?;
    let mut c = SlaClock::start(now, policy.budget);
    c.warn_pct = policy.warn_pct;
    let id = kernel::ids::new_id();
    let (unit, amount) = unit_of(policy.budget);
    let mut am = sla_clock::ActiveModel {
        city_code: Set(city.code.clone()),
        id: Set(id),
        app: Set(d.app),
        kind: Set(d.kind),
        subject_type: Set(d.subject_type),
        subject_id: Set(d.subject_id),
        stage: Set(d.stage),
        title: Set(d.title),
        link: Set(d.link),
        agency_id: Set(d.agency_id),
        assignee_id: Set(d.assignee_id),
        requester_id: Set(d.requester_id),
        budget_unit: Set(unit.into()),
        budget: Set(amount),
        warn_pct: Set(i32::from(policy.warn_pct)),
        started_us: Set(to_us(now)),
        outcome: Set(None),
        late_by_secs: Set(None),
        ..Default::default()
    };
    refresh(&mut am, &c, &policy, &cal, now, &BTreeSet::new());
    // A new clock is read back only by later transactions: it goes with the queued writes.
    tx.insert_later(am);
    Ok(id)
}

async fn load_for_update(tx: &Tx, city: &City, id: Uuid) -> AppResult<sla_clock::Model> {
    sla_clock::Entity::find_by_id((city.code.clone(), id))
        .one(&**tx)
        .await?
        .ok_or(AppError::NotFound)
}

async fn fired_set<C: ConnectionTrait>(
    conn: &C,
    city: &str,
    id: Uuid,
) -> AppResult<BTreeSet<(usize, u32)>> {
    Ok(sla_firing::Entity::find()
        .filter(sla_firing::Column::CityCode.eq(city))
        .filter(sla_firing::Column::ClockId.eq(id))
        .all(conn)
        .await?
        .into_iter()
        .map(|f| {
            (
                usize::try_from(f.rung).unwrap_or(0),
                u32::try_from(f.occurrence).unwrap_or(0),
            )
        })
        .collect())
}

async fn change(
    tx: &Tx,
    city: &City,
    id: Uuid,
    now: DateTime<Utc>,
    f: impl FnOnce(&mut SlaClock),
) -> AppResult<Deadline> {
    let m = load_for_update(tx, city, id).await?;
    let policy = policy_kept(tx, city, &m.kind)
        .await?
        .ok_or(AppError::NotFound)?;
    let cal = crate::calendar::load_kept(tx, city).await?;
    let mut c = kernel_clock(&m);
    f(&mut c);
    let fired = fired_set(&**tx, &city.code, id).await?;
    let mut am: sla_clock::ActiveModel = m.into();
    refresh(&mut am, &c, &policy, &cal, now, &fired);
    if c.stopped_at.is_some() {
        let (outcome, late) = match c.status(&cal, now) {
            Status::Late { late_by } => ("late", Some(late_by.num_seconds())),
            _ => ("met", None),
        };
        am.outcome = Set(Some(outcome.into()));
        am.late_by_secs = Set(late);
    }
    let m = am.update(&**tx).await?;
    Ok(to_view(&m, &cal, now))
}

/// Stops the clock while waiting on the citizen or applicant.
pub async fn pause(tx: &Tx, city: &City, id: Uuid, now: DateTime<Utc>) -> AppResult<Deadline> {
    change(tx, city, id, now, |c| c.pause(now)).await
}

pub async fn resume(tx: &Tx, city: &City, id: Uuid, now: DateTime<Utc>) -> AppResult<Deadline> {
    change(tx, city, id, now, |c| c.resume(now)).await
}

/// Stops the clock for good: the outcome (met, or late by how much) is kept for reports.
pub async fn stop(tx: &Tx, city: &City, id: Uuid, now: DateTime<Utc>) -> AppResult<Deadline> {
    change(tx, city, id, now, |c| c.stop(now)).await
}

pub async fn get(
    db: &Db,
    city: &City,
    id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<Option<Deadline>> {
    let Some(m) = sla_clock::Entity::find_by_id((city.code.clone(), id))
        .one(db.conn())
        .await?
    else {
        return Ok(None);
    };
    let cal = crate::calendar::load(db.conn(), city).await?;
    Ok(Some(to_view(&m, &cal, now)))
}

/// The deadlines of one tracked thing, oldest first.
pub async fn of_subject(
    db: &Db,
    city: &City,
    subject_type: &str,
    subject_id: &str,
    now: DateTime<Utc>,
) -> AppResult<Vec<Deadline>> {
    let cal = crate::calendar::load(db.conn(), city).await?;
    Ok(sla_clock::Entity::find()
        .filter(sla_clock::Column::CityCode.eq(&city.code))
        .filter(sla_clock::Column::SubjectType.eq(subject_type))
        .filter(sla_clock::Column::SubjectId.eq(subject_id))
        .order_by_asc(sla_clock::Column::StartedUs)
        .all(db.conn())
        .await?
        .iter()
        .map(|m| to_view(m, &cal, now))
        .collect())
}

/// Names who is responsible for a deadline (the warn rung reminds them).
pub async fn set_assignee(tx: &Tx, city: &City, id: Uuid, assignee: Option<Uuid>) -> AppResult<()> {
    sla_clock::Entity::update_many()
        .col_expr(sla_clock::Column::AssigneeId, Expr::value(assignee))
        .filter(sla_clock::Column::CityCode.eq(&city.code))
        .filter(sla_clock::Column::Id.eq(id))
        .exec(&**tx)
        .await?;
    Ok(())
}

/// The deadline still running (not stopped) on a tracked thing, if any.
pub async fn running<C: ConnectionTrait>(
    conn: &C,
    city: &City,
    subject_type: &str,
    subject_id: &str,
) -> AppResult<Option<Uuid>> {
    Ok(sla_clock::Entity::find()
        .filter(sla_clock::Column::CityCode.eq(&city.code))
        .filter(sla_clock::Column::SubjectType.eq(subject_type))
        .filter(sla_clock::Column::SubjectId.eq(subject_id))
        .filter(sla_clock::Column::StoppedUs.is_null())
        .order_by_desc(sla_clock::Column::StartedUs)
        .one(conn)
        .await?
        .map(|m| m.id))
}

/// Which open deadlines to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    /// Not yet at the warn point.
    Upcoming,
    /// Past the warn point, not yet due.
    AtRisk,
    /// Past due and still open.
    Breached,
    Paused,
}

impl Bucket {
    pub const ALL: [Bucket; 4] = [
        Bucket::Breached,
        Bucket::AtRisk,
        Bucket::Upcoming,
        Bucket::Paused,
    ];
    pub fn code(self) -> &'static str {
        match self {
            Bucket::Upcoming => "upcoming",
            Bucket::AtRisk => "at_risk",
            Bucket::Breached => "breached",
            Bucket::Paused => "paused",
        }
    }
    pub fn parse(s: &str) -> Option<Bucket> {
        Bucket::ALL.into_iter().find(|b| b.code() == s)
    }
}

fn bucket_query(city: &City, b: Bucket, now_us: i64) -> sea_orm::Select<sla_clock::Entity> {
    let q = sla_clock::Entity::find()
        .filter(sla_clock::Column::CityCode.eq(&city.code))
        .filter(sla_clock::Column::StoppedUs.is_null());
    match b {
        Bucket::Breached => q.filter(sla_clock::Column::DueUs.lte(now_us)),
        Bucket::AtRisk => q
            .filter(sla_clock::Column::DueUs.gt(now_us))
            .filter(sla_clock::Column::WarnUs.lte(now_us)),
        Bucket::Upcoming => q
            .filter(sla_clock::Column::DueUs.gt(now_us))
            .filter(sla_clock::Column::WarnUs.gt(now_us)),
        Bucket::Paused => q.filter(sla_clock::Column::PausedSinceUs.is_not_null()),
    }
}

/// Open deadlines in a bucket, soonest due first (paged in the database).
pub async fn overview(
    db: &Db,
    city: &City,
    bucket: Bucket,
    app: Option<&str>,
    now: DateTime<Utc>,
    limit: u64,
    offset: u64,
) -> AppResult<Vec<Deadline>> {
    let cal = crate::calendar::load(db.conn(), city).await?;
    let mut q = bucket_query(city, bucket, to_us(now));
    if let Some(app) = app {
        q = q.filter(sla_clock::Column::App.eq(app));
    }
    Ok(q.order_by_asc(sla_clock::Column::DueUs)
        .order_by_asc(sla_clock::Column::Id)
        .limit(limit)
        .offset(crate::db::offset(offset))
        .all(db.conn())
        .await?
        .iter()
        .map(|m| to_view(m, &cal, now))
        .collect())
}

/// How many open deadlines are in each bucket.
pub async fn counts(db: &Db, city: &City, now: DateTime<Utc>) -> AppResult<Vec<(Bucket, u64)>> {
    let mut out = Vec::new();
    for b in Bucket::ALL {
        out.push((b, bucket_query(city, b, to_us(now)).count(db.conn()).await?));
    }
    Ok(out)
}

/// What one tick did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TickReport {
    pub clocks: usize,
    pub fired: usize,
    pub queued: usize,
}

/// Fires every rung occurrence that is due, across all cities. Safe to run in several
/// instances at once: each occurrence fires once (see the module notes).
pub async fn tick(db: &Db, cities: &CityCache, notifier: &Notifier) -> AppResult<TickReport> {
    let now = notifier.now();
    let now_us = to_us(now);
    let mut report = TickReport::default();
    let mut cals: HashMap<String, (City, WorkCalendar)> = HashMap::new();
    let mut pols: HashMap<(String, String), Option<Policy>> = HashMap::new();
    let mut after: Option<(i64, String, Uuid)> = None;
    loop {
        let mut q = sla_clock::Entity::find()
            .filter(sla_clock::Column::NextFireUs.lte(now_us))
            .filter(sla_clock::Column::StoppedUs.is_null());
        if let Some((at, city, id)) = &after {
            q = q.filter(
                sea_orm::Condition::any()
                    .add(sla_clock::Column::NextFireUs.gt(*at))
                    .add(
                        sea_orm::Condition::all()
                            .add(sla_clock::Column::NextFireUs.eq(*at))
                            .add(sla_clock::Column::CityCode.gt(city.clone())),
                    )
                    .add(
                        sea_orm::Condition::all()
                            .add(sla_clock::Column::NextFireUs.eq(*at))
                            .add(sla_clock::Column::CityCode.eq(city.clone()))
                            .add(sla_clock::Column::Id.gt(*id)),
                    ),
            );
        }
        let batch = q
            .order_by_asc(sla_clock::Column::NextFireUs)
            .order_by_asc(sla_clock::Column::CityCode)
            .order_by_asc(sla_clock::Column::Id)
            .limit(200)
            .all(db.conn())
            .await?;
        let Some(last) = batch.last() else { break };
        after = Some((
            last.next_fire_us.unwrap_or(0),
            last.city_code.clone(),
            last.id,
        ));
        for m in batch {
            report.clocks += 1;
            if !cals.contains_key(&m.city_code) {
                let Some(city) = cities.by_code(db, &m.city_code).await? else {
                    continue;
                };
                let cal = crate::calendar::load(db.conn(), &city).await?;
                cals.insert(m.city_code.clone(), (city, cal));
            }
            let Some((city, cal)) = cals.get(&m.city_code) else {
                continue;
            };
            let pk = (m.city_code.clone(), m.kind.clone());
            if !pols.contains_key(&pk) {
                let p = policy(db.conn(), city, &m.kind).await?;
                pols.insert(pk.clone(), p);
            }
            let Some(Some(policy)) = pols.get(&pk) else {
                continue;
            };
            let (f, q) = fire_clock(db, notifier, city, cal, policy, &m, now).await?;
            report.fired += f;
            report.queued += q;
        }
    }
    Ok(report)
}

async fn fire_clock(
    db: &Db,
    notifier: &Notifier,
    city: &City,
    cal: &WorkCalendar,
    policy: &Policy,
    m: &sla_clock::Model,
    now: DateTime<Utc>,
) -> AppResult<(usize, usize)> {
    let clock = kernel_clock(m);
    let mut fired = fired_set(db.conn(), &city.code, m.id).await?;
    let due = due_rungs(&policy.ladder, &clock, cal, now, &fired);
    let (mut n_fired, mut n_queued) = (0, 0);
    for (r, k) in due {
        let Some(rung) = policy.ladder.get(r) else {
            continue;
        };
        let mut tx = db.tx().await?;
        let inserted = sla_firing::Entity::insert(sla_firing::ActiveModel {
            city_code: Set(city.code.clone()),
            clock_id: Set(m.id),
            rung: Set(i32::try_from(r).unwrap_or(0)),
            occurrence: Set(i32::try_from(k).unwrap_or(0)),
            fired_us: Set(to_us(now)),
        })
        .on_conflict(
            OnConflict::columns([
                sla_firing::Column::CityCode,
                sla_firing::Column::ClockId,
                sla_firing::Column::Rung,
                sla_firing::Column::Occurrence,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&*tx)
        .await?;
        fired.insert((r, k));
        if inserted != 1 {
            tx.rollback().await?;
            continue;
        }
        let template = match rung.trigger {
            Trigger::Warn => "sla.warn",
            Trigger::Breach => "sla.breach",
            Trigger::AfterBreach(_) => "sla.after_breach",
        };
        let around = Around {
            agency_id: m.agency_id,
            assignee_id: m.assignee_id,
            requester_id: m.requester_id,
        };
        let mut people = Vec::new();
        for who in &rung.notify {
            for p in crate::notify::resolve(&*tx, city, who, around).await? {
                if !people.contains(&p) {
                    people.push(p);
                }
            }
        }
        let agency_name = match m.agency_id {
            Some(a) => agency::Entity::find_by_id((city.code.clone(), a))
                .one(&*tx)
                .await?
                .map(|a| a.name)
                .unwrap_or_default(),
            None => String::new(),
        };
        let assignee_name = match m.assignee_id {
            Some(a) => account::Entity::find_by_id((city.code.clone(), a))
                .one(&*tx)
                .await?
                .map(|a| a.full_name)
                .unwrap_or_default(),
            None => "-".into(),
        };
        let due_at = clock.due_at(cal, now);
        let late = match clock.status(cal, now) {
            Status::Breached { late_by } => late_by,
            _ => Duration::zero(),
        };
        let tz = city.tz;
        let vars = |lang: Lang| {
            vec![
                ("title", m.title.clone()),
                ("stage", m.stage.clone()),
                (
                    "due",
                    due_at
                        .map(|d| kernel::format::datetime_short(d, tz, lang))
                        .unwrap_or_default(),
                ),
                ("late", kernel::format::span(late, lang)),
                ("agency", agency_name.clone()),
                ("assignee", assignee_name.clone()),
            ]
        };
        let notice = Notice {
            template,
            vars: &vars,
            link: Some(m.link.clone()).filter(|l| !l.is_empty()),
            source_type: "sla_clock",
            source_id: m.id.to_string(),
            key: format!("sla:{}:{}:{}", m.id, r, k),
        };
        let queued = notifier
            .enqueue(&tx, city, &people, &rung.channels, &notice)
            .await?;
        tx.audit(
            &city.code,
            &Actor::system(),
            Change {
                action: "sla.escalate",
                subject_type: &m.subject_type,
                subject_id: m.subject_id.clone(),
                before: None,
                after: Some(serde_json::json!({
                    "deadline": m.id,
                    "kind": m.kind,
                    "stage": m.stage,
                    "trigger": template,
                    "occurrence": k,
                    "people": people.len(),
                    "queued": queued,
                })),
            },
        )
        .await?;
        tx.commit().await?;
        n_fired += 1;
        n_queued += queued;
    }
    // Whoever fired, the next look is the same instant: writing it twice is harmless.
    let next = next_fire(&policy.ladder, &clock, cal, now, &fired);
    let next_look = sla_clock::Entity::update_many()
        .col_expr(sla_clock::Column::NextFireUs, Expr::value(next))
        .filter(sla_clock::Column::CityCode.eq(&city.code))
        .filter(sla_clock::Column::Id.eq(m.id))
        .filter(sla_clock::Column::StoppedUs.is_null());
    db.write(async |tx| next_look.exec(tx).await).await?;
    Ok((n_fired, n_queued))
}
