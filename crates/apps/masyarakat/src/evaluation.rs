//! The leaders' monthly evaluation (the DPRD chair's request): per agency, kecamatan or category,
//! what came in, what was verified and followed up on time, what was fixed directly and what
//! needs budget (with the sum of estimates), how long fixes took, what is overdue now, disputes
//! and how many reporters were satisfied.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use sea_orm::sea_query::{CaseStatement, Expr, Func, SimpleExpr};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect};
use serde::Serialize;
use uuid::Uuid;

use crate::domain::{ClosureKind, State};
use crate::entity::{event, report};
use crate::store::{self, SUBJECT};
use kernel::Lang;
use platform::city::City;
use platform::clock::to_us;
use platform::db::Db;
use platform::entity::sla_clock;
use platform::error::AppResult;

/// How rows are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum By {
    Agency,
    Kecamatan,
    Category,
}

impl By {
    pub fn parse(s: &str) -> By {
        match s {
            "kecamatan" => By::Kecamatan,
            "kategori" => By::Category,
            _ => By::Agency,
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            By::Agency => "opd",
            By::Kecamatan => "kecamatan",
            By::Category => "kategori",
        }
    }
}

/// One row of the evaluation.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Row {
    pub group: String,
    pub received: u32,
    pub verified_on_time: u32,
    pub verified: u32,
    pub followed_up_on_time: u32,
    pub followed_up: u32,
    pub fixed_directly: u32,
    pub needs_budget: u32,
    pub needs_budget_rupiah: i64,
    pub median_days_to_fix: Option<f64>,
    pub overdue_now: u32,
    pub disputes: u32,
    pub satisfied: u32,
    pub asked: u32,
}

impl Row {
    pub fn satisfaction_pct(&self) -> Option<u32> {
        (self.asked > 0).then(|| (self.satisfied * 100 + self.asked / 2) / self.asked)
    }
}

/// The month's first instant and the next month's, in the city's time zone.
pub fn month_bounds(city: &City, year: i32, month: u32) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let start = NaiveDate::from_ymd_opt(year, month, 1)?;
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)?
    };
    let at = |d: NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(city.tz).single())
            .map(|t| t.with_timezone(&Utc))
    };
    Some((at(start)?, at(next)?))
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// What the evaluation reads of a report.
#[derive(Debug, sea_orm::FromQueryResult)]
struct Counted {
    id: Uuid,
    code: String,
    category_id: Uuid,
    agency_id: Option<Uuid>,
    kelurahan_code: Option<String>,
    state: String,
    closure: Option<String>,
    estimate_rupiah: Option<i64>,
    confirmation: Option<String>,
    created_us: i64,
    closed_us: Option<i64>,
}

/// What the evaluation reads of a report's deadline.
#[derive(Debug, sea_orm::FromQueryResult)]
struct Clock {
    subject_id: String,
    kind: String,
    outcome: Option<String>,
    due_us: Option<i64>,
    paused_since_us: Option<i64>,
    stopped_us: Option<i64>,
}

