//! A small PDF writer for tables and bar charts (reports a leader prints): A4 pages, text in the
//! standard Helvetica faces (no font file to embed, WinAnsi encoding), filled rectangles and
//! lines. Documents with templates and QR codes (permits) belong to the `docs` crate instead.

use std::fmt::Write as _;

/// Points per millimetre.
pub const MM: f64 = 72.0 / 25.4;

/// A4 in points, portrait (width, height).
pub const A4: (f64, f64) = (595.28, 841.89);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Font {
    Regular,
    Bold,
}

/// One page's drawing operations (origin bottom-left, in points).
#[derive(Debug, Default, Clone)]
pub struct Page {
    ops: String,
}

/// WinAnsi bytes of a text (characters outside it become `?`), escaped for a PDF string.
fn encode(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let b: u8 = match c {
            '\u{20}'..='\u{7e}' => c as u8,
            '\u{a0}'..='\u{ff}' => c as u32 as u8,
            '€' => 0x80,
            '‚' => 0x82,
            '„' => 0x84,
            '…' => 0x85,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            '™' => 0x99,
            _ => b'?',
        };
        match b {
            b'(' | b')' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\{b:03o}");
            }
        }
    }
    out
}

/// About how wide a text is in Helvetica at `size` (average glyph widths; for fitting only).
pub fn text_width(text: &str, size: f64, font: Font) -> f64 {
    let per = match font {
        Font::Regular => 0.52,
        Font::Bold => 0.56,
    };
    text.chars()
        .map(|c| match c {
            'i' | 'l' | 'j' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' | 'I' | ' ' => 0.28,
            'm' | 'w' | 'M' | 'W' => 0.83,
            '0'..='9' => 0.556,
            c if c.is_uppercase() => 0.67,
            _ => per,
        })
        .sum::<f64>()
        * size
}

/// The text cut (with an ellipsis) to fit a width.
pub fn fit(text: &str, width: f64, size: f64, font: Font) -> String {
    if text_width(text, size, font) <= width {
        return text.to_string();
    }
    let mut out = String::new();
    for c in text.chars() {
        out.push(c);
        if text_width(&out, size, font) + text_width("…", size, font) > width {
            out.pop();
            break;
        }
    }
    out.push('…');
    out
}

impl Page {
    pub fn text(&mut self, x: f64, y: f64, size: f64, font: Font, text: &str) {
        let f = match font {
            Font::Regular => "F1",
            Font::Bold => "F2",
        };
        let _ = writeln!(
            self.ops,
            "BT /{f} {size:.1} Tf {x:.2} {y:.2} Td ({}) Tj ET",
            encode(text)
        );
    }

    /// Text ending at `x` (numbers in a column).
    pub fn text_right(&mut self, x: f64, y: f64, size: f64, font: Font, text: &str) {
        self.text(x - text_width(text, size, font), y, size, font, text);
    }

    /// A filled rectangle in an RGB colour (0–1 each).
    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, rgb: (f64, f64, f64)) {
        let _ = writeln!(
            self.ops,
            "{:.3} {:.3} {:.3} rg {x:.2} {y:.2} {w:.2} {h:.2} re f 0 0 0 rg",
            rgb.0, rgb.1, rgb.2
        );
    }

    /// A thin grey line.
    pub fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64) {
        let _ = writeln!(
            self.ops,
            "0.6 0.6 0.6 RG 0.5 w {x1:.2} {y1:.2} m {x2:.2} {y2:.2} l S"
        );
    }
}

/// A document of pages of one size.
#[derive(Debug, Clone)]
pub struct Doc {
    pub size: (f64, f64),
    pub title: String,
    pages: Vec<Page>,
}

impl Doc {
    pub fn new(size: (f64, f64), title: &str) -> Doc {
        Doc {
            size,
            title: title.to_string(),
            pages: vec![],
        }
    }

    pub fn page(&mut self) -> &mut Page {
        self.pages.push(Page::default());
        let n = self.pages.len() - 1;
        &mut self.pages[n]
    }

