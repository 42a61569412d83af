//! Places on the map, without I/O: which kelurahan a GPS point falls in, from boundaries a city
//! imports as GeoJSON (Polygon / MultiPolygon), or else from the nearest labelled point within
//! a distance (a kelurahan office, or reports whose kelurahan is known).

use serde_json::Value;

/// A point as (latitude, longitude) in degrees.
pub type LatLon = (f64, f64);

/// An area: outer rings with their holes, each ring a list of (lon, lat) as GeoJSON has them.
#[derive(Debug, Clone, PartialEq)]
pub struct Area {
    /// Polygons, each as rings: the first the outline, the others holes.
    pub polygons: Vec<Vec<Vec<(f64, f64)>>>,
    /// (min_lat, min_lon, max_lat, max_lon)
    pub bbox: (f64, f64, f64, f64),
}

/// A GeoJSON geometry this module understands.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    Area(Area),
    Point(LatLon),
}

/// Why a geometry was refused (stable keys for field errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeoError {
    /// Not Polygon, MultiPolygon or Point.
    UnsupportedType,
    /// Coordinates missing, not numbers, out of range, or a ring with fewer than 4 positions.
    BadCoordinates,
}

impl GeoError {
    pub fn key(self) -> &'static str {
        match self {
            GeoError::UnsupportedType => "geometry_type",
            GeoError::BadCoordinates => "geometry_coordinates",
        }
    }
}

fn position(v: &Value) -> Result<(f64, f64), GeoError> {
    let a = v.as_array().ok_or(GeoError::BadCoordinates)?;
    let lon = a
        .first()
        .and_then(Value::as_f64)
        .ok_or(GeoError::BadCoordinates)?;
    let lat = a
        .get(1)
        .and_then(Value::as_f64)
        .ok_or(GeoError::BadCoordinates)?;
    if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
        return Err(GeoError::BadCoordinates);
    }
    Ok((lon, lat))
}

fn ring(v: &Value) -> Result<Vec<(f64, f64)>, GeoError> {
    let r: Vec<(f64, f64)> = v
        .as_array()
        .ok_or(GeoError::BadCoordinates)?
        .iter()
        .map(position)
        .collect::<Result<_, _>>()?;
    if r.len() < 4 {
        return Err(GeoError::BadCoordinates);
    }
    Ok(r)
}

fn polygon(v: &Value) -> Result<Vec<Vec<(f64, f64)>>, GeoError> {
    let rings: Vec<Vec<(f64, f64)>> = v
        .as_array()
        .ok_or(GeoError::BadCoordinates)?
        .iter()
        .map(ring)
        .collect::<Result<_, _>>()?;
    if rings.is_empty() {
        return Err(GeoError::BadCoordinates);
    }
    Ok(rings)
}

/// Reads a GeoJSON geometry object.
pub fn parse_geometry(g: &Value) -> Result<Shape, GeoError> {
    let coords = g.get("coordinates").ok_or(GeoError::BadCoordinates)?;
    let polygons = match g.get("type").and_then(Value::as_str) {
        Some("Point") => {
            let (lon, lat) = position(coords)?;
            return Ok(Shape::Point((lat, lon)));
        }
        Some("Polygon") => vec![polygon(coords)?],
        Some("MultiPolygon") => coords
            .as_array()
            .ok_or(GeoError::BadCoordinates)?
            .iter()
            .map(polygon)
            .collect::<Result<_, _>>()?,
        _ => return Err(GeoError::UnsupportedType),
    };
    let mut bbox = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for (lon, lat) in polygons.iter().flat_map(|p| p[0].iter()) {
        bbox.0 = bbox.0.min(*lat);
        bbox.1 = bbox.1.min(*lon);
        bbox.2 = bbox.2.max(*lat);
        bbox.3 = bbox.3.max(*lon);
    }
    if polygons.is_empty() {
        return Err(GeoError::BadCoordinates);
    }
    Ok(Shape::Area(Area { polygons, bbox }))
}

