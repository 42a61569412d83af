//! Message templates and SMS shaping, without I/O. Templates use `{name}` placeholders; an admin
//! editing one is told which placeholder is unknown. SMS text is folded to the GSM 7-bit
//! alphabet's ASCII part (so one message holds 160 characters, not 70) and cut to fit 160 with
//! the short link kept whole at the end.

/// The longest single SMS in the GSM 7-bit alphabet.
pub const SMS_MAX: usize = 160;

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c == '_')
}

/// The placeholders named in a template, in order of first use.
pub fn placeholders(template: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if is_name(&after[..close]) => {
                let name = &after[..close];
                if !out.contains(&name) {
                    out.push(name);
                }
                rest = &after[close + 1..];
            }
            Some(_) => rest = after,
            None => break,
        }
    }
    out
}

/// The first placeholder of `template` that is not in `known`, if any.
pub fn unknown_placeholder<'a>(template: &'a str, known: &[&str]) -> Option<&'a str> {
    placeholders(template)
        .into_iter()
        .find(|p| !known.contains(p))
}

/// Fills `{name}` placeholders; unknown ones are left as written.
pub fn render<K: AsRef<str>, V: AsRef<str>>(template: &str, vars: &[(K, V)]) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if is_name(&after[..close]) => {
                let name = &after[..close];
                match vars.iter().find(|(k, _)| k.as_ref() == name) {
                    Some((_, v)) => out.push_str(v.as_ref()),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Folds text to printable ASCII (a subset of GSM 7-bit): Indonesian text is ASCII already;
/// typographic quotes, dashes and accented letters are replaced, anything else becomes `?`.
/// Runs of whitespace collapse to one space.
pub fn to_gsm_ascii(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        let mapped: &str = match c {
            c if c.is_whitespace() => {
                if !space && !out.is_empty() {
                    out.push(' ');
                }
                space = true;
                continue;
            }
            '\u{2018}' | '\u{2019}' | '`' => "'",
            '\u{201C}' | '\u{201D}' => "\"",
            '\u{2013}' | '\u{2014}' | '\u{2212}' => "-",
            '\u{2026}' => "...",
            '\u{00D7}' => "x",
            'á' | 'à' | 'â' | 'ä' | 'ã' => "a",
            'é' | 'è' | 'ê' | 'ë' => "e",
            'í' | 'ì' | 'î' | 'ï' => "i",
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' => "o",
            'ú' | 'ù' | 'û' | 'ü' => "u",
            // `{`, `}`, `[`, `]`, `~`, `\`, `|`, `^` take two septets in GSM 7-bit.
            '{' | '[' => "(",
            '}' | ']' => ")",
            '~' | '\\' | '|' | '^' => "-",
            c if c.is_ascii() && !c.is_ascii_control() => {
                out.push(c);
                space = false;
                continue;
            }
            _ => "?",
        };
        out.push_str(mapped);
        space = false;
    }
    out.trim_end().to_string()
}

/// One SMS: the text folded to ASCII and cut (at a word where possible, marked with `..`) so
/// that, with the link after it, it is at most 160 characters. The link is never cut.
pub fn fit_sms(text: &str, link: Option<&str>) -> String {
    let text = to_gsm_ascii(text);
    let link = link.map(to_gsm_ascii).filter(|l| !l.is_empty());
    let room = match &link {
        Some(l) => SMS_MAX.saturating_sub(l.len() + 1),
        None => SMS_MAX,
    };
    let body = if text.len() <= room {
        text
    } else {
        let limit = room.saturating_sub(2);
        let cut = text[..limit].rfind(' ').filter(|&i| i > limit / 2);
        format!("{}..", text[..cut.unwrap_or(limit)].trim_end())
    };
    match link {
        Some(l) if body.is_empty() => l,
        Some(l) => format!("{body} {l}"),
        None => body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn placeholders_are_found_and_filled() {
        let t = "Izin {title} jatuh tempo {due}. {title}";
        assert_eq!(placeholders(t), vec!["title", "due"]);
        assert_eq!(unknown_placeholder(t, &["title"]), Some("due"));
        assert_eq!(unknown_placeholder(t, &["title", "due"]), None);
        assert_eq!(
            render(t, &[("title", "SIUP"), ("due", "Senin")]),
            "Izin SIUP jatuh tempo Senin. SIUP"
        );
        assert_eq!(render::<&str, &str>("a {x} {", &[]), "a {x} {");
        assert_eq!(
            render(r#"{"to":"{to}","n":{n}}"#, &[("to", "62812"), ("n", "1")]),
            r#"{"to":"62812","n":1}"#
        );
        assert_eq!(placeholders(r#"{"to":"{to}"}"#), vec!["to"]);
    }

    #[test]
    fn sms_is_folded_and_keeps_its_link() {
        let s = fit_sms("Izin “SIUP” – selesai…", Some("https://k.id/l/AB12"));
        assert_eq!(s, "Izin \"SIUP\" - selesai... https://k.id/l/AB12");
        let long = "kata ".repeat(60);
        let s = fit_sms(&long, Some("https://binjaikota.go.id/l/ABCDEF"));
        assert!(s.len() <= SMS_MAX, "{}", s.len());
        assert!(s.ends_with(" https://binjaikota.go.id/l/ABCDEF"));
        assert!(s.contains("kata.."));
    }

    proptest! {
        #[test]
        fn any_sms_fits_in_one_message(text in "\\PC{0,400}", link in "[a-z:/.0-9]{0,40}") {
            let s = fit_sms(&text, Some(&link));
            prop_assert!(s.len() <= SMS_MAX);
            prop_assert!(s.chars().all(|c| c.is_ascii() && !c.is_ascii_control()));
            if !link.trim().is_empty() {
                prop_assert!(s.ends_with(link.trim()));
            }
        }
    }
}
