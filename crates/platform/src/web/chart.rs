//! Charts as inline SVG, drawn on the server: no script, readable on a cheap phone, printable,
//! and labelled for screen readers (`role="img"` with a title). Colours come from CSS classes
//! (`b-recv`, `b-fixed`, `b-budget`, `b-open`, …) so every room's charts look alike.

/// One measure drawn for every group, e.g. "received", with its CSS class.
pub struct Series<'a> {
    pub label: &'a str,
    pub class: &'a str,
}

/// One group (an agency, a category, a month) with a value per series.
pub struct Group {
    pub label: String,
    pub values: Vec<u64>,
}

fn esc(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The drawing's width in its own units. Narrow, so that on a phone (about 330 px across) a
/// unit is about a pixel and the 13-unit text reads as 13 px; a desk's screen draws it larger
/// and the stylesheet makes the text smaller there.
const WIDTH: f64 = 340.0;
/// One line of text, in units.
const LINE: f64 = 17.0;

/// The legend's entries, placed in as many rows as the width needs: (x, row, series).
fn legend_layout<'a>(series: &'a [Series<'a>]) -> Vec<(f64, usize, &'a Series<'a>)> {
    let mut out = Vec::new();
    let (mut x, mut row) = (0.0, 0);
    for se in series {
        // About 7.2 units a character at 13 units, the swatch and a gap.
        let w = 16.0 + 7.2 * se.label.chars().count() as f64 + 12.0;
        if x > 0.0 && x + w > WIDTH {
            x = 0.0;
            row += 1;
        }
        out.push((x, row, se));
        x += w;
    }
    out
}

/// How tall the legend is.
fn legend_height(series: &[Series]) -> f64 {
    legend_layout(series)
        .last()
        .map(|(_, row, _)| (*row as f64 + 1.0) * LINE)
        .unwrap_or(0.0)
}

/// The legend, its first row's baseline at `y`.
fn legend(series: &[Series], y: f64) -> String {
    let mut s = String::new();
    for (x, row, se) in legend_layout(series) {
        let y = y + row as f64 * LINE;
        s.push_str(&format!(
            "<rect x=\"{x:.0}\" y=\"{:.0}\" width=\"11\" height=\"11\" class=\"{}\"/><text x=\"{:.0}\" y=\"{y:.0}\" class=\"lbl\">{}</text>",
            y - 10.0,
            esc(se.class),
            x + 16.0,
            esc(se.label)
        ));
    }
    s
}

/// Horizontal bars: a label line per group, then one bar per series with its number.
pub fn hbars(title: &str, series: &[Series], groups: &[Group]) -> String {
    let max = groups
        .iter()
        .flat_map(|g| g.values.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    // Room after the longest bar for its number.
    let (bar_w, bar_h, gap) = (WIDTH - 56.0, 12.0, 3.0);
    let row_h = LINE + 2.0 + (bar_h + gap) * series.len() as f64 + 8.0;
    let body = row_h * groups.len() as f64;
    let h = body + 8.0 + legend_height(series);
    let mut s = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {h:.0}\" role=\"img\" aria-label=\"{t}\"><title>{t}</title>",
        t = esc(title)
    );
    for (i, g) in groups.iter().enumerate() {
        let y = i as f64 * row_h;
        let name: String = g.label.chars().take(44).collect();
        s.push_str(&format!(
            "<text x=\"0\" y=\"{:.0}\" class=\"lbl\">{}</text>",
            y + 13.0,
            esc(&name)
        ));
        for (k, se) in series.iter().enumerate() {
            let v = g.values.get(k).copied().unwrap_or(0);
            let by = y + LINE + 2.0 + k as f64 * (bar_h + gap);
            let w = v as f64 / max * bar_w;
            s.push_str(&format!(
                "<rect x=\"0\" y=\"{by:.0}\" width=\"{w:.1}\" height=\"{bar_h}\" class=\"{}\"><title>{}: {v}</title></rect><text x=\"{:.1}\" y=\"{:.0}\" class=\"num\">{v}</text>",
                esc(se.class),
                esc(se.label),
                w + 4.0,
                by + 10.0
            ));
        }
    }
    s.push_str(&legend(series, body + 8.0 + 11.0));
    s.push_str("</svg>");
    s
}

/// Columns side by side per group (months along the bottom), the highest value on the left axis.
pub fn columns(title: &str, series: &[Series], groups: &[Group]) -> String {
    let max = groups
        .iter()
        .flat_map(|g| g.values.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    let (plot_h, left) = (150.0, 6.0 + 7.2 * max.to_string().len() as f64);
    let slot = (WIDTH - left) / groups.len().max(1) as f64;
    let col_w = (slot - 4.0) / series.len().max(1) as f64;
    let body = plot_h + 4.0 + LINE;
    let h = body + 10.0 + legend_height(series);
    let mut s = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {h:.0}\" role=\"img\" aria-label=\"{t}\"><title>{t}</title>",
        t = esc(title)
    );
    s.push_str(&format!(
        "<text x=\"0\" y=\"11\" class=\"num\">{max}</text><text x=\"0\" y=\"{plot_h:.0}\" class=\"num\">0</text><line x1=\"{left:.1}\" y1=\"{plot_h:.0}\" x2=\"{WIDTH}\" y2=\"{plot_h:.0}\" class=\"axis\"/>"
    ));
    // Where the labels do not fit side by side, every other one.
    let longest = groups
        .iter()
        .map(|g| g.label.chars().count())
        .max()
        .unwrap_or(0);
    let every = if slot < 7.2 * longest as f64 + 4.0 {
        2
    } else {
        1
    };
    for (i, g) in groups.iter().enumerate() {
        let x0 = left + i as f64 * slot + 2.0;
        for (k, se) in series.iter().enumerate() {
            let v = g.values.get(k).copied().unwrap_or(0);
            let ch = v as f64 / max as f64 * (plot_h - 4.0);
            s.push_str(&format!(
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{ch:.1}\" class=\"{}\"><title>{} · {}: {v}</title></rect>",
                x0 + k as f64 * col_w,
                plot_h - ch,
                (col_w - 1.0).max(1.0),
                esc(se.class),
                esc(&g.label),
                esc(se.label)
            ));
        }
        // Counted from the last, so the latest month always has its label.
        if (groups.len() - 1 - i).is_multiple_of(every) {
            s.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{:.0}\" class=\"lbl\" text-anchor=\"middle\">{}</text>",
                x0 + slot / 2.0 - 2.0,
                plot_h + 4.0 + 13.0,
                esc(&g.label)
            ));
        }
    }
    s.push_str(&legend(series, body + 10.0 + 11.0));
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: [Series; 2] = [
        Series {
            label: "Diterima",
            class: "b-recv",
        },
        Series {
            label: "Selesai",
            class: "b-fixed",
        },
    ];

    #[test]
    fn bars_scale_to_the_largest_value_and_escape_labels() {
        let g = vec![
            Group {
                label: "Dinas <PUPR> & co".into(),
                values: vec![10, 5],
            },
            Group {
                label: "DLH".into(),
                values: vec![2, 0],
            },
        ];
        let svg = hbars("Per OPD", &S, &g);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("Dinas &lt;PUPR&gt; &amp; co"));
        assert!(!svg.contains("<PUPR>"));
        // 10 is the full 284 units, 5 half of it, 0 nothing.
        assert!(svg.contains("width=\"284.0\""));
        assert!(svg.contains("width=\"142.0\""));
        assert!(svg.contains("width=\"0.0\""));
        assert!(svg.contains("<title>Per OPD</title>"));
    }

    #[test]
    fn a_long_legend_wraps_within_the_width_and_the_drawing_grows_to_hold_it() {
        let long = [
            Series {
                label: "Masuk",
                class: "b-recv",
            },
            Series {
                label: "Diperbaiki langsung",
                class: "b-fixed",
            },
            Series {
                label: "Perlu anggaran (jumlah, perkiraan biaya)",
                class: "b-budget",
            },
        ];
        let rows = legend_layout(&long);
        assert_eq!(rows.iter().map(|r| r.1).collect::<Vec<_>>(), vec![0, 0, 1]);
        for (x, _, se) in &rows {
            assert!(
                x + 16.0 + 7.2 * se.label.chars().count() as f64 <= WIDTH,
                "{}",
                se.label
            );
        }
        let g = vec![Group {
            label: "DLH".into(),
            values: vec![3, 1, 1],
        }];
        let height = |svg: &str| -> f64 {
            svg.split("viewBox=\"0 0 340 ")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .and_then(|v| v.parse().ok())
                .unwrap()
        };
        assert_eq!(
            height(&hbars("x", &long, &g)) - height(&hbars("x", &long[..2], &g)),
            17.0 + 15.0
        );
    }

    #[test]
    fn columns_have_one_rect_per_value_and_survive_all_zeroes() {
        let g: Vec<Group> = (1..=12)
            .map(|m| Group {
                label: format!("{m:02}"),
                values: vec![0, 0],
            })
            .collect();
        let svg = columns("Per bulan", &S, &g);
        assert_eq!(svg.matches("class=\"b-recv\"").count(), 12 + 1);
        assert_eq!(svg.matches("text-anchor=\"middle\"").count(), 12);
        // Longer labels beside a wide axis number: every other month, the last among them.
        let g: Vec<Group> = (1..=12)
            .map(|m| Group {
                label: format!("M{m:02}"),
                values: vec![100_000 * (m == 12) as u64, 0],
            })
            .collect();
        let svg = columns("Per bulan", &S, &g);
        assert_eq!(svg.matches("text-anchor=\"middle\"").count(), 6);
        assert!(svg.contains(">M12</text>") && !svg.contains(">M11</text>"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
        assert!(columns("x", &S, &[]).ends_with("</svg>"));
    }
}
