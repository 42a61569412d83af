//! What a form page needs to show answers back with their errors: the values as typed, and a
//! message per field in the visitor's language (the summary box links to each field).

use std::collections::HashMap;

use kernel::{FieldErrors, Lang};

#[derive(Debug, Clone, Default)]
pub struct Form {
    values: HashMap<String, String>,
    pub errors: Vec<(String, String)>,
}

impl Form {
    pub fn new() -> Form {
        Form::default()
    }

    /// Keeps the posted values (never the passwords) to fill the form again.
    pub fn with_values<T: serde::Serialize>(values: &T) -> Form {
        let mut f = Form::default();
        if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(values) {
            for (k, v) in map {
                if k.contains("password") || k == "current" || k == "new" || k == "new_confirm" {
                    continue;
                }
                let s = match v {
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Null => String::new(),
                    other => other.to_string(),
                };
                f.values.insert(k, s);
            }
        }
        f
    }

    pub fn set(&mut self, k: &str, v: &str) {
        self.values.insert(k.to_string(), v.to_string());
    }

    pub fn with_errors(mut self, errs: &FieldErrors, lang: Lang) -> Form {
        for e in &errs.0 {
            if !self.errors.iter().any(|(f, _)| *f == e.field) {
                self.errors
                    .push((e.field.clone(), crate::i18n::field_error(lang, e)));
            }
        }
        self
    }

    pub fn v(&self, k: &str) -> String {
        self.values.get(k).cloned().unwrap_or_default()
    }

    pub fn is(&self, k: &str, value: &str) -> bool {
        self.values.get(k).is_some_and(|v| v == value)
    }

    pub fn err(&self, k: &str) -> Option<String> {
        self.errors
            .iter()
            .find(|(f, _)| f == k)
            .map(|(_, m)| m.clone())
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }
}
