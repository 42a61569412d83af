//! SLA clocks and escalation ladders, as pure rules over a `WorkCalendar`.
//!
//! A clock starts when a tracked thing enters a stage, with a budget in working days or working
//! hours. It warns at a share of the budget (75 % by default), is due when the budget is spent,
//! can be paused (waiting on the citizen) and is stopped when the stage ends, which gives its
//! outcome: met, or breached and by how much working time.
//!
//! A ladder says who hears what and when: at warn, at breach, some working hours after the
//! breach, optionally repeating. `due_rungs` tells which rung occurrences are due at an instant
//! and have not fired yet, so a ticker can fire each exactly once.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::{Pause, WorkCalendar};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Budget {
    WorkingDays(u32),
    WorkingHours(u32),
}

impl Budget {
    /// The budget as working time on `cal`.
    pub fn working_time(self, cal: &WorkCalendar) -> Duration {
        match self {
            Budget::WorkingDays(n) => cal.day_length() * n as i32,
            Budget::WorkingHours(h) => Duration::hours(i64::from(h)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaClock {
    pub started_at: DateTime<Utc>,
    pub budget: Budget,
    /// Warn when this share of the budget is spent (1–99).
    pub warn_pct: u8,
    /// Closed pauses.
    pub pauses: Vec<Pause>,
    /// Paused since, when paused now.
    pub paused_since: Option<DateTime<Utc>>,
    /// When the stage ended.
    pub stopped_at: Option<DateTime<Utc>>,
}

/// Where a clock stands at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Running, before the warning.
    OnTrack { left: Duration },
    /// Running, past the warning, before the due time.
    AtRisk { left: Duration },
    /// Running past the due time.
    Breached { late_by: Duration },
    /// Waiting on the citizen; the clock does not run.
    Paused,
    /// Stopped within the budget.
    Met,
    /// Stopped after the due time, late by this much working time.
    Late { late_by: Duration },
}

impl SlaClock {
    pub fn start(at: DateTime<Utc>, budget: Budget) -> SlaClock {
        SlaClock {
            started_at: at,
            budget,
            warn_pct: 75,
            pauses: Vec::new(),
            paused_since: None,
            stopped_at: None,
        }
    }

    /// Pauses at `at` (no effect when already paused or stopped).
    pub fn pause(&mut self, at: DateTime<Utc>) {
        if self.paused_since.is_none() && self.stopped_at.is_none() {
            self.paused_since = Some(at.max(self.started_at));
        }
    }

    /// Resumes at `at` (no effect when not paused).
    pub fn resume(&mut self, at: DateTime<Utc>) {
        if let Some(from) = self.paused_since.take() {
            self.pauses.push(Pause {
                from,
                until: at.max(from),
            });
        }
    }

    /// Stops the clock (the stage ended); an open pause ends at the same time.
    pub fn stop(&mut self, at: DateTime<Utc>) {
        self.resume(at);
        if self.stopped_at.is_none() {
            self.stopped_at = Some(at.max(self.started_at));
        }
    }

    /// Pauses as of `now`, an open pause counting until `now`.
    fn pauses_until(&self, now: DateTime<Utc>) -> Vec<Pause> {
        let mut p = self.pauses.clone();
        if let Some(from) = self.paused_since {
            p.push(Pause {
                from,
                until: now.max(from),
            });
        }
        p
    }

    /// The due instant as of `now` (an open pause pushes it as far as it has lasted).
    pub fn due_at(&self, cal: &WorkCalendar, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        cal.add_working_time(
            self.started_at,
            self.budget.working_time(cal),
            &self.pauses_until(now),
        )
    }

    /// The warning instant as of `now`.
    pub fn warn_at(&self, cal: &WorkCalendar, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let share = self.budget.working_time(cal) * i32::from(self.warn_pct.clamp(1, 99)) / 100;
        cal.add_working_time(self.started_at, share, &self.pauses_until(now))
    }

    /// Working time spent, as of `now` (or as of the stop).
    pub fn spent(&self, cal: &WorkCalendar, now: DateTime<Utc>) -> Duration {
        let end = self.stopped_at.unwrap_or(now);
        cal.working_time_between(self.started_at, end, &self.pauses_until(end))
    }

    pub fn status(&self, cal: &WorkCalendar, now: DateTime<Utc>) -> Status {
        let budget = self.budget.working_time(cal);
        let spent = self.spent(cal, now);
        if self.stopped_at.is_some() {
            return if spent <= budget {
                Status::Met
            } else {
                Status::Late {
                    late_by: spent - budget,
                }
            };
        }
        if self.paused_since.is_some() {
            return Status::Paused;
        }
        if spent >= budget {
            return Status::Breached {
                late_by: spent - budget,
            };
        }
        let warn = budget * i32::from(self.warn_pct.clamp(1, 99)) / 100;
        if spent >= warn {
            Status::AtRisk {
                left: budget - spent,
            }
        } else {
            Status::OnTrack {
                left: budget - spent,
            }
        }
    }
}

/// Who hears a rung.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recipient {
    /// The officer the thing is assigned to.
    Assignee,
    /// The head of the agency in charge.
    AgencyHead,
    /// The Inspektorat.
    Inspectorate,
    /// The city secretary (Sekda).
    Sekda,
    /// The citizen or applicant.
    Requester,
}

impl Recipient {
    pub fn parse(s: &str) -> Option<Recipient> {
        match s {
            "assignee" => Some(Recipient::Assignee),
            "agency_head" => Some(Recipient::AgencyHead),
            "inspectorate" => Some(Recipient::Inspectorate),
            "sekda" => Some(Recipient::Sekda),
            "requester" => Some(Recipient::Requester),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
    InApp,
    Webhook,
}

impl Channel {
    pub fn parse(s: &str) -> Option<Channel> {
        match s {
            "email" => Some(Channel::Email),
            "sms" => Some(Channel::Sms),
            "in_app" => Some(Channel::InApp),
            "webhook" => Some(Channel::Webhook),
            _ => None,
        }
    }
}

/// When a rung fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Warn,
    Breach,
    /// This many working hours after the breach.
    AfterBreach(u32),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rung {
    pub trigger: Trigger,
    pub notify: Vec<Recipient>,
    pub channels: Vec<Channel>,
    /// Fire again every this many working hours after the first time…
    #[serde(default)]
    pub repeat_every_hours: u32,
    /// …this many more times.
    #[serde(default)]
    pub repeat_times: u32,
}

/// An escalation ladder, as an admin writes it (JSON):
/// `[{"trigger": "warn", "notify": ["assignee"], "channels": ["in_app", "email"]}, …]`.
pub type Ladder = Vec<Rung>;

/// A ladder that cannot be used, with where and why. Keys: `ladder_invalid`, `ladder_empty`,
/// `ladder_unknown_recipient`, `ladder_unknown_channel`, `ladder_no_recipient`,
/// `ladder_no_channel`, `ladder_repeat`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LadderError {
    /// Index of the rung (0-based), if the error is in one.
    pub rung: Option<usize>,
    pub key: &'static str,
    pub detail: String,
}

/// Reads and checks a ladder from JSON, naming an unknown recipient or channel.
pub fn parse_ladder(json: &str) -> Result<Ladder, LadderError> {
    let raw: Vec<serde_json::Value> = serde_json::from_str(json).map_err(|e| LadderError {
        rung: None,
        key: "ladder_invalid",
        detail: e.to_string(),
    })?;
    if raw.is_empty() {
        return Err(LadderError {
            rung: None,
            key: "ladder_empty",
            detail: String::new(),
        });
    }
    let mut out = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        let err = |key, detail: String| LadderError {
            rung: Some(i),
            key,
            detail,
        };
        for who in r
            .get("notify")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            let s = who.as_str().unwrap_or_default();
            if Recipient::parse(s).is_none() {
                return Err(err("ladder_unknown_recipient", s.to_string()));
            }
        }
        for ch in r
            .get("channels")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            let s = ch.as_str().unwrap_or_default();
            if Channel::parse(s).is_none() {
                return Err(err("ladder_unknown_channel", s.to_string()));
            }
        }
        let rung: Rung =
            serde_json::from_value(r.clone()).map_err(|e| err("ladder_invalid", e.to_string()))?;
        if rung.notify.is_empty() {
            return Err(err("ladder_no_recipient", String::new()));
        }
        if rung.channels.is_empty() {
            return Err(err("ladder_no_channel", String::new()));
        }
        if rung.repeat_times > 0 && rung.repeat_every_hours == 0 {
            return Err(err("ladder_repeat", String::new()));
        }
        out.push(rung);
    }
    Ok(out)
}

