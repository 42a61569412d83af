//! The hash chain of the audit log. Each entry's hash covers its own fields and the previous
//! entry's hash, so editing, inserting or deleting a row anywhere breaks the chain from there on.
//! Fields are length-prefixed before hashing so no two different entries can hash alike by
//! shifting text between fields.

use sha2::{Digest, Sha256};

/// The hash a chain starts from.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The fields of one audit entry that the chain protects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFields<'a> {
    pub id: &'a str,
    pub city_code: &'a str,
    /// Microseconds since the Unix epoch (UTC): both databases keep that precision exactly.
    pub at_micros: i64,
    pub actor: &'a str,
    pub action: &'a str,
    pub subject_type: &'a str,
    pub subject_id: &'a str,
    pub before: Option<&'a str>,
    pub after: Option<&'a str>,
}

fn feed(h: &mut Sha256, s: &str) {
    h.update((s.len() as u64).to_be_bytes());
    h.update(s.as_bytes());
}

fn feed_opt(h: &mut Sha256, s: Option<&str>) {
    match s {
        None => h.update([0u8]),
        Some(s) => {
            h.update([1u8]);
            feed(h, s);
        }
    }
}

/// `sha256(prev ‖ fields)` as lowercase hex.
pub fn chain_hash(prev_hash: &str, f: &AuditFields<'_>) -> String {
    let mut h = Sha256::new();
    feed(&mut h, "balaikota-audit-v1");
    feed(&mut h, prev_hash);
    feed(&mut h, f.id);
    feed(&mut h, f.city_code);
    h.update(f.at_micros.to_be_bytes());
    feed(&mut h, f.actor);
    feed(&mut h, f.action);
    feed(&mut h, f.subject_type);
    feed(&mut h, f.subject_id);
    feed_opt(&mut h, f.before);
    feed_opt(&mut h, f.after);
    hex::encode(h.finalize())
}

/// What is wrong with a stored entry, found while walking the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// The entry's `prev_hash` is not the hash of the entry before it: a row was inserted or
    /// deleted just before this one.
    Link {
        expected_prev: String,
        found_prev: String,
    },
    /// The entry's fields do not give its stored hash: the row was edited.
    Content { expected: String, found: String },
}

/// Checks one stored entry against the hash of the entry before it.
pub fn check_entry(
    prev_hash: &str,
    stored_prev: &str,
    stored_hash: &str,
    f: &AuditFields<'_>,
) -> Result<(), Break> {
    if stored_prev != prev_hash {
        return Err(Break::Link {
            expected_prev: prev_hash.to_string(),
            found_prev: stored_prev.to_string(),
        });
    }
    let expected = chain_hash(stored_prev, f);
    if expected != stored_hash {
        return Err(Break::Content {
            expected,
            found: stored_hash.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry<'a>(id: &'a str, after: Option<&'a str>) -> AuditFields<'a> {
        AuditFields {
            id,
            city_code: "12.75",
            at_micros: 1_700_000_000_000_000,
            actor: "admin",
            action: "agency.create",
            subject_type: "agency",
            subject_id: "x",
            before: None,
            after,
        }
    }

    #[test]
    fn chain_detects_edits_and_shifts() {
        let a = entry("1", Some("{\"name\":\"DLH\"}"));
        let ha = chain_hash(GENESIS, &a);
        assert_eq!(ha.len(), 64);
        assert!(check_entry(GENESIS, GENESIS, &ha, &a).is_ok());
        let edited = entry("1", Some("{\"name\":\"DLHX\"}"));
        assert!(matches!(
            check_entry(GENESIS, GENESIS, &ha, &edited),
            Err(Break::Content { .. })
        ));
        // None and Some("") differ
        assert_ne!(
            chain_hash(GENESIS, &entry("1", None)),
            chain_hash(GENESIS, &entry("1", Some("")))
        );
        // moving text between fields changes the hash
        let mut shifted = a.clone();
        shifted.actor = "admina";
        shifted.action = "gency.create";
        assert_ne!(chain_hash(GENESIS, &shifted), ha);
        // wrong predecessor
        let b = entry("2", None);
        let hb = chain_hash(&ha, &b);
        assert!(matches!(
            check_entry(GENESIS, &ha, &hb, &b),
            Err(Break::Link { .. })
        ));
    }
}
