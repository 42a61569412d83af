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

/// Grid cells per degree: a cell is 0.005° (about 555 m) on a side, larger than the radius of
/// most lookups, so a point's neighbours lie in its own cell and the ones next to it.
pub const CELLS_PER_DEGREE: f64 = 200.0;

/// How far apart the rows of cells are in a cell number (more than the columns there are).
const CELL_ROW: i64 = 100_000;

/// A lookup that would need more cells than this reads without the grid.
const MAX_CELLS: usize = 400;

fn cell_index(degrees: f64, offset: f64) -> i64 {
    // The same arithmetic as the migration's SQL backfill: floor((deg + offset) * 200).
    ((degrees + offset) * CELLS_PER_DEGREE).floor() as i64
}

/// The grid cell of a point: a number that an index can find the neighbours of a place by,
/// portable to any database (no spatial extension). Rows of cells run along latitude.
pub fn cell_of((lat, lon): LatLon) -> i64 {
    cell_index(lat, 90.0) * CELL_ROW + cell_index(lon, 180.0)
}

/// The cells that hold every point within `radius_m` metres of `at` (its bounding box), or
/// `None` when there would be too many to list (a lookup that wide reads without the grid).
pub fn cells_around((lat, lon): LatLon, radius_m: f64) -> Option<Vec<i64>> {
    if !(lat.is_finite() && lon.is_finite() && radius_m.is_finite()) || radius_m < 0.0 {
        return None;
    }
    let dlat = radius_m / 111_000.0;
    let dlon = radius_m / (111_000.0 * lat.to_radians().cos().abs().max(0.01));
    let rows = cell_index(lat - dlat, 90.0)..=cell_index(lat + dlat, 90.0);
    let cols = cell_index(lon - dlon, 180.0)..=cell_index(lon + dlon, 180.0);
    let count = (rows.end() - rows.start() + 1) * (cols.end() - cols.start() + 1);
    if usize::try_from(count).map_or(true, |n| n > MAX_CELLS) {
        return None;
    }
    Some(
        rows.flat_map(|r| cols.clone().map(move |c| r * CELL_ROW + c))
            .collect(),
    )
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

    #[test]
    fn every_point_within_the_radius_lies_in_a_listed_cell() {
        // Around Binjai, at a cell corner, and far south: walk a ring of points at the radius.
        for (at, radius) in [
            ((3.6001, 98.4852), 400.0),
            ((3.6, 98.49), 150.0),
            ((-10.9, 122.0), 5000.0),
        ] {
            let cells = cells_around(at, radius).expect("a few cells");
            assert!(cells.contains(&cell_of(at)));
            for step in 0..72 {
                let a = f64::from(step) * 5.0_f64.to_radians();
                let dlat = radius * 0.99 / 111_000.0 * a.cos();
                let dlon = radius * 0.99 / (111_000.0 * at.0.to_radians().cos()) * a.sin();
                let p = (at.0 + dlat, at.1 + dlon);
                assert!(distance_m(at, p) <= radius);
                assert!(cells.contains(&cell_of(p)), "{p:?} around {at:?}");
            }
        }
    }

    #[test]
    fn cells_split_the_map_into_squares_of_0_005_degrees() {
        assert_eq!(cell_of((3.6001, 98.4852)), 18720 * 100_000 + 55697);
        assert_eq!(cell_of((3.6001, 98.4852)), cell_of((3.6049, 98.4899)));
        assert_ne!(cell_of((3.6001, 98.4852)), cell_of((3.6051, 98.4852)));
        assert_ne!(cell_of((3.6001, 98.4852)), cell_of((3.6001, 98.4801)));
        // South and west of zero still floor, not truncate.
        assert_eq!(cell_of((-0.001, -0.001)), 17999 * 100_000 + 35999);
        // A small radius needs at most four cells, a city-wide one is refused.
        assert!(cells_around((3.6001, 98.4852), 400.0).expect("cells").len() <= 4);
        assert_eq!(cells_around((3.6, 98.5), 200_000.0), None);
        assert_eq!(cells_around((f64::NAN, 98.5), 100.0), None);
    }

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
