//! Indonesia's administrative regions by Kemendagri code, from the embedded `idn-area-data`
//! (ODbL 1.0; see `data/idn-area/`). Province `PP`, regency/city `PP.KK`, district (kecamatan)
//! `PP.KK.DD`, village (kelurahan/desa) `PP.KK.DD.VVVV`.
//!
//! Provinces, regencies and districts are parsed once on first use (about 8,000 rows); villages
//! are read on demand for one regency, so a deployment never holds all 83,000 in memory.

use std::sync::LazyLock;

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

struct Table {
    rows: Vec<Region>,
}

impl Table {
    /// Parses `code,parent,name` (or `code,name` for provinces). Rows are sorted by code already;
    /// we sort again so lookups can binary-search whatever the file order.
    fn parse(csv: &'static str, has_parent: bool) -> Table {
        let mut rows: Vec<Region> = csv
            .lines()
            .skip(1)
            .filter_map(|line| {
                let line = line.trim_end_matches('\r');
                let mut it = line.splitn(if has_parent { 3 } else { 2 }, ',');
                let code = it.next()?;
                let parent = if has_parent { it.next()? } else { "" };
                let name = unquote(it.next()?);
                Some(Region { code, parent, name })
            })
            .collect();
        rows.sort_by(|a, b| a.code.cmp(b.code));
        Table { rows }
    }

    fn get(&self, code: &str) -> Option<&Region> {
        self.rows
            .binary_search_by(|r| r.code.cmp(code))
            .ok()
            .and_then(|i| self.rows.get(i))
    }

    fn children(&self, parent: &str) -> Vec<Region> {
        self.rows
            .iter()
            .filter(|r| r.parent == parent)
            .cloned()
            .collect()
    }
}

fn unquote(s: &'static str) -> &'static str {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
}

static PROVINCE_TABLE: LazyLock<Table> = LazyLock::new(|| Table::parse(PROVINCES, false));
static REGENCY_TABLE: LazyLock<Table> = LazyLock::new(|| Table::parse(REGENCIES, true));
static DISTRICT_TABLE: LazyLock<Table> = LazyLock::new(|| Table::parse(DISTRICTS, true));

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
    PROVINCE_TABLE.get(code).cloned()
}

pub fn regency(code: &str) -> Option<Region> {
    REGENCY_TABLE.get(code).cloned()
}

pub fn district(code: &str) -> Option<Region> {
    DISTRICT_TABLE.get(code).cloned()
}

pub fn districts_of(regency_code: &str) -> Vec<Region> {
    DISTRICT_TABLE.children(regency_code)
}

pub fn regencies_of(province_code: &str) -> Vec<Region> {
    REGENCY_TABLE.children(province_code)
}

pub fn provinces() -> Vec<Region> {
    PROVINCE_TABLE.rows.clone()
}

/// Villages (kelurahan/desa) of one regency, by scanning the embedded file once.
/// The villages of the regencies asked for so far (a deployment serves a few), so the national
/// list is scanned once per regency, not on every page.
static VILLAGES_SEEN: LazyLock<std::sync::RwLock<std::collections::HashMap<String, Vec<Region>>>> =
    LazyLock::new(Default::default);

pub fn villages_of_regency(regency_code: &str) -> Vec<Region> {
    if let Ok(seen) = VILLAGES_SEEN.read()
        && let Some(v) = seen.get(regency_code)
    {
        return v.clone();
    }
    let v = scan_villages(regency_code);
    if let Ok(mut seen) = VILLAGES_SEEN.write() {
        seen.insert(regency_code.to_string(), v.clone());
    }
    v
}

fn scan_villages(regency_code: &str) -> Vec<Region> {
    let prefix = format!("{regency_code}.");
    VILLAGES
        .lines()
        .skip(1)
        .filter(|l| l.starts_with(&prefix))
        .filter_map(|line| {
            let mut it = line.trim_end_matches('\r').splitn(3, ',');
            Some(Region {
                code: it.next()?,
                parent: it.next()?,
                name: unquote(it.next()?),
            })
        })
        .collect()
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