/// The evaluation of reports received in a month, grouped, with a total row last.
pub async fn monthly(
    db: &Db,
    city: &City,
    year: i32,
    month: u32,
    by: By,
    lang: Lang,
    now: DateTime<Utc>,
) -> AppResult<Vec<Row>> {
    let Some((from, until)) = month_bounds(city, year, month) else {
        return Ok(vec![]);
    };
    // Only the columns the figures need: a busy month is tens of thousands of reports, and
    // their descriptions, addresses and answers are most of each row.
    let reports: Vec<Counted> = report::Entity::find()
        .filter(report::Column::CityCode.eq(&city.code))
        .filter(report::Column::CreatedUs.gte(to_us(from)))
        .filter(report::Column::CreatedUs.lt(to_us(until)))
        .select_only()
        .columns([
            report::Column::Id,
            report::Column::Code,
            report::Column::CategoryId,
            report::Column::AgencyId,
            report::Column::KelurahanCode,
            report::Column::State,
            report::Column::Closure,
            report::Column::EstimateRupiah,
            report::Column::Confirmation,
            report::Column::CreatedUs,
            report::Column::ClosedUs,
        ])
        .into_model()
        .all(db.conn())
        .await?;
    let codes: Vec<String> = reports.iter().map(|r| r.code.clone()).collect();
    let ids: Vec<Uuid> = reports.iter().map(|r| r.id).collect();
    // Deadlines of those reports, by code.
    let mut clocks: HashMap<String, Vec<Clock>> = HashMap::new();
    for chunk in codes.chunks(500) {
        for c in sla_clock::Entity::find()
            .filter(sla_clock::Column::CityCode.eq(&city.code))
            .filter(sla_clock::Column::SubjectType.eq(SUBJECT))
            .filter(sla_clock::Column::SubjectId.is_in(chunk.to_vec()))
            .select_only()
            .columns([
                sla_clock::Column::SubjectId,
                sla_clock::Column::Kind,
                sla_clock::Column::Outcome,
                sla_clock::Column::DueUs,
                sla_clock::Column::PausedSinceUs,
                sla_clock::Column::StoppedUs,
            ])
            .into_model::<Clock>()
            .all(db.conn())
            .await?
        {
            clocks.entry(c.subject_id.clone()).or_default().push(c);
        }
    }
    let mut disputed: BTreeSet<Uuid> = BTreeSet::new();
    for chunk in ids.chunks(500) {
        for e in event::Entity::find()
            .filter(event::Column::CityCode.eq(&city.code))
            .filter(event::Column::ReportId.is_in(chunk.to_vec()))
            .filter(event::Column::Kind.eq("dispute"))
            .select_only()
            .column(event::Column::ReportId)
            .into_tuple::<Uuid>()
            .all(db.conn())
            .await?
        {
            disputed.insert(e);
        }
    }
    let cats = store::categories(db.conn(), city, false).await?;
    let agencies = platform::agencies::list(db, city, &Default::default()).await?;
    let prefixes: Vec<(String, String)> = city
        .districts()
        .into_iter()
        .map(|d| (format!("{}.", d.code), d.name.to_string()))
        .collect();
    let group_of = |r: &Counted| -> String {
        match by {
            By::Agency => r
                .agency_id
                .and_then(|a| agencies.iter().find(|x| x.id == a))
                .map(|a| a.short_name.clone())
                .unwrap_or_else(|| platform::i18n::t(lang, "mas-eval-no-agency")),
            By::Category => cats
                .iter()
                .find(|c| c.id == r.category_id)
                .map(|c| c.name(lang).to_string())
                .unwrap_or_default(),
            By::Kecamatan => r
                .kelurahan_code
                .as_deref()
                .and_then(|k| prefixes.iter().find(|(p, _)| k.starts_with(p.as_str())))
                .map(|(_, name)| name.to_string())
                .unwrap_or_else(|| platform::i18n::t(lang, "mas-eval-no-kecamatan")),
        }
    };
    let mut rows: BTreeMap<String, (Row, Vec<f64>)> = BTreeMap::new();
    let mut total = (Row::default(), Vec::new());
    let now_us = to_us(now);
    for r in &reports {
        let g = group_of(r);
        let entry = rows.entry(g.clone()).or_insert_with(|| {
            (
                Row {
                    group: g,
                    ..Default::default()
                },
                Vec::new(),
            )
        });
        for (row, days) in [(&mut entry.0, &mut entry.1), (&mut total.0, &mut total.1)] {
            row.received += 1;
            for c in clocks.get(&r.code).into_iter().flatten() {
                let stopped = c.stopped_us.is_some();
                let met = c.outcome.as_deref() == Some("met");
                if c.kind == "masyarakat.verifikasi" && stopped {
                    row.verified += 1;
                    row.verified_on_time += u32::from(met);
                }
                if c.kind == "masyarakat.tindak_lanjut" && stopped {
                    row.followed_up += 1;
                    row.followed_up_on_time += u32::from(met);
                }
            }
            let running_breached = clocks.get(&r.code).into_iter().flatten().any(|c| {
                c.stopped_us.is_none()
                    && c.paused_since_us.is_none()
                    && c.due_us.is_some_and(|d| d <= now_us)
            });
            row.overdue_now += u32::from(running_breached);
            match r.closure.as_deref().and_then(ClosureKind::parse) {
                Some(ClosureKind::FixedDirectly) => {
                    row.fixed_directly += 1;
                    if let Some(closed) = r.closed_us {
                        days.push(
                            ((closed - r.created_us) as f64 / 86_400_000_000.0 * 10.0).round()
                                / 10.0,
                        );
                    }
                }
                Some(ClosureKind::NeedsBudget) => {
                    row.needs_budget += 1;
                    row.needs_budget_rupiah += r.estimate_rupiah.unwrap_or(0);
                }
                _ => {}
            }
            row.disputes += u32::from(disputed.contains(&r.id));
            if State::parse(&r.state)
                .and_then(State::closure)
                .is_some_and(ClosureKind::asks_confirmation)
                || r.confirmation.is_some()
            {
                match r.confirmation.as_deref() {
                    Some("confirmed" | "silence") => {
                        row.asked += 1;
                        row.satisfied += 1;
                    }
                    Some("disputed") => row.asked += 1,
                    _ => {}
                }
            }
        }
    }
    let mut out: Vec<Row> = rows
        .into_values()
        .map(|(mut r, d)| {
            r.median_days_to_fix = median(d);
            r
        })
        .collect();
    out.sort_by(|a, b| b.received.cmp(&a.received).then(a.group.cmp(&b.group)));
    let (mut t, d) = total;
    t.group = platform::i18n::t(lang, "mas-eval-total");
    t.median_days_to_fix = median(d);
    out.push(t);
    Ok(out)
}