/// Even-odd rule: is (lon, lat) inside the ring?
fn in_ring(r: &[(f64, f64)], lon: f64, lat: f64) -> bool {
    let mut inside = false;
    let mut j = r.len() - 1;
    for i in 0..r.len() {
        let (xi, yi) = r[i];
        let (xj, yj) = r[j];
        if (yi > lat) != (yj > lat) && lon < (xj - xi) * (lat - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

impl Area {
    /// True when the point is inside an outline and outside its holes.
    pub fn contains(&self, (lat, lon): LatLon) -> bool {
        let (a, b, c, d) = self.bbox;
        if lat < a || lat > c || lon < b || lon > d {
            return false;
        }
        self.polygons.iter().any(|rings| {
            in_ring(&rings[0], lon, lat) && !rings[1..].iter().any(|h| in_ring(h, lon, lat))
        })
    }
}

/// Metres between two points (haversine).
pub fn distance_m(a: LatLon, b: LatLon) -> f64 {
    let r = 6_371_000.0_f64;
    let (la1, la2) = (a.0.to_radians(), b.0.to_radians());
    let dla = la2 - la1;
    let dlo = (b.1 - a.1).to_radians();
    let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
    2.0 * r * h.sqrt().asin()
}

/// How a place was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// Inside an imported boundary.
    Boundary,
    /// The nearest labelled point, this many metres away.
    Nearest(u32),
}

/// The code of the area containing the point, else of the nearest labelled point within
/// `max_m` metres (areas first: a boundary is exact, a point is a guess).
pub fn locate<'a>(
    shapes: &'a [(String, Shape)],
    labelled: &'a [(String, LatLon)],
    at: LatLon,
    max_m: f64,
) -> Option<(&'a str, Found)> {
    if let Some((code, _)) = shapes
        .iter()
        .find(|(_, s)| matches!(s, Shape::Area(a) if a.contains(at)))
    {
        return Some((code, Found::Boundary));
    }
    let points = shapes
        .iter()
        .filter_map(|(c, s)| match s {
            Shape::Point(p) => Some((c.as_str(), *p)),
            Shape::Area(_) => None,
        })
        .chain(labelled.iter().map(|(c, p)| (c.as_str(), *p)));
    points
        .map(|(c, p)| (c, distance_m(at, p)))
        .filter(|(_, d)| *d <= max_m)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, d)| (c, Found::Nearest(d.round() as u32)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn square(lat: f64, lon: f64, size: f64) -> Value {
        json!([[
            [lon, lat],
            [lon + size, lat],
            [lon + size, lat + size],
            [lon, lat + size],
            [lon, lat]
        ]])
    }

    #[test]
    fn a_point_inside_an_outline_but_in_its_hole_is_outside() {
        let mut rings = square(3.60, 98.48, 0.02);
        let hole = square(3.605, 98.485, 0.005);
        rings
            .as_array_mut()
            .unwrap()
            .push(hole.as_array().unwrap()[0].clone());
        let Shape::Area(a) =
            parse_geometry(&json!({"type": "Polygon", "coordinates": rings})).unwrap()
        else {
            panic!("an area")
        };
        assert!(a.contains((3.601, 98.481)));
        assert!(!a.contains((3.607, 98.487)), "in the hole");
        assert!(!a.contains((3.63, 98.49)), "outside the bbox");
        assert_eq!(a.bbox, (3.60, 98.48, 3.62, 98.5));
    }

    #[test]
    fn boundaries_win_over_points_and_points_only_count_nearby() {
        let shapes = vec![
            (
                "12.75.02.1006".to_string(),
                parse_geometry(&json!({
                    "type": "MultiPolygon",
                    "coordinates": [square(3.59, 98.47, 0.01), square(3.70, 98.60, 0.01)]
                }))
                .unwrap(),
            ),
            (
                "12.75.01.1001".to_string(),
                parse_geometry(&json!({"type": "Point", "coordinates": [98.499, 3.643]})).unwrap(),
            ),
        ];
        let labelled = vec![("12.75.05.1007".to_string(), (3.5655, 98.4720))];
        assert_eq!(
            locate(&shapes, &labelled, (3.595, 98.475), 1000.0),
            Some(("12.75.02.1006", Found::Boundary))
        );
        assert_eq!(
            locate(&shapes, &labelled, (3.705, 98.605), 1000.0),
            Some(("12.75.02.1006", Found::Boundary)),
            "the second part of a MultiPolygon"
        );
        let near = locate(&shapes, &labelled, (3.644, 98.499), 1000.0).unwrap();
        assert_eq!(near.0, "12.75.01.1001");
        assert!(
            matches!(near.1, Found::Nearest(d) if (100..=120).contains(&d)),
            "{near:?}"
        );
        assert_eq!(
            locate(&shapes, &labelled, (3.566, 98.4725), 1000.0).map(|x| x.0),
            Some("12.75.05.1007")
        );
        assert_eq!(locate(&shapes, &labelled, (3.50, 98.30), 1000.0), None);
    }

    #[test]
    fn bad_geometries_are_refused_by_kind() {
        let bad = |v: Value| parse_geometry(&v).unwrap_err();
        assert_eq!(
            bad(json!({"type": "LineString", "coordinates": []})),
            GeoError::UnsupportedType
        );
        assert_eq!(bad(json!({"type": "Polygon"})), GeoError::BadCoordinates);
        assert_eq!(
            bad(
                json!({"type": "Polygon", "coordinates": [[[98.0, 3.0], [98.1, 3.0], [98.0, 3.0]]]})
            ),
            GeoError::BadCoordinates,
            "a ring needs four positions"
        );
        assert_eq!(
            bad(json!({"type": "Point", "coordinates": [98.0, 95.0]})),
            GeoError::BadCoordinates
        );
        assert_eq!(
            bad(json!({"type": "Point", "coordinates": ["x", 3.0]})),
            GeoError::BadCoordinates
        );
    }

    #[test]
    fn distances_are_in_metres() {
        let d = distance_m((3.6, 98.48), (3.61, 98.48));
        assert!((d - 1112.0).abs() < 5.0, "{d}");
    }
}