/// The default ladder: warn the assignee; at breach the agency head and the Inspektorat (email
/// and SMS); every 8 working hours after, twice more to the head; a day of working time after the
/// breach, the Sekda.
pub fn default_ladder() -> Ladder {
    vec![
        Rung {
            trigger: Trigger::Warn,
            notify: vec![Recipient::Assignee],
            channels: vec![Channel::InApp, Channel::Email],
            repeat_every_hours: 0,
            repeat_times: 0,
        },
        Rung {
            trigger: Trigger::Breach,
            notify: vec![Recipient::AgencyHead, Recipient::Inspectorate],
            channels: vec![Channel::Email, Channel::Sms],
            repeat_every_hours: 8,
            repeat_times: 2,
        },
        Rung {
            trigger: Trigger::AfterBreach(24),
            notify: vec![Recipient::Sekda],
            channels: vec![Channel::Email, Channel::Sms],
            repeat_every_hours: 0,
            repeat_times: 0,
        },
    ]
}

/// One firing of a rung: `(rung index, occurrence)`, occurrence 0 being the first.
pub type Firing = (usize, u32);

/// The instant occurrence `k` of rung `r` is due, as of `now`.
pub fn firing_at(
    ladder: &Ladder,
    clock: &SlaClock,
    cal: &WorkCalendar,
    now: DateTime<Utc>,
    (r, k): Firing,
) -> Option<DateTime<Utc>> {
    let rung = ladder.get(r)?;
    if k > rung.repeat_times {
        return None;
    }
    let base = match rung.trigger {
        Trigger::Warn => clock.warn_at(cal, now)?,
        Trigger::Breach => clock.due_at(cal, now)?,
        Trigger::AfterBreach(h) => cal.add_working_hours(clock.due_at(cal, now)?, h, &[])?,
    };
    if k == 0 {
        Some(base)
    } else {
        cal.add_working_hours(base, rung.repeat_every_hours * k, &[])
    }
}

