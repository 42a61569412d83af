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

/// The letters of random codes: no 0/O or 1/I, so a code read aloud or typed from an SMS
/// survives.
const CODE_ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A random code of `len` (at most 25) characters, for short links.
pub fn random_code(len: usize) -> String {
    let bytes = Uuid::new_v4().into_bytes();
    bytes
        .iter()
        .take(len.min(16))
        .map(|b| char::from(CODE_ALPHABET[usize::from(b & 31)]))
        .collect()
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
