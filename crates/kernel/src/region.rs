//! Indonesia's administrative regions by Kemendagri code, from the embedded `idn-area-data`
//! (ODbL 1.0; see `data/idn-area/`). Province `PP`, regency/city `PP.KK`, district (kecamatan)
//! `PP.KK.DD`, village (kelurahan/desa) `PP.KK.DD.VVVV`.
//!
//! The lists stay as the embedded text, sorted by code, and are searched in place: a lookup
//! reads a dozen lines to find its place and then the rows it returns, so the 2.8 MB of villages
//! are never all read (what is read of the binary stays resident) nor copied into memory.

use serde::Serialize;

const PROVINCES: &str = include_str!("../data/idn-area/provinces.csv");
const REGENCIES: &str = include_str!("../data/idn-area/regencies.csv");
const DISTRICTS: &str = include_str!("../data/idn-area/districts.csv");
const VILLAGES: &str = include_str!("../data/idn-area/villages.csv");

/// The level of a region code, told by its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Province,
    Regency,
    District,
    Village,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Region {
    pub code: &'static str,
    pub parent: &'static str,
    pub name: &'static str,
}

/// A CSV list as embedded: a header line, then one row per line, sorted by code (a test checks).
struct Sorted {
    csv: &'static str,
    has_parent: bool,
}

impl Sorted {
    /// The rows, after the header.
    fn body(&self) -> &'static str {
        self.csv.split_once('\n').map_or("", |(_, rest)| rest)
    }

    /// The byte offset in `body` of the first row whose code is not before `key`.
    fn first_from(body: &str, key: &str) -> usize {
        let b = body.as_bytes();
        let code = |at: usize| {
            let rest = &b[at..];
            let end = rest
                .iter()
                .position(|&c| c == b',' || c == b'\n')
                .unwrap_or(rest.len());
            &rest[..end]
        };
        // Rows starting before `lo` are before `key`, rows starting at `hi` or after are not;
        // both are row starts (or the end).
        let (mut lo, mut hi) = (0, b.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let row = b[lo..mid]
                .iter()
                .rposition(|&c| c == b'\n')
                .map_or(lo, |p| lo + p + 1);
            if code(row) < key.as_bytes() {
                lo = b[row..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |p| row + p + 1);
            } else {
                hi = row;
            }
        }
        lo
    }

    fn row(&self, line: &'static str) -> Option<Region> {
        let line = line.trim_end_matches('\r');
        let mut it = line.splitn(if self.has_parent { 3 } else { 2 }, ',');
        let code = it.next()?;
        let parent = if self.has_parent { it.next()? } else { "" };
        let name = unquote(it.next()?);
        Some(Region { code, parent, name })
    }

    /// The rows whose code starts with `prefix`, in order.
    fn starting_with(&self, prefix: &str) -> Vec<Region> {
        let body = self.body();
        body[Self::first_from(body, prefix)..]
            .lines()
            .take_while(|l| l.starts_with(prefix))
            .filter_map(|l| self.row(l))
            .collect()
    }

    fn get(&self, code: &str) -> Option<Region> {
        let body = self.body();
        let row = self.row(body[Self::first_from(body, code)..].lines().next()?)?;
        (row.code == code).then_some(row)
    }

    /// The rows one level below `parent` (their codes are the parent's, a dot, and more).
    fn children(&self, parent: &str) -> Vec<Region> {
        self.starting_with(&format!("{parent}."))
    }
}

fn unquote(s: &'static str) -> &'static str {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
}

const PROVINCE_TABLE: Sorted = Sorted {
    csv: PROVINCES,
    has_parent: false,
};
const REGENCY_TABLE: Sorted = Sorted {
    csv: REGENCIES,
    has_parent: true,
};
const DISTRICT_TABLE: Sorted = Sorted {
    csv: DISTRICTS,
    has_parent: true,
};
const VILLAGE_TABLE: Sorted = Sorted {
    csv: VILLAGES,
    has_parent: true,
};

/// Tells the level of a well-formed code, or `None` if the code is malformed.
pub fn level_of(code: &str) -> Option<Level> {
    let parts: Vec<&str> = code.split('.').collect();
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    match parts.as_slice() {
        [p] if digits(p, 2) => Some(Level::Province),
        [p, k] if digits(p, 2) && digits(k, 2) => Some(Level::Regency),
        [p, k, d] if digits(p, 2) && digits(k, 2) && digits(d, 2) => Some(Level::District),
        [p, k, d, v] if digits(p, 2) && digits(k, 2) && digits(d, 2) && digits(v, 4) => {
            Some(Level::Village)
        }
        _ => None,
    }
}

/// Normalises what people type for a city code: `1275`, `12.75`, ` 12.75 ` → `12.75`.
pub fn normalize_regency_code(input: &str) -> Option<String> {
    let s = input.trim();
    let code = if s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()) {
        format!("{}.{}", &s[..2], &s[2..])
    } else {
        s.to_string()
    };
    (level_of(&code) == Some(Level::Regency)).then_some(code)
}