    /// The PDF file.
    pub fn finish(&self) -> Vec<u8> {
        let mut objs: Vec<String> = Vec::new();
        let n = self.pages.len().max(1);
        // 1 catalog, 2 pages, 3 font, 4 bold font, 5 info, then per page: page, content.
        objs.push("<< /Type /Catalog /Pages 2 0 R >>".into());
        let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", 6 + 2 * i)).collect();
        objs.push(format!(
            "<< /Type /Pages /Count {n} /Kids [{}] >>",
            kids.join(" ")
        ));
        objs.push(
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
                .into(),
        );
        objs.push(
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>"
                .into(),
        );
        objs.push(format!(
            "<< /Title ({}) /Producer (Balaikota) >>",
            encode(&self.title)
        ));
        let empty = Page::default();
        for i in 0..n {
            let p = self.pages.get(i).unwrap_or(&empty);
            objs.push(format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {:.2} {:.2}] /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {} 0 R >>",
                self.size.0,
                self.size.1,
                7 + 2 * i
            ));
            objs.push(format!(
                "<< /Length {} >>\nstream\n{}endstream",
                p.ops.len(),
                p.ops
            ));
        }
        let mut out: Vec<u8> = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
        let mut offsets = Vec::new();
        for (i, o) in objs.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
        }
        let xref = out.len();
        let mut tail = format!("xref\n0 {}\n0000000000 65535 f \n", objs.len() + 1);
        for off in offsets {
            let _ = writeln!(tail, "{off:010} 00000 n ");
        }
        let _ = write!(
            tail,
            "trailer\n<< /Size {} /Root 1 0 R /Info 5 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objs.len() + 1
        );
        out.extend_from_slice(tail.as_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_mapped_to_winansi() {
        assert_eq!(
            encode("Rp 150.000 (perkiraan)"),
            "Rp 150.000 \\(perkiraan\\)"
        );
        assert_eq!(encode("a\\b"), "a\\\\b");
        assert_eq!(encode("1–2 · é"), "1\\2262 \\267 \\351");
        assert_eq!(encode("日本"), "??");
    }

    #[test]
    fn a_document_has_a_valid_cross_reference_table() {
        let mut d = Doc::new(A4, "Evaluasi (Nov)");
        let p = d.page();
        p.text(40.0, 800.0, 12.0, Font::Bold, "Evaluasi pengaduan");
        p.rect(40.0, 700.0, 100.0, 10.0, (0.1, 0.4, 0.7));
        p.line(40.0, 690.0, 500.0, 690.0);
        d.page().text(40.0, 800.0, 10.0, Font::Regular, "Halaman 2");
        let pdf = d.finish();
        let s = String::from_utf8_lossy(&pdf);
        assert!(s.starts_with("%PDF-1.4"));
        assert!(s.ends_with("%%EOF\n"));
        assert!(s.contains("/Count 2"));
        assert!(s.contains("(Evaluasi pengaduan) Tj"));
        // Every offset in the xref points at its "N 0 obj".
        let xref_at: usize = s
            .rsplit("startxref\n")
            .next()
            .and_then(|t| t.lines().next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        let table = &pdf[xref_at..];
        let table = String::from_utf8_lossy(table);
        for (i, line) in table.lines().skip(3).take(9).enumerate() {
            let off: usize = line[..10].parse().unwrap();
            let want = format!("{} 0 obj", i + 1);
            assert_eq!(
                &pdf[off..off + want.len()],
                want.as_bytes(),
                "object {}",
                i + 1
            );
        }
        // Stream lengths are exact.
        let content = s
            .split(">>\nstream\n")
            .nth(1)
            .unwrap()
            .split("endstream")
            .next()
            .unwrap();
        assert!(s.contains(&format!("/Length {}", content.len())));
    }

    #[test]
    fn long_text_is_cut_to_fit() {
        let t = fit(
            "Dinas Pekerjaan Umum dan Penataan Ruang",
            80.0,
            9.0,
            Font::Regular,
        );
        assert!(t.ends_with('…'));
        assert!(text_width(&t, 9.0, Font::Regular) <= 80.0 + 9.0);
        assert_eq!(fit("DLH", 80.0, 9.0, Font::Regular), "DLH");
    }
}
