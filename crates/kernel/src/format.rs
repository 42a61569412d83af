//! How numbers, money and dates read in Indonesian (and English): `Rp 1.250.000`,
//! `Senin, 23 November 2026`, `23 Nov 2026`, `14.05 WIB`.

use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};
use chrono_tz::Tz;

use crate::Lang;

/// `12.345` (id) or `12,345` (en).
pub fn number(n: i64, lang: Lang) -> String {
    let sep = match lang {
        Lang::Id => '.',
        Lang::En => ',',
    };
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// Whole rupiah: `Rp 1.250.000` (the Indonesian form is used in both languages).
pub fn rupiah(amount: i64) -> String {
    format!("Rp {}", number(amount, Lang::Id))
}

const DAYS_ID: [&str; 7] = [
    "Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu",
];
const DAYS_EN: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS_ID: [&str; 12] = [
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
];
const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const MONTHS_SHORT_ID: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des",
];
const MONTHS_SHORT_EN: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn weekday_index(w: Weekday) -> usize {
    w.num_days_from_monday() as usize
}

fn pick<'a>(table: &'a [&'a str], i: usize) -> &'a str {
    table.get(i).copied().unwrap_or("")
}

/// The abbreviation people use for an Indonesian zone: WIB, WITA, WIT.
pub fn zone_abbrev(tz: Tz) -> &'static str {
    match tz {
        Tz::Asia__Jakarta | Tz::Asia__Pontianak => "WIB",
        Tz::Asia__Makassar => "WITA",
        Tz::Asia__Jayapura => "WIT",
        _ => "",
    }
}

/// `Senin, 23 November 2026`
pub fn date_long(at: DateTime<Utc>, tz: Tz, lang: Lang) -> String {
    let local = at.with_timezone(&tz);
    let m = local.month0() as usize;
    let d = weekday_index(local.weekday());
    match lang {
        Lang::Id => format!(
            "{}, {} {} {}",
            pick(&DAYS_ID, d),
            local.day(),
            pick(&MONTHS_ID, m),
            local.year()
        ),
        Lang::En => format!(
            "{}, {} {} {}",
            pick(&DAYS_EN, d),
            local.day(),
            pick(&MONTHS_EN, m),
            local.year()
        ),
    }
}

/// `23 Nov 2026`
pub fn date_short(at: DateTime<Utc>, tz: Tz, lang: Lang) -> String {
    let local = at.with_timezone(&tz);
    let m = local.month0() as usize;
    let months = match lang {
        Lang::Id => &MONTHS_SHORT_ID,
        Lang::En => &MONTHS_SHORT_EN,
    };
    format!("{} {} {}", local.day(), pick(months, m), local.year())
}

/// `14.05 WIB` (id) or `14:05 WIB` (en).
pub fn time(at: DateTime<Utc>, tz: Tz, lang: Lang) -> String {
    let local = at.with_timezone(&tz);
    let sep = if lang == Lang::Id { '.' } else { ':' };
    let zone = zone_abbrev(tz);
    let zone = if zone.is_empty() { tz.name() } else { zone };
    format!("{:02}{sep}{:02} {zone}", local.hour(), local.minute())
}

/// `23 Nov 2026 14.05 WIB`, for tables.
pub fn datetime_short(at: DateTime<Utc>, tz: Tz, lang: Lang) -> String {
    format!("{} {}", date_short(at, tz, lang), time(at, tz, lang))
}

/// `Senin, 23 November 2026, 14.05 WIB`, for sentences and a citizen's timeline.
pub fn datetime_long(at: DateTime<Utc>, tz: Tz, lang: Lang) -> String {
    format!("{}, {}", date_long(at, tz, lang), time(at, tz, lang))
}

/// A working-time span as hours and minutes: `9 jam 30 menit` (id), `9 h 30 min` (en).
pub fn span(d: chrono::Duration, lang: Lang) -> String {
    let mins = d.num_minutes().max(0);
    let (h, m) = (mins / 60, mins % 60);
    let (hu, mu) = match lang {
        Lang::Id => ("jam", "menit"),
        Lang::En => ("h", "min"),
    };
    match (h, m) {
        (0, m) => format!("{m} {mu}"),
        (h, 0) => format!("{h} {hu}"),
        (h, m) => format!("{h} {hu} {m} {mu}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn money_and_numbers() {
        assert_eq!(rupiah(3_000_000), "Rp 3.000.000");
        assert_eq!(rupiah(0), "Rp 0");
        assert_eq!(rupiah(-1_250), "Rp -1.250");
        assert_eq!(number(12_345, Lang::Id), "12.345");
        assert_eq!(number(12_345, Lang::En), "12,345");
        assert_eq!(number(999, Lang::Id), "999");
    }

    #[test]
    fn dates_in_wib() {
        // 07.05 UTC is 14.05 WIB
        let at = Utc
            .with_ymd_and_hms(2026, 11, 23, 7, 5, 0)
            .single()
            .expect("date");
        let tz = chrono_tz::Asia::Jakarta;
        assert_eq!(date_long(at, tz, Lang::Id), "Senin, 23 November 2026");
        assert_eq!(date_long(at, tz, Lang::En), "Monday, 23 November 2026");
        assert_eq!(date_short(at, tz, Lang::Id), "23 Nov 2026");
        assert_eq!(time(at, tz, Lang::Id), "14.05 WIB");
        assert_eq!(time(at, chrono_tz::Asia::Makassar, Lang::Id), "15.05 WITA");
        assert_eq!(datetime_short(at, tz, Lang::En), "23 Nov 2026 14:05 WIB");
        assert_eq!(
            datetime_long(at, tz, Lang::Id),
            "Senin, 23 November 2026, 14.05 WIB"
        );
    }

    #[test]
    fn spans() {
        assert_eq!(
            span(chrono::Duration::minutes(570), Lang::Id),
            "9 jam 30 menit"
        );
        assert_eq!(span(chrono::Duration::hours(24), Lang::En), "24 h");
        assert_eq!(span(chrono::Duration::minutes(5), Lang::Id), "5 menit");
    }
}