/// The firings due at `now` that have not fired yet, in order. A stopped or paused clock fires
/// nothing; a clock stopped in time never escalates.
pub fn due_rungs(
    ladder: &Ladder,
    clock: &SlaClock,
    cal: &WorkCalendar,
    now: DateTime<Utc>,
    fired: &BTreeSet<Firing>,
) -> Vec<Firing> {
    if clock.stopped_at.is_some() || clock.paused_since.is_some() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (r, rung) in ladder.iter().enumerate() {
        for k in 0..=rung.repeat_times {
            if fired.contains(&(r, k)) {
                continue;
            }
            match firing_at(ladder, clock, cal, now, (r, k)) {
                Some(at) if at <= now => out.push((r, k)),
                _ => break, // later occurrences are later still
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{cal, wib};
    use proptest::prelude::*;

    #[test]
    fn a_24_working_hour_permit_started_friday_before_kenaikan() {
        // Friday 8 May 2026, 14.00. 24 working hours, office 08–16: Fri 2 h, Mon 11th 8 h,
        // Tue 12th 8 h, Wed 13th 6 h → due Wed 13 May 14.00 (Thu 14 Kenaikan, Fri 15 cuti are
        // not needed). Warn at 75 % = 18 h: Fri 2 h + Mon 8 h + Tue 8 h → Tue 12 May 16.00.
        let c = cal();
        let clock = SlaClock::start(wib(2026, 5, 8, 14, 0), Budget::WorkingHours(24));
        assert_eq!(
            clock.due_at(&c, wib(2026, 5, 8, 14, 0)),
            Some(wib(2026, 5, 13, 14, 0))
        );
        assert_eq!(
            clock.warn_at(&c, wib(2026, 5, 8, 14, 0)),
            Some(wib(2026, 5, 12, 16, 0))
        );
        // started Wednesday 13 May 10.00 it crosses the holiday and the cuti bersama
        let clock = SlaClock::start(wib(2026, 5, 13, 10, 0), Budget::WorkingHours(24));
        assert_eq!(
            clock.due_at(&c, wib(2026, 5, 13, 10, 0)),
            Some(wib(2026, 5, 20, 10, 0))
        );
    }

    #[test]
    fn status_moves_from_on_track_to_breached_and_pauses_hold_it() {
        let c = cal();
        let start = wib(2026, 11, 23, 8, 0); // Monday
        let mut clock = SlaClock::start(start, Budget::WorkingDays(3));
        assert!(matches!(
            clock.status(&c, wib(2026, 11, 23, 12, 0)),
            Status::OnTrack { .. }
        ));
        assert!(matches!(
            clock.status(&c, wib(2026, 11, 25, 11, 0)),
            Status::AtRisk { .. }
        ));
        assert_eq!(
            clock.status(&c, wib(2026, 11, 26, 9, 0)),
            Status::Breached {
                late_by: Duration::hours(1)
            }
        );
        // a pause of one office day moves the due time by one day
        clock.pause(wib(2026, 11, 24, 8, 0));
        assert_eq!(clock.status(&c, wib(2026, 11, 24, 12, 0)), Status::Paused);
        clock.resume(wib(2026, 11, 25, 8, 0));
        assert_eq!(
            clock.due_at(&c, wib(2026, 11, 25, 8, 0)),
            Some(wib(2026, 11, 26, 16, 0))
        );
        clock.stop(wib(2026, 11, 26, 15, 0));
        assert_eq!(clock.status(&c, wib(2026, 12, 1, 8, 0)), Status::Met);
        let mut late = SlaClock::start(start, Budget::WorkingHours(4));
        late.stop(wib(2026, 11, 23, 14, 30));
        assert_eq!(
            late.status(&c, wib(2026, 11, 30, 8, 0)),
            Status::Late {
                late_by: Duration::minutes(150)
            }
        );
    }

    #[test]
    fn the_ladder_fires_each_rung_once_in_order() {
        let c = cal();
        let ladder = default_ladder();
        let clock = SlaClock::start(wib(2026, 11, 23, 8, 0), Budget::WorkingHours(8)); // due Mon 16.00
        let mut fired = BTreeSet::new();
        let mut fire = |now| {
            let due = due_rungs(&ladder, &clock, &c, now, &fired);
            fired.extend(due.iter().copied());
            due
        };
        assert_eq!(fire(wib(2026, 11, 23, 13, 0)), vec![]);
        assert_eq!(fire(wib(2026, 11, 23, 14, 0)), vec![(0, 0)]); // warn at 75 %
        assert_eq!(fire(wib(2026, 11, 23, 15, 0)), vec![]); // not twice
        assert_eq!(fire(wib(2026, 11, 23, 16, 0)), vec![(1, 0)]); // breach
        assert_eq!(fire(wib(2026, 11, 24, 16, 0)), vec![(1, 1)]); // +8 working hours
        // a ticker that was down for days catches up once, in order
        assert_eq!(fire(wib(2026, 12, 1, 9, 0)), vec![(1, 2), (2, 0)]);
        assert_eq!(fire(wib(2026, 12, 9, 9, 0)), vec![]);
    }

    #[test]
    fn a_clock_stopped_in_time_never_escalates() {
        let c = cal();
        let mut clock = SlaClock::start(wib(2026, 11, 23, 8, 0), Budget::WorkingHours(8));
        clock.stop(wib(2026, 11, 23, 12, 0));
        assert!(
            due_rungs(
                &default_ladder(),
                &clock,
                &c,
                wib(2026, 12, 30, 8, 0),
                &BTreeSet::new()
            )
            .is_empty()
        );
    }

    #[test]
    fn ladders_are_checked() {
        let ok = r#"[{"trigger": "warn", "notify": ["assignee"], "channels": ["in_app"]},
                     {"trigger": {"after_breach": 16}, "notify": ["sekda"], "channels": ["email", "sms"]}]"#;
        assert_eq!(parse_ladder(ok).map(|l| l.len()), Ok(2));
        let e = parse_ladder(
            r#"[{"trigger": "breach", "notify": ["walikota"], "channels": ["email"]}]"#,
        )
        .expect_err("role");
        assert_eq!(
            (e.rung, e.key, e.detail.as_str()),
            (Some(0), "ladder_unknown_recipient", "walikota")
        );
        let e =
            parse_ladder(r#"[{"trigger": "breach", "notify": ["sekda"], "channels": ["fax"]}]"#)
                .expect_err("channel");
        assert_eq!(e.key, "ladder_unknown_channel");
        assert_eq!(parse_ladder("[]").expect_err("empty").key, "ladder_empty");
        assert_eq!(parse_ladder("{").expect_err("json").key, "ladder_invalid");
        let e = parse_ladder(r#"[{"trigger": "breach", "notify": ["sekda"], "channels": ["sms"], "repeat_times": 2}]"#).expect_err("repeat");
        assert_eq!(e.key, "ladder_repeat");
    }

    proptest! {
        #[test]
        fn every_firing_happens_exactly_once_whatever_the_ticks(
            start_day in 0i64..300, budget_h in 1u32..60, ticks in proptest::collection::vec(1i64..(60 * 30), 1..80),
        ) {
            let c = cal();
            let ladder = default_ladder();
            let clock = SlaClock::start(wib(2026, 1, 5, 9, 0) + Duration::days(start_day), Budget::WorkingHours(budget_h));
            let mut now = clock.started_at;
            let mut fired = BTreeSet::new();
            let mut all = Vec::new();
            for t in ticks {
                now += Duration::minutes(t * 7);
                let due = due_rungs(&ladder, &clock, &c, now, &fired);
                for f in &due {
                    prop_assert!(fired.insert(*f), "fired twice: {:?}", f);
                    let at = firing_at(&ladder, &clock, &c, now, *f).expect("at");
                    prop_assert!(at <= now);
                }
                all.extend(due);
            }
            // whatever fired, fired in the ladder's order within each rung
            for r in 0..ladder.len() {
                let ks: Vec<u32> = all.iter().filter(|(x, _)| *x == r).map(|(_, k)| *k).collect();
                prop_assert!(ks.windows(2).all(|w| w[0] + 1 == w[1]) && ks.first().is_none_or(|k| *k == 0));
            }
        }
    }
}