/// The CSV of an evaluation (same columns as the page).
pub fn to_csv(rows: &[Row]) -> String {
    let mut s = String::from(
        "group,received,verified,verified_on_time,followed_up,followed_up_on_time,fixed_directly,needs_budget,needs_budget_rupiah,median_days_to_fix,overdue_now,disputes,satisfaction_pct\n",
    );
    for r in rows {
        let g = kernel::csv::cell(&r.group);
        s.push_str(&format!(
            "{g},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            r.received,
            r.verified,
            r.verified_on_time,
            r.followed_up,
            r.followed_up_on_time,
            r.fixed_directly,
            r.needs_budget,
            r.needs_budget_rupiah,
            r.median_days_to_fix
                .map(|d| format!("{d:.1}"))
                .unwrap_or_default(),
            r.overdue_now,
            r.disputes,
            r.satisfaction_pct()
                .map(|p| p.to_string())
                .unwrap_or_default(),
        ));
    }
    s
}

/// The public statistics: the last twelve months of the whole city, counted in the database.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PublicStats {
    pub received: u64,
    pub closed: u64,
    /// Open now, whenever received.
    pub open_now: u64,
    pub fixed_directly: u64,
    pub needs_budget: u64,
    pub needs_budget_rupiah: i64,
    /// Follow-up deadlines ended in the window: (on time, all).
    pub followed_up_on_time: (u64, u64),
    pub median_days_to_fix: Option<f64>,
    /// (year, month, received, of which closed), oldest first.
    pub months: Vec<(i32, u32, u64, u64)>,
    /// (category id, received, closed), most received first.
    pub by_category: Vec<(Uuid, u64, u64)>,
    /// (kecamatan name, received), most first; reports without a kelurahan are left out.
    pub by_kecamatan: Vec<(String, u64)>,
    /// Closed in the window by closure kind.
    pub closures: Vec<(ClosureKind, u64)>,
}

/// One group of the public statistics' pass over twelve months.
#[derive(Debug, sea_orm::FromQueryResult)]
struct StatsGroup {
    month_no: i64,
    category_id: Uuid,
    closure: Option<String>,
    is_closed: i64,
    kelurahan_code: Option<String>,
    n: i64,
    rp: Option<i64>,
}