pub fn province(code: &str) -> Option<Region> {
    PROVINCE_TABLE.get(code)
}

pub fn regency(code: &str) -> Option<Region> {
    REGENCY_TABLE.get(code)
}

pub fn district(code: &str) -> Option<Region> {
    DISTRICT_TABLE.get(code)
}

pub fn districts_of(regency_code: &str) -> Vec<Region> {
    DISTRICT_TABLE.children(regency_code)
}

pub fn regencies_of(province_code: &str) -> Vec<Region> {
    REGENCY_TABLE.children(province_code)
}

pub fn provinces() -> Vec<Region> {
    PROVINCE_TABLE.starting_with("")
}

/// Villages (kelurahan/desa) of one regency, of all its districts.
pub fn villages_of_regency(regency_code: &str) -> Vec<Region> {
    VILLAGE_TABLE.starting_with(&format!("{regency_code}."))
}

/// True when a regency is a city (kota) rather than a kabupaten.
pub fn is_city(regency: &Region) -> bool {
    regency.name.starts_with("Kota ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binjai_has_five_kecamatan_and_37_kelurahan() {
        assert_eq!(regency("12.75").map(|r| r.name), Some("Kota Binjai"));
        let d = districts_of("12.75");
        assert_eq!(d.len(), 5);
        assert_eq!(d[1].name, "Binjai Kota");
        assert_eq!(villages_of_regency("12.75").len(), 37);
        assert!(
            villages_of_regency("12.75")
                .iter()
                .any(|v| v.code == "12.75.02.1006" && v.name == "Binjai")
        );
    }

    /// The lookups search the embedded text in place, which holds only while it is sorted.
    #[test]
    fn every_list_is_sorted_by_code_and_each_code_extends_its_parents() {
        for t in [PROVINCE_TABLE, REGENCY_TABLE, DISTRICT_TABLE, VILLAGE_TABLE] {
            let rows = t.starting_with("");
            assert_eq!(rows.len(), t.body().lines().count());
            assert!(rows.windows(2).all(|w| w[0].code < w[1].code));
            assert!(
                rows.iter()
                    .all(|r| r.parent.is_empty() || r.code.starts_with(&format!("{}.", r.parent)))
            );
        }
        assert_eq!(provinces().len(), 38);
    }

    /// What the search finds is what reading every row would.
    #[test]
    fn lookups_agree_with_reading_every_row() {
        let all = VILLAGE_TABLE.starting_with("");
        for regency in ["11.01", "12.75", "96.71", "12.99", "00.00", "99.99"] {
            let scanned: Vec<_> = all
                .iter()
                .filter(|v| v.code.starts_with(&format!("{regency}.")))
                .cloned()
                .collect();
            assert_eq!(villages_of_regency(regency), scanned, "{regency}");
        }
        assert_eq!(
            villages_of_regency("96.71").last().map(|v| v.name),
            Some("Tanjung Kasuari")
        );
        assert_eq!(
            villages_of_regency("11.01").first().map(|v| v.name),
            Some("Keude Bakongan")
        );
        for d in DISTRICT_TABLE.starting_with("") {
            assert_eq!(district(d.code).as_ref(), Some(&d));
        }
        assert_eq!(province("11").map(|p| p.name), Some("Aceh"));
        assert!(district("12.75.9").is_none() && district("12.75.06").is_none());
        assert!(regency("12.7").is_none() && regency("").is_none());
        assert_eq!(regencies_of("12").len(), 33);
    }

    #[test]
    fn palu_has_eight_kecamatan() {
        assert_eq!(regency("72.71").map(|r| r.name), Some("Kota Palu"));
        assert_eq!(districts_of("72.71").len(), 8);
    }

    #[test]
    fn codes_are_normalised_and_levelled() {
        assert_eq!(normalize_regency_code("1275").as_deref(), Some("12.75"));
        assert_eq!(normalize_regency_code(" 12.75 ").as_deref(), Some("12.75"));
        assert_eq!(normalize_regency_code("12.7"), None);
        assert_eq!(normalize_regency_code("12.75.01"), None);
        assert_eq!(level_of("12.75.02.1006"), Some(Level::Village));
        assert_eq!(level_of("12.75.0x"), None);
        assert!(regency("99.99").is_none());
        assert!(province("12").is_some());
    }
}
