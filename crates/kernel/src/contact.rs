//! Phone numbers (stored `+6281234567890`, shown `0812-3456-7890`) and email addresses.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    /// Accepts `0812-3456-7890`, `+62 812 3456 7890`, `62812…`, `(061) 8004-4777`.
    /// Error keys: `phone_required`, `phone_invalid`.
    pub fn parse(input: &str) -> Result<Phone, &'static str> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err("phone_required");
        }
        let plus = trimmed.starts_with('+');
        let mut digits = String::new();
        for c in trimmed.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                '+' if digits.is_empty() => {}
                _ => return Err("phone_invalid"),
            }
        }
        let national = if let Some(rest) = digits.strip_prefix("62") {
            rest.to_string()
        } else if plus {
            return Err("phone_invalid"); // another country
        } else if let Some(rest) = digits.strip_prefix('0') {
            rest.to_string()
        } else {
            return Err("phone_invalid");
        };
        // National significant number: 8–12 digits, never starting with 0.
        if !(8..=12).contains(&national.len()) || national.starts_with('0') {
            return Err("phone_invalid");
        }
        Ok(Phone(format!("+62{national}")))
    }

    /// `+6281234567890`
    pub fn e164(&self) -> &str {
        &self.0
    }

    pub fn is_mobile(&self) -> bool {
        self.0.starts_with("+628")
    }

    /// `0812-3456-7890` for mobiles; `061-8004-4777` style for landlines.
    pub fn display(&self) -> String {
        let national = &self.0[3..];
        let local = format!("0{national}");
        if self.is_mobile() {
            let (a, rest) = local.split_at(4.min(local.len()));
            let (b, c) = rest.split_at(4.min(rest.len()));
            if c.is_empty() {
                format!("{a}-{b}")
            } else {
                format!("{a}-{b}-{c}")
            }
        } else {
            let (a, rest) = local.split_at(3.min(local.len()));
            format!("{a}-{rest}")
        }
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// A pragmatic check: one `@`, a non-empty local part, a domain with a dot, no spaces.
    /// Stored lower-cased. Error keys: `email_required`, `email_invalid`.
    pub fn parse(input: &str) -> Result<Email, &'static str> {
        let s = input.trim();
        if s.is_empty() {
            return Err("email_required");
        }
        if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("email_invalid");
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err("email_invalid");
        };
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !domain.contains('@')
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        if local.is_empty() || local.len() > 64 || !domain_ok {
            return Err("email_invalid");
        }
        Ok(Email(s.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn phones_normalise_to_e164() {
        for input in [
            "0812-3456-7890",
            "+62 812 3456 7890",
            "6281234567890",
            "081234567890",
        ] {
            assert_eq!(
                Phone::parse(input).map(|p| p.e164().to_string()),
                Ok("+6281234567890".into()),
                "{input}"
            );
        }
        let p = Phone::parse("0812-3456-7890").expect("valid");
        assert_eq!(p.display(), "0812-3456-7890");
        let land = Phone::parse("(061) 8004-4777").expect("valid");
        assert_eq!(land.e164(), "+626180044777");
        assert!(!land.is_mobile());
        assert_eq!(land.display(), "061-80044777");
    }

    #[test]
    fn bad_phones_are_refused() {
        assert_eq!(Phone::parse(""), Err("phone_required"));
        assert_eq!(Phone::parse("12345"), Err("phone_invalid"));
        assert_eq!(Phone::parse("+1 202 555 0100"), Err("phone_invalid"));
        assert_eq!(Phone::parse("0812abc"), Err("phone_invalid"));
        assert_eq!(Phone::parse("0812"), Err("phone_invalid"));
    }

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse(" Budi@Example.ID ").map(|e| e.as_str().to_string()),
            Ok("budi@example.id".into())
        );
        assert_eq!(Email::parse(""), Err("email_required"));
        for bad in [
            "budi",
            "budi@",
            "@x.id",
            "budi@example",
            "bu di@x.id",
            "a@b@c.id",
            "a@.id",
        ] {
            assert_eq!(Email::parse(bad), Err("email_invalid"), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC{0,60}") {
            let _ = Phone::parse(&s);
            let _ = Email::parse(&s);
        }
    }
}