/// Statistics for `/pengaduan/statistik`: twelve months up to `now`'s month.
pub async fn public_stats(db: &Db, city: &City, now: DateTime<Utc>) -> AppResult<PublicStats> {
    let (y, m) = month_of(city, now);
    let mut months = Vec::new();
    for back in (0..12).rev() {
        let idx = y * 12 + m as i32 - 1 - back;
        months.push((idx.div_euclid(12), (idx.rem_euclid(12) + 1) as u32));
    }
    let Some((since, _)) = month_bounds(city, months[0].0, months[0].1) else {
        return Ok(PublicStats::default());
    };
    let since_us = to_us(since);
    let Some((_, until)) = month_bounds(city, y, m) else {
        return Ok(PublicStats::default());
    };
    let in_city = || report::Entity::find().filter(report::Column::CityCode.eq(&city.code));
    let mut st = PublicStats::default();
    // The twelve months in one pass over their reports, grouped by month (its number, 0 the
    // oldest), category, closure, whether closed, and kelurahan; a few thousand groups at most,
    // however many reports.
    let mut ends = Vec::with_capacity(months.len());
    for &(yy, mm) in &months {
        let (_, b) = month_bounds(city, yy, mm).unwrap_or((since, until));
        ends.push(to_us(b));
    }
    let month_no = ends
        .iter()
        .enumerate()
        .fold(CaseStatement::new(), |c, (i, b)| {
            c.case(report::Column::CreatedUs.lt(*b), i as i64)
        })
        .finally(months.len() as i64 - 1);
    let is_closed = CaseStatement::new()
        .case(report::Column::ClosedUs.is_null(), 0i64)
        .finally(1i64);
    let groups: Vec<StatsGroup> = in_city()
        .filter(report::Column::CreatedUs.gte(since_us))
        .filter(report::Column::CreatedUs.lt(to_us(until)))
        .select_only()
        .column_as(Into::<SimpleExpr>::into(month_no), "month_no")
        .column(report::Column::CategoryId)
        .column(report::Column::Closure)
        .column_as(Into::<SimpleExpr>::into(is_closed), "is_closed")
        .column(report::Column::KelurahanCode)
        .column_as(report::Column::Id.count(), "n")
        // SUM of a BIGINT is NUMERIC on PostgreSQL: cast back so both backends give an i64.
        .column_as(
            SimpleExpr::from(Func::cast_as(
                Func::sum(Expr::col(report::Column::EstimateRupiah)),
                "BIGINT",
            )),
            "rp",
        )
        // By the output's names: the CASE expressions carry bound values, which PostgreSQL
        // would not match between the list and the grouping.
        .group_by(Expr::col("month_no"))
        .group_by(report::Column::CategoryId)
        .group_by(report::Column::Closure)
        .group_by(Expr::col("is_closed"))
        .group_by(report::Column::KelurahanCode)
        .into_model()
        .all(db.conn())
        .await?;
    let mut per_month = vec![(0u64, 0u64); months.len()];
    let mut cats: BTreeMap<Uuid, (u64, u64)> = BTreeMap::new();
    let mut kinds: BTreeMap<&'static str, (ClosureKind, u64)> = BTreeMap::new();
    let mut kel: BTreeMap<String, u64> = BTreeMap::new();
    for StatsGroup {
        month_no: month,
        category_id: cat,
        closure,
        is_closed: closed,
        kelurahan_code: kelurahan,
        n,
        rp,
    } in groups
    {
        let n = n.max(0) as u64;
        if let Some(x) = usize::try_from(month)
            .ok()
            .and_then(|i| per_month.get_mut(i))
        {
            x.0 += n;
            if closed == 1 {
                x.1 += n;
            }
        }
        if let Some(k) = kelurahan {
            *kel.entry(k).or_default() += n;
        }
        let e = cats.entry(cat).or_default();
        e.0 += n;
        if let Some(k) = closure.as_deref().and_then(ClosureKind::parse) {
            e.1 += n;
            kinds.entry(k.code()).or_insert((k, 0)).1 += n;
            match k {
                ClosureKind::FixedDirectly => st.fixed_directly += n,
                ClosureKind::NeedsBudget => {
                    st.needs_budget += n;
                    st.needs_budget_rupiah += rp.unwrap_or(0);
                }
                _ => {}
            }
        }
    }
    st.months = months
        .iter()
        .zip(per_month)
        .map(|(&(yy, mm), (received, closed))| (yy, mm, received, closed))
        .collect();
    st.received = st.months.iter().map(|x| x.2).sum();
    st.closed = st.months.iter().map(|x| x.3).sum();
    // Open now, whenever received: counted along the state index (a report has its closing
    // instant exactly while its state is a closed one).
    let open: Vec<&'static str> = State::ALL
        .iter()
        .filter(|s| !s.is_closed())
        .map(|s| s.code())
        .collect();
    st.open_now = in_city()
        .filter(report::Column::State.is_in(open))
        .count(db.conn())
        .await?;
    st.by_category = cats.into_iter().map(|(c, (a, b))| (c, a, b)).collect();
    st.by_category.sort_by_key(|x| std::cmp::Reverse(x.1));
    st.closures = kinds.into_values().collect();
    st.closures.sort_by_key(|x| std::cmp::Reverse(x.1));
    // By kecamatan: the kelurahan's counts folded into their kecamatan.
    let mut kec: BTreeMap<String, u64> = BTreeMap::new();
    for d in city.districts() {
        let prefix = format!("{}.", d.code);
        let n: u64 = kel
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(_, n)| *n)
            .sum();
        kec.insert(d.name.to_string(), n);
    }
    st.by_kecamatan = kec.into_iter().collect();
    st.by_kecamatan
        .sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    // Follow-up deadlines that ended in the window.
    let ended: Vec<(Option<String>, i64)> = sla_clock::Entity::find()
        .filter(sla_clock::Column::CityCode.eq(&city.code))
        .filter(sla_clock::Column::Kind.eq("masyarakat.tindak_lanjut"))
        .filter(sla_clock::Column::StartedUs.gte(since_us))
        .filter(sla_clock::Column::StoppedUs.is_not_null())
        .select_only()
        .column(sla_clock::Column::Outcome)
        .column_as(sla_clock::Column::Id.count(), "n")
        .group_by(sla_clock::Column::Outcome)
        .into_tuple()
        .all(db.conn())
        .await?;
    for (outcome, n) in ended {
        let n = n.max(0) as u64;
        st.followed_up_on_time.1 += n;
        if outcome.as_deref() == Some("met") {
            st.followed_up_on_time.0 += n;
        }
    }
    // Days from report to fix, for those fixed directly.
    let spans: Vec<(i64, Option<i64>)> = in_city()
        .filter(report::Column::CreatedUs.gte(since_us))
        .filter(report::Column::Closure.eq(ClosureKind::FixedDirectly.code()))
        .select_only()
        .column(report::Column::CreatedUs)
        .column(report::Column::ClosedUs)
        .into_tuple()
        .all(db.conn())
        .await?;
    st.median_days_to_fix = median(
        spans
            .into_iter()
            .filter_map(|(a, b)| {
                b.map(|b| ((b - a) as f64 / 86_400_000_000.0 * 10.0).round() / 10.0)
            })
            .collect(),
    );
    Ok(st)
}

