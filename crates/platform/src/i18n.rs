//! Translations. Messages live in `locales/{id,en}.ftl` in Fluent's syntax (`key = text` with
//! `{ $name }` placeholders), compiled into the binary. Indonesian is the default and the
//! fallback; a missing key shows the key itself, and a test keeps the two files in step.

use std::collections::HashMap;
use std::sync::LazyLock;

use kernel::Lang;

const ID: &str = include_str!("../locales/id.ftl");
const EN: &str = include_str!("../locales/en.ftl");

pub struct Catalog {
    id: HashMap<&'static str, String>,
    en: HashMap<&'static str, String>,
}

fn parse(src: &'static str) -> HashMap<&'static str, String> {
    let mut map: HashMap<&'static str, String> = HashMap::new();
    let mut last: Option<&'static str> = None;
    for line in src.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            last = None;
            continue;
        }
        // Indented lines continue the previous message (Fluent multiline).
        if line.starts_with(' ')
            && let Some(k) = last
        {
            if let Some(v) = map.get_mut(k) {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let k = k.trim();
            map.insert(k, v.trim().to_string());
            last = Some(k);
        }
    }
    map
}

pub static CATALOG: LazyLock<Catalog> = LazyLock::new(|| Catalog {
    id: parse(ID),
    en: parse(EN),
});

impl Catalog {
    pub fn get(&self, lang: Lang, key: &str) -> Option<&str> {
        let primary = match lang {
            Lang::Id => &self.id,
            Lang::En => &self.en,
        };
        primary
            .get(key)
            .or_else(|| self.id.get(key))
            .map(String::as_str)
    }

    pub fn keys(&self, lang: Lang) -> Vec<&'static str> {
        let map = match lang {
            Lang::Id => &self.id,
            Lang::En => &self.en,
        };
        let mut k: Vec<_> = map.keys().copied().collect();
        k.sort();
        k
    }
}

/// The message `key` in `lang`.
pub fn t(lang: Lang, key: &str) -> String {
    CATALOG
        .get(lang, key)
        .map(str::to_string)
        .unwrap_or_else(|| key.to_string())
}

/// The message `key` in `lang` with `{ $name }` placeholders filled.
pub fn t_args(lang: Lang, key: &str, args: &[(&str, String)]) -> String {
    let mut s = t(lang, key);
    for (name, value) in args {
        s = s.replace(&format!("{{ ${name} }}"), value);
    }
    s
}

/// The message for a validation error.
pub fn field_error(lang: Lang, e: &kernel::FieldError) -> String {
    let args: Vec<(&str, String)> = e.args.iter().map(|(k, v)| (*k, v.clone())).collect();
    t_args(lang, &format!("err-{}", e.key), &args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_have_the_same_keys() {
        let id = CATALOG.keys(Lang::Id);
        let en = CATALOG.keys(Lang::En);
        let missing_en: Vec<_> = id.iter().filter(|k| !en.contains(k)).collect();
        let missing_id: Vec<_> = en.iter().filter(|k| !id.contains(k)).collect();
        assert!(missing_en.is_empty(), "missing in en.ftl: {missing_en:?}");
        assert!(missing_id.is_empty(), "missing in id.ftl: {missing_id:?}");
        assert!(id.len() > 50);
    }

    #[test]
    fn placeholders_are_filled() {
        let e = kernel::FieldError::new("password", "password_too_short").with_arg("min", 8);
        assert_eq!(field_error(Lang::Id, &e), "Kata sandi minimal 8 karakter.");
        assert_eq!(
            field_error(Lang::En, &e),
            "The password must have at least 8 characters."
        );
        assert_eq!(t(Lang::En, "no-such-key"), "no-such-key");
    }
}
