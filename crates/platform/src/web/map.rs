//! Maps on pages: where one opens, its background tiles and its points. The `map` macro
//! (macros.html) renders a hidden element that app.js draws with Leaflet; every page that shows a
//! map also lists the same things as text, so a phone without JavaScript loses nothing.

use serde::Serialize;

use super::{WebSettings, assets};

/// One point: where, a short label, the link it opens and a tone (`open`, `late`, `done`).
#[derive(Debug, Clone, Serialize)]
pub struct MapPoint {
    pub lat: f64,
    pub lon: f64,
    pub label: String,
    pub href: String,
    pub tone: &'static str,
}

#[derive(Debug, Clone)]
pub struct MapView {
    pub tiles: String,
    pub attribution: String,
    /// `lat,lon`
    pub centre: String,
    pub zoom: u8,
    /// The points as JSON (an attribute value; the template escapes it).
    pub points: String,
    /// `lat-input-id,lon-input-id`: a tap on the map moves the pin and fills these fields.
    pub pick: Option<String>,
    pub css: String,
    pub js: String,
    /// False when Leaflet was not installed at build time: the page shows its list only.
    pub available: bool,
    /// CSS classes: `map`, or `map map-small` for a glance at one place.
    pub class: &'static str,
}

impl MapView {
    pub fn new(settings: &WebSettings, centre: (f64, f64), zoom: u8) -> MapView {
        MapView {
            tiles: settings.map_tiles.clone(),
            attribution: settings.map_attribution.clone(),
            centre: format!("{:.6},{:.6}", centre.0, centre.1),
            zoom,
            points: "[]".into(),
            pick: None,
            css: assets::url("leaflet.css"),
            js: assets::url("leaflet.js"),
            available: assets::has_leaflet(),
            class: "map",
        }
    }

    pub fn with_points(mut self, points: &[MapPoint]) -> MapView {
        self.points = serde_json::to_string(points).unwrap_or_else(|_| "[]".into());
        self
    }

    /// A short map beside other content (one report's place).
    pub fn small(mut self) -> MapView {
        self.class = "map map-small";
        self
    }

    /// The map sets a location: a tap places the pin and fills the two fields.
    pub fn picking(mut self, lat_id: &str, lon_id: &str) -> MapView {
        self.pick = Some(format!("{lat_id},{lon_id}"));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_are_json_and_the_centre_is_fixed_precision() {
        let s = WebSettings::default();
        let v = MapView::new(&s, (3.6, 98.49), 13).with_points(&[MapPoint {
            lat: 3.61,
            lon: 98.5,
            label: "Lampu \"mati\"".into(),
            href: "/pengaduan/ADU-2026-000001".into(),
            tone: "open",
        }]);
        assert_eq!(v.centre, "3.600000,98.490000");
        let back: serde_json::Value = serde_json::from_str(&v.points).unwrap();
        assert_eq!(back[0]["label"], "Lampu \"mati\"");
        assert_eq!(back[0]["tone"], "open");
        assert!(v.pick.is_none());
        assert_eq!(v.picking("lat", "lon").pick.as_deref(), Some("lat,lon"));
    }
}
