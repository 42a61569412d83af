//! The working calendar of a city: which days are working days (Monday–Friday by default,
//! Saturday optional), office hours, national holidays and cuti bersama as data, and the city's
//! time zone. Deadlines count *working time*: office hours on working days, minus paused
//! intervals (waiting on the citizen). A budget of N working days is N office days of working
//! time, so a report received at 10.00 on a working day is due at 10.00 N working days later, and
//! one received at night is due when the office closes on the Nth working day.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// How far a search may run before it gives up (a calendar with no working day at all).
const MAX_DAYS: i64 = 3660;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HolidayKind {
    LiburNasional,
    CutiBersama,
    LiburDaerah,
}

impl HolidayKind {
    pub fn code(self) -> &'static str {
        match self {
            HolidayKind::LiburNasional => "libur_nasional",
            HolidayKind::CutiBersama => "cuti_bersama",
            HolidayKind::LiburDaerah => "libur_daerah",
        }
    }

    pub fn parse(s: &str) -> Option<HolidayKind> {
        [
            HolidayKind::LiburNasional,
            HolidayKind::CutiBersama,
            HolidayKind::LiburDaerah,
        ]
        .into_iter()
        .find(|k| k.code() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holiday {
    pub date: NaiveDate,
    pub kind: HolidayKind,
    pub name: String,
}

/// A row of a holiday CSV that could not be read: its line number (1 = the header) and a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvRowError {
    pub line: usize,
    /// `csv_header`, `csv_columns`, `csv_date`, `csv_kind`, `csv_name`, `csv_duplicate`.
    pub key: &'static str,
}

/// Reads `date,kind,name` rows. Every bad row is reported (not just the first), and nothing is
/// returned unless all rows are good, so an import never half-applies.
pub fn parse_holidays_csv(text: &str) -> Result<Vec<Holiday>, Vec<CsvRowError>> {
    let mut out: Vec<Holiday> = Vec::new();
    let mut errs = Vec::new();
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, h))
            if h.trim()
                .trim_start_matches('\u{feff}')
                .eq_ignore_ascii_case("date,kind,name") => {}
        _ => errs.push(CsvRowError {
            line: 1,
            key: "csv_header",
        }),
    }
    for (i, line) in lines {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let mut parts = line.splitn(3, ',');
        let (Some(d), Some(k), Some(n)) = (parts.next(), parts.next(), parts.next()) else {
            errs.push(CsvRowError {
                line: line_no,
                key: "csv_columns",
            });
            continue;
        };
        let Ok(date) = NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d") else {
            errs.push(CsvRowError {
                line: line_no,
                key: "csv_date",
            });
            continue;
        };
        let Some(kind) = HolidayKind::parse(k.trim()) else {
            errs.push(CsvRowError {
                line: line_no,
                key: "csv_kind",
            });
            continue;
        };
        let name = n.trim().trim_matches('"').trim().to_string();
        if name.is_empty() || name.chars().count() > 200 {
            errs.push(CsvRowError {
                line: line_no,
                key: "csv_name",
            });
            continue;
        }
        if out.iter().any(|h| h.date == date) {
            errs.push(CsvRowError {
                line: line_no,
                key: "csv_duplicate",
            });
            continue;
        }
        out.push(Holiday { date, kind, name });
    }
    if errs.is_empty() { Ok(out) } else { Err(errs) }
}

/// Writes holidays in the format `parse_holidays_csv` reads.
pub fn holidays_to_csv(hs: &[Holiday]) -> String {
    let mut s = String::from("date,kind,name\n");
    for h in hs {
        s.push_str(&format!(
            "{},{},{}\n",
            h.date,
            h.kind.code(),
            h.name.replace(['\n', '\r'], " ")
        ));
    }
    s
}

/// Indonesia's 2026 holidays and cuti bersama (SKB 1497/2/5 Tahun 2025, Keppres 42/2025).
pub fn national_holidays_2026() -> Vec<Holiday> {
    parse_holidays_csv(include_str!("../data/holidays/id-2026.csv")).unwrap_or_default()
}

/// A paused interval `[from, until)`: the clock does not run inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pause {
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkCalendar {
    pub tz: Tz,
    /// Monday first.
    pub workdays: [bool; 7],
    /// Office hours as minutes after local midnight, `open < close <= 1440`.
    pub open_min: u32,
    pub close_min: u32,
    pub holidays: BTreeSet<NaiveDate>,
}

impl WorkCalendar {
    /// Monday–Friday, 08.00–16.00, in `tz`, with `holidays`.
    pub fn standard(tz: Tz, holidays: impl IntoIterator<Item = NaiveDate>) -> WorkCalendar {
        WorkCalendar {
            tz,
            workdays: [true, true, true, true, true, false, false],
            open_min: 8 * 60,
            close_min: 16 * 60,
            holidays: holidays.into_iter().collect(),
        }
    }

