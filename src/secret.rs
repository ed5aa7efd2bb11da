//! `Secret`: a credential string that never prints. Owns redaction only; it does not load secrets.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// A credential (key, token, secret). `Debug` and `Display` print `***`, so a secret cannot reach
/// a log line or an error message by accident; code that signs must call [`Secret::expose`].
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The credential itself, for signing. Never format the result into a message.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when the credential is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

/// Masks a phone number for logs: keeps the first 3 and last 2 digits (`138******21`).
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() <= 5 {
        return "*".repeat(chars.len());
    }
    let mut out: String = chars[..3].iter().collect();
    out.push_str(&"*".repeat(chars.len() - 5));
    out.extend(&chars[chars.len() - 2..]);
    out
}

/// Masks every run of digits shaped like a mainland mobile number (11 digits starting `13`–`19`,
/// optionally behind `86`) with [`mask_phone`]. Longer digit runs — vendor lead ids, timestamps
/// — are left alone.
pub fn mask_phones_in(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        let run: String = chars[start..i].iter().collect();
        let national = match run.len() {
            11 => Some(run.as_str()),
            13 if run.starts_with("86") => Some(&run[2..]),
            _ => None,
        };
        let mobile =
            national.is_some_and(|n| n.starts_with('1') && matches!(n.as_bytes()[1], b'3'..=b'9'));
        if mobile {
            out.push_str(&mask_phone(&run));
        } else {
            out.push_str(&run);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_formats_its_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{:?}", Some(&s)), "Some(***)");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn phones_inside_text_are_masked_but_long_ids_are_not() {
        assert_eq!(
            mask_phones_in("call 13812345678 or 8613912345678; lead 6831434361875726350"),
            "call 138******78 or 861********78; lead 6831434361875726350"
        );
    }

    #[test]
    fn phone_mask_keeps_only_prefix_and_suffix() {
        assert_eq!(mask_phone("13812345621"), "138******21");
        assert_eq!(mask_phone("123"), "***");
    }
}
