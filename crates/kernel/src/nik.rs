//! NIK (Nomor Induk Kependudukan): 16 digits `PPKKDD DDMMYY SSSS`. The first six name the
//! kecamatan where it was issued, the next six the birth date (women add 40 to the day), the
//! last four a serial. We check the shape, that the kecamatan exists, and that the date is real.

use std::fmt;

use chrono::NaiveDate;
use serde::Serialize;

use crate::region;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Nik(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    Male,
    Female,
}

impl Nik {
    /// Parses a NIK, accepting spaces, dots and dashes between digits.
    /// Errors are stable keys: `nik_required`, `nik_length`, `nik_region`, `nik_birth_date`,
    /// `nik_serial`.
    pub fn parse(input: &str) -> Result<Nik, &'static str> {
        let digits: String = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '.' | '-'))
            .collect();
        if digits.is_empty() {
            return Err("nik_required");
        }
        if digits.len() != 16 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err("nik_length");
        }
        let nik = Nik(digits);
        if region::district(&nik.district_code()).is_none() {
            return Err("nik_region");
        }
        if nik.birth_date_candidates().is_empty() {
            return Err("nik_birth_date");
        }
        if &nik.0[12..] == "0000" {
            return Err("nik_serial");
        }
        Ok(nik)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `PP.KK.DD` of the issuing kecamatan.
    pub fn district_code(&self) -> String {
        format!("{}.{}.{}", &self.0[0..2], &self.0[2..4], &self.0[4..6])
    }

    /// `PP.KK` of the issuing regency or city.
    pub fn regency_code(&self) -> String {
        format!("{}.{}", &self.0[0..2], &self.0[2..4])
    }

    pub fn sex(&self) -> Sex {
        if self.day_field() > 40 {
            Sex::Female
        } else {
            Sex::Male
        }
    }

    fn day_field(&self) -> u32 {
        self.0[6..8].parse().unwrap_or(0)
    }

    /// The real dates the birth-date part can stand for (19YY and/or 20YY).
    pub fn birth_date_candidates(&self) -> Vec<NaiveDate> {
        let day = self.day_field();
        let day = if day > 40 { day - 40 } else { day };
        let month: u32 = self.0[8..10].parse().unwrap_or(0);
        let yy: i32 = self.0[10..12].parse().unwrap_or(0);
        [1900 + yy, 2000 + yy]
            .into_iter()
            .filter_map(|y| NaiveDate::from_ymd_opt(y, month, day))
            .collect()
    }

    /// Grouped and masked for anyone but the owner and authorised staff: `1275••••••••0001`.
    pub fn masked(&self) -> String {
        format!("{}••••••••{}", &self.0[..4], &self.0[12..])
    }
}

impl fmt::Display for Nik {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn valid_binjai_nik() {
        let nik = Nik::parse("1275 0215 0890 0001").expect("valid");
        assert_eq!(nik.as_str(), "1275021508900001");
        assert_eq!(nik.district_code(), "12.75.02");
        assert_eq!(nik.regency_code(), "12.75");
        assert_eq!(nik.sex(), Sex::Male);
        assert_eq!(nik.masked(), "1275••••••••0001");
    }

    #[test]
    fn women_add_forty_to_the_day() {
        let nik = Nik::parse("1275025508900002").expect("valid: 15 Aug, female");
        assert_eq!(nik.sex(), Sex::Female);
        assert!(
            nik.birth_date_candidates()
                .contains(&NaiveDate::from_ymd_opt(1990, 8, 15).expect("date"))
        );
        // 71 - 40 = 31 June does not exist
        assert_eq!(Nik::parse("1275027106900002"), Err("nik_birth_date"));
    }

    #[test]
    fn errors_have_stable_keys() {
        assert_eq!(Nik::parse(""), Err("nik_required"));
        assert_eq!(Nik::parse("12345"), Err("nik_length"));
        assert_eq!(Nik::parse("12750215089000AB"), Err("nik_length"));
        assert_eq!(Nik::parse("9999021508900001"), Err("nik_region"));
        assert_eq!(Nik::parse("1275023213900001"), Err("nik_birth_date"));
        assert_eq!(Nik::parse("1275021508900000"), Err("nik_serial"));
        // 29 Feb 00 is real in 2000
        assert!(Nik::parse("1275022902000001").is_ok());
        // 29 Feb 01 is not real in 1901 nor 2001
        assert_eq!(Nik::parse("1275022902010001"), Err("nik_birth_date"));
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = Nik::parse(&s);
        }

        #[test]
        fn valid_parts_always_parse(day in 1u32..=28, month in 1u32..=12, yy in 0u32..=99,
                                    female in any::<bool>(), serial in 1u32..=9999) {
            let d = if female { day + 40 } else { day };
            let s = format!("127502{d:02}{month:02}{yy:02}{serial:04}");
            let nik = Nik::parse(&s).expect("valid");
            prop_assert_eq!(nik.sex() == Sex::Female, female);
        }
    }
}