    /// The length of one office day.
    pub fn day_length(&self) -> Duration {
        Duration::minutes(i64::from(self.close_min.saturating_sub(self.open_min)))
    }

    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        let wd = d.weekday().num_days_from_monday() as usize;
        self.workdays.get(wd).copied().unwrap_or(false) && !self.holidays.contains(&d)
    }

    fn at(&self, d: NaiveDate, minutes: u32) -> Option<DateTime<Utc>> {
        let start = self
            .tz
            .from_local_datetime(&d.and_time(NaiveTime::MIN))
            .earliest()?;
        Some(start.with_timezone(&Utc) + Duration::minutes(i64::from(minutes)))
    }

    /// Office time of local day `d`, if it is a working day.
    fn office(&self, d: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if !self.is_working_day(d) || self.open_min >= self.close_min {
            return None;
        }
        Some((self.at(d, self.open_min)?, self.at(d, self.close_min)?))
    }

    fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.tz).date_naive()
    }

    /// The parts of `[a, b)` not covered by any pause, in order.
    fn minus_pauses(
        a: DateTime<Utc>,
        b: DateTime<Utc>,
        pauses: &[Pause],
    ) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let mut parts = vec![(a, b)];
        for p in pauses {
            let mut next = Vec::new();
            for (x, y) in parts {
                if p.until <= x || p.from >= y {
                    next.push((x, y));
                    continue;
                }
                if p.from > x {
                    next.push((x, p.from));
                }
                if p.until < y {
                    next.push((p.until, y));
                }
            }
            parts = next;
        }
        parts.retain(|(x, y)| x < y);
        parts.sort();
        parts
    }

    /// Adds `amount` of working time to `start`. `None` when no working time is found within ten
    /// years (a calendar without working days).
    pub fn add_working_time(
        &self,
        start: DateTime<Utc>,
        amount: Duration,
        pauses: &[Pause],
    ) -> Option<DateTime<Utc>> {
        let mut left = amount;
        if left <= Duration::zero() {
            return Some(start);
        }
        let first = self.local_date(start);
        for i in 0..MAX_DAYS {
            let d = first + Duration::days(i);
            let Some((open, close)) = self.office(d) else {
                continue;
            };
            let from = open.max(start);
            if from >= close {
                continue;
            }
            for (x, y) in Self::minus_pauses(from, close, pauses) {
                let span = y - x;
                if span >= left {
                    return Some(x + left);
                }
                left -= span;
            }
        }
        None
    }

    /// Adds `n` working days (n office days of working time).
    pub fn add_working_days(
        &self,
        start: DateTime<Utc>,
        n: u32,
        pauses: &[Pause],
    ) -> Option<DateTime<Utc>> {
        self.add_working_time(start, self.day_length() * n as i32, pauses)
    }

    /// Adds `h` working hours.
    pub fn add_working_hours(
        &self,
        start: DateTime<Utc>,
        h: u32,
        pauses: &[Pause],
    ) -> Option<DateTime<Utc>> {
        self.add_working_time(start, Duration::hours(i64::from(h)), pauses)
    }

    /// Working time between `a` and `b` (zero when `b <= a`).
    pub fn working_time_between(
        &self,
        a: DateTime<Utc>,
        b: DateTime<Utc>,
        pauses: &[Pause],
    ) -> Duration {
        let mut total = Duration::zero();
        if b <= a {
            return total;
        }
        let (first, last) = (self.local_date(a), self.local_date(b));
        let days = (last - first).num_days().min(MAX_DAYS);
        for i in 0..=days {
            let d = first + Duration::days(i);
            let Some((open, close)) = self.office(d) else {
                continue;
            };
            let (x, y) = (open.max(a), close.min(b));
            if x < y {
                total += Self::minus_pauses(x, y, pauses)
                    .into_iter()
                    .map(|(p, q)| q - p)
                    .sum::<Duration>();
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{cal, wib};
    use proptest::prelude::*;

    #[test]
    fn the_2026_list_has_17_holidays_and_8_days_of_cuti_bersama() {
        let hs = national_holidays_2026();
        assert_eq!(
            hs.iter()
                .filter(|h| h.kind == HolidayKind::LiburNasional)
                .count(),
            17
        );
        assert_eq!(
            hs.iter()
                .filter(|h| h.kind == HolidayKind::CutiBersama)
                .count(),
            8
        );
        assert_eq!(parse_holidays_csv(&holidays_to_csv(&hs)), Ok(hs));
    }

    #[test]
    fn three_working_days_across_nyepi_and_lebaran() {
        // Friday 13 March 2026, 10.00 WIB. Office 08–16. Fri 6 h, Mon 16th 8 h, Tue 17th 8 h,
        // then Wed 18 (cuti) … Tue 24 (cuti) are off: the last 2 h fall on Wed 25 March.
        let due = cal().add_working_days(wib(2026, 3, 13, 10, 0), 3, &[]);
        assert_eq!(due, Some(wib(2026, 3, 25, 10, 0)));
        // received on Saturday night: due when the office closes on the 3rd working day
        assert_eq!(
            cal().add_working_days(wib(2026, 3, 7, 22, 0), 3, &[]),
            Some(wib(2026, 3, 11, 16, 0))
        );
    }

    #[test]
    fn pauses_stop_the_clock() {
        let c = cal();
        let start = wib(2026, 11, 23, 9, 0); // Monday
        let pause = Pause {
            from: wib(2026, 11, 23, 12, 0),
            until: wib(2026, 11, 24, 12, 0),
        };
        // 8 h: 09–12 (3 h), paused until Tue 12.00, 12–16 (4 h), Wed 08–09 (1 h)
        assert_eq!(
            c.add_working_hours(start, 8, &[pause]),
            Some(wib(2026, 11, 25, 9, 0))
        );
        assert_eq!(
            c.working_time_between(start, wib(2026, 11, 25, 9, 0), &[pause]),
            Duration::hours(8)
        );
    }

    #[test]
    fn saturday_can_be_a_working_day_and_an_empty_calendar_gives_up() {
        let mut c = cal();
        c.workdays[5] = true;
        assert_eq!(
            c.add_working_hours(wib(2026, 11, 27, 15, 0), 2, &[]),
            Some(wib(2026, 11, 28, 9, 0))
        );
        c.workdays = [false; 7];
        assert_eq!(c.add_working_hours(wib(2026, 11, 27, 15, 0), 2, &[]), None);
        assert_eq!(
            c.working_time_between(wib(2026, 11, 1, 0, 0), wib(2026, 12, 1, 0, 0), &[]),
            Duration::zero()
        );
    }

    #[test]
    fn csv_errors_name_every_bad_line() {
        let text = "date,kind,name\n2026-01-01,libur_nasional,Tahun Baru\n2026-02-30,libur_nasional,X\n2026-03-01,libur,Y\n2026-01-01,cuti_bersama,Dup\nonly-one-column\n2026-04-01,libur_daerah,\n";
        let errs = parse_holidays_csv(text).expect_err("bad rows");
        let keys: Vec<(usize, &str)> = errs.iter().map(|e| (e.line, e.key)).collect();
        assert_eq!(
            keys,
            vec![
                (3, "csv_date"),
                (4, "csv_kind"),
                (5, "csv_duplicate"),
                (6, "csv_columns"),
                (7, "csv_name")
            ]
        );
        assert_eq!(
            parse_holidays_csv("tanggal,nama\n").expect_err("header")[0].key,
            "csv_header"
        );
    }

    proptest! {
        #[test]
        fn adding_then_measuring_gives_back_the_amount(
            day in 0i64..700, minute in 0i64..1440, amount in 0i64..(60 * 24 * 30),
            pause_at in 0i64..(60 * 24 * 20), pause_len in 0i64..(60 * 24 * 5),
        ) {
            let c = cal();
            let start = wib(2026, 1, 1, 0, 0) + Duration::days(day) + Duration::minutes(minute);
            let p = Pause { from: start + Duration::minutes(pause_at), until: start + Duration::minutes(pause_at + pause_len) };
            let due = c.add_working_time(start, Duration::minutes(amount), &[p]).expect("due");
            prop_assert!(due >= start);
            prop_assert_eq!(c.working_time_between(start, due, &[p]), Duration::minutes(amount));
        }

        #[test]
        fn a_deadline_never_lands_on_a_holiday_or_outside_office_hours(
            day in 0i64..700, minute in 0i64..1440, amount in 1i64..(60 * 24 * 30),
        ) {
            let c = cal();
            let start = wib(2026, 1, 1, 0, 0) + Duration::days(day) + Duration::minutes(minute);
            let due = c.add_working_time(start, Duration::minutes(amount), &[]).expect("due");
            let local = due.with_timezone(&c.tz);
            prop_assert!(c.is_working_day(local.date_naive()), "due on {}", local);
            let m = local.time().signed_duration_since(NaiveTime::MIN).num_minutes() as u32;
            prop_assert!(m > c.open_min && m <= c.close_min, "due at {}", local);
        }

        #[test]
        fn more_budget_never_means_an_earlier_deadline(day in 0i64..700, a in 0i64..5000, b in 0i64..5000) {
            let c = cal();
            let start = wib(2026, 1, 1, 9, 0) + Duration::days(day);
            let (lo, hi) = (a.min(b), a.max(b));
            prop_assert!(c.add_working_time(start, Duration::minutes(lo), &[]) <= c.add_working_time(start, Duration::minutes(hi), &[]));
        }
    }
}
