//! Identifiers: UUIDv7 inside, short human codes outside (`ADU-2026-000123`).

use uuid::Uuid;

/// A new time-ordered id.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// A short public code that fits in an SMS and can be read over the phone.
pub fn short_code(prefix: &str, year: i32, seq: i64) -> String {
    format!("{prefix}-{year}-{seq:06}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn short_code_is_padded() {
        assert_eq!(super::short_code("ADU", 2026, 123), "ADU-2026-000123");
        assert_eq!(
            super::short_code("IZN", 2026, 1_234_567),
            "IZN-2026-1234567"
        );
    }
}