/// Labels for the PDF, already in the reader's language.
pub struct PdfText {
    /// e.g. "Evaluasi pengaduan · November 2026 · per OPD"
    pub title: String,
    /// e.g. "Kota Binjai · dibuat 24 November 2026 09.00 WIB"
    pub subtitle: String,
    /// Column headings, in the order of the table (group first).
    pub columns: Vec<String>,
    /// Chart legend: received, fixed directly, needs budget.
    pub legend: [String; 3],
    pub notes: String,
    /// "Halaman" (the footer reads "Halaman 1/2").
    pub page: String,
}

/// The evaluation as a printable A4 landscape PDF: a bar chart, then the table (continued on
/// further pages when long), with the notes and page numbers.
pub fn to_pdf(rows: &[Row], t: &PdfText) -> Vec<u8> {
    use kernel::pdf::{A4, Doc, Font, Page, fit};
    let (w, h) = (A4.1, A4.0);
    let margin = 36.0;
    let blue = (0.114, 0.439, 0.722);
    let green = (0.0, 0.439, 0.235);
    let orange = (0.702, 0.361, 0.0);
    let mut doc = Doc::new((w, h), &t.title);
    let cells = |r: &Row| -> Vec<String> {
        vec![
            r.group.clone(),
            r.received.to_string(),
            format!("{}/{}", r.verified_on_time, r.verified),
            format!("{}/{}", r.followed_up_on_time, r.followed_up),
            r.fixed_directly.to_string(),
            format!(
                "{} · {}",
                r.needs_budget,
                kernel::format::rupiah(r.needs_budget_rupiah)
            ),
            r.median_days_to_fix
                .map(|d| format!("{d:.1}"))
                .unwrap_or_else(|| "–".into()),
            r.overdue_now.to_string(),
            r.disputes.to_string(),
            r.satisfaction_pct()
                .map(|p| format!("{p}%"))
                .unwrap_or_else(|| "–".into()),
        ]
    };
    // Column right edges (the group column is left-aligned).
    let widths = [190.0, 55.0, 65.0, 70.0, 60.0, 120.0, 55.0, 50.0, 45.0, 55.0];
    let head = |p: &mut Page, y: f64| {
        let mut x = margin;
        for (i, c) in t.columns.iter().enumerate() {
            let cw = widths.get(i).copied().unwrap_or(50.0);
            let label = fit(c, cw - 4.0, 8.0, Font::Bold);
            if i == 0 {
                p.text(x, y, 8.0, Font::Bold, &label);
            } else {
                p.text_right(x + cw - 2.0, y, 8.0, Font::Bold, &label);
            }
            x += cw;
        }
        p.line(margin, y - 4.0, w - margin, y - 4.0);
    };
    let row_h = 15.0;
    let mut index = 0;
    let mut pages: Vec<Page> = Vec::new();
    // First page: titles and chart.
    let mut p = Page::default();
    p.text(margin, h - margin - 14.0, 16.0, Font::Bold, &t.title);
    p.text(margin, h - margin - 32.0, 10.0, Font::Regular, &t.subtitle);
    let chart_rows: Vec<&Row> = rows
        .iter()
        .take(rows.len().saturating_sub(1))
        .take(8)
        .collect();
    let max = chart_rows
        .iter()
        .map(|r| r.received)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let mut y = h - margin - 60.0;
    for r in &chart_rows {
        p.text(
            margin,
            y - 8.0,
            8.0,
            Font::Regular,
            &fit(&r.group, 150.0, 8.0, Font::Regular),
        );
        let bw = 320.0;
        let x0 = margin + 160.0;
        p.rect(x0, y - 6.0, f64::from(r.received) / max * bw, 6.0, blue);
        p.rect(
            x0,
            y - 13.0,
            f64::from(r.fixed_directly) / max * bw,
            6.0,
            green,
        );
        p.rect(
            x0 + f64::from(r.fixed_directly) / max * bw,
            y - 13.0,
            f64::from(r.needs_budget) / max * bw,
            6.0,
            orange,
        );
        p.text(
            x0 + f64::from(r.received) / max * bw + 4.0,
            y - 6.0,
            7.0,
            Font::Regular,
            &r.received.to_string(),
        );
        y -= 18.0;
    }
    let mut lx = margin;
    for (label, colour) in t.legend.iter().zip([blue, green, orange]) {
        p.rect(lx, y - 8.0, 8.0, 8.0, colour);
        p.text(lx + 12.0, y - 7.0, 8.0, Font::Regular, label);
        lx += 24.0 + kernel::pdf::text_width(label, 8.0, Font::Regular);
    }
    y -= 30.0;
    loop {
        head(&mut p, y);
        y -= row_h + 2.0;
        while index < rows.len() && y > margin + 30.0 {
            let r = &rows[index];
            let font = if index + 1 == rows.len() {
                Font::Bold
            } else {
                Font::Regular
            };
            let mut x = margin;
            for (i, c) in cells(r).iter().enumerate() {
                let cw = widths.get(i).copied().unwrap_or(50.0);
                if i == 0 {
                    p.text(x, y, 8.5, font, &fit(c, cw - 6.0, 8.5, font));
                } else {
                    p.text_right(x + cw - 2.0, y, 8.5, font, c);
                }
                x += cw;
            }
            y -= row_h;
            index += 1;
        }
        if index >= rows.len() {
            if y > margin + 30.0 {
                p.text(
                    margin,
                    y - 6.0,
                    7.5,
                    Font::Regular,
                    &fit(&t.notes, w - 2.0 * margin, 7.5, Font::Regular),
                );
            }
            pages.push(p);
            break;
        }
        pages.push(p);
        p = Page::default();
        p.text(margin, h - margin - 10.0, 10.0, Font::Bold, &t.title);
        y = h - margin - 34.0;
    }
    let total = pages.len();
    for (i, mut pg) in pages.into_iter().enumerate() {
        let footer = format!("{} {}/{total}", t.page, i + 1);
        pg.text_right(w - margin, margin / 2.0, 7.5, Font::Regular, &footer);
        *doc.page() = pg;
    }
    doc.finish()
}

/// The month of an instant in the city.
pub fn month_of(city: &City, t: DateTime<Utc>) -> (i32, u32) {
    let l = t.with_timezone(&city.tz);
    (l.year(), l.month())
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn medians() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }
}
