//! Helpers shared by the kernel's tests.

use chrono::{DateTime, TimeZone, Utc};

use crate::calendar::{WorkCalendar, national_holidays_2026};

/// A WIB wall-clock time as UTC.
pub fn wib(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Jakarta
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .expect("valid WIB time")
}

/// Monday–Friday, 08–16 WIB, with Indonesia's 2026 holidays and cuti bersama.
pub fn cal() -> WorkCalendar {
    WorkCalendar::standard(
        chrono_tz::Asia::Jakarta,
        national_holidays_2026().into_iter().map(|h| h.date),
    )
}
