//! CSV as spreadsheets read it: every cell quoted, and a cell a spreadsheet would run as a
//! formula (starting with `=`, `+`, `-` or `@`) kept as text with a leading apostrophe.

/// One cell.
pub fn cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// One line: the cells, comma-separated, ending in a newline.
pub fn line<S: AsRef<str>>(cells: impl IntoIterator<Item = S>) -> String {
    let mut out = cells
        .into_iter()
        .map(|c| cell(c.as_ref()))
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_escape_and_formulas_stay_text() {
        assert_eq!(
            line(["ADU-2026-000001", "Jl. \"Merdeka\", 5", "=SUM(A1)", ""]),
            "\"ADU-2026-000001\",\"Jl. \"\"Merdeka\"\", 5\",\"'=SUM(A1)\",\"\"\n"
        );
    }
}
