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

fn legend(series: &[Series], y: f64) -> String {
    let mut s = String::new();
    let mut x = 0.0;
    for se in series {
        s.push_str(&format!(
            "<rect x=\"{x:.0}\" y=\"{:.0}\" width=\"10\" height=\"10\" class=\"{}\"/><text x=\"{:.0}\" y=\"{y:.0}\" class=\"lbl\">{}</text>",
            y - 9.0,
            esc(se.class),
            x + 14.0,
            esc(se.label)
        ));
        x += 24.0 + 6.5 * se.label.chars().count() as f64;
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
    let (width, bar_w, bar_h) = (400.0, 330.0, 9.0);
    let row_h = 16.0 + (bar_h + 2.0) * series.len() as f64 + 6.0;
    let h = row_h * groups.len() as f64 + 24.0;
    let mut s = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {width} {h:.0}\" role=\"img\" aria-label=\"{t}\"><title>{t}</title>",
        t = esc(title)
    );
    for (i, g) in groups.iter().enumerate() {
        let y = i as f64 * row_h;
        let name: String = g.label.chars().take(48).collect();
        s.push_str(&format!(
            "<text x=\"0\" y=\"{:.0}\" class=\"lbl\">{}</text>",
            y + 12.0,
            esc(&name)
        ));
        for (k, se) in series.iter().enumerate() {
            let v = g.values.get(k).copied().unwrap_or(0);
            let by = y + 16.0 + k as f64 * (bar_h + 2.0);
            let w = v as f64 / max * bar_w;
            s.push_str(&format!(
                "<rect x=\"0\" y=\"{by:.0}\" width=\"{w:.1}\" height=\"{bar_h}\" class=\"{}\"><title>{}: {v}</title></rect><text x=\"{:.1}\" y=\"{:.0}\" class=\"num\">{v}</text>",
                esc(se.class),
                esc(se.label),
                w + 4.0,
                by + 8.0
            ));
        }
    }
    s.push_str(&legend(series, h - 6.0));
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
    let (width, plot_h, left) = (400.0, 150.0, 28.0);
    let slot = (width - left) / groups.len().max(1) as f64;
    let col_w = (slot - 4.0) / series.len().max(1) as f64;
    let h = plot_h + 44.0;
    let mut s = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {width} {h:.0}\" role=\"img\" aria-label=\"{t}\"><title>{t}</title>",
        t = esc(title)
    );
    s.push_str(&format!(
        "<text x=\"0\" y=\"10\" class=\"num\">{max}</text><text x=\"0\" y=\"{plot_h:.0}\" class=\"num\">0</text><line x1=\"{left}\" y1=\"{plot_h:.0}\" x2=\"{width}\" y2=\"{plot_h:.0}\" class=\"axis\"/>"
    ));
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
        s.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.0}\" class=\"lbl\" text-anchor=\"middle\">{}</text>",
            x0 + slot / 2.0 - 2.0,
            plot_h + 14.0,
            esc(&g.label)
        ));
    }
    s.push_str(&legend(series, h - 6.0));
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
        // 10 is the full 330 units, 5 half of it, 0 nothing.
        assert!(svg.contains("width=\"330.0\""));
        assert!(svg.contains("width=\"165.0\""));
        assert!(svg.contains("width=\"0.0\""));
        assert!(svg.contains("<title>Per OPD</title>"));
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
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
        assert!(columns("x", &S, &[]).ends_with("</svg>"));
    }
}
