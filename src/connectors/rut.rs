//! Chilean RUT (Rol Único Tributario): parsing and the modulo-11 check digit.

use std::fmt;

/// Why a string is not a RUT.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RutError {
    /// Not digits followed by a check digit (`0-9` or `K`).
    #[error("a RUT is digits followed by a check digit, like 41.614.850-3")]
    Malformed,
    /// Well formed, but the check digit does not match the number.
    #[error("the RUT's check digit is wrong")]
    WrongCheckDigit,
}

/// A valid RUT: its number and check digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rut {
    body: u32,
}

impl Rut {
    /// Parses `41.614.850-3`, `41614850-3` or `416148503` (dots and hyphen optional, `k` or
    /// `K` as check digit) and checks the digit.
    pub fn parse(input: &str) -> Result<Self, RutError> {
        let compact: String = input.trim().chars().filter(|c| *c != '.').collect();
        // A RUT is ASCII; checking first also keeps the byte-based split below on a character
        // boundary whatever a client sends.
        if !compact.is_ascii() {
            return Err(RutError::Malformed);
        }
        // The hyphen, when present, must sit right before the check digit.
        let (body, dv) = match compact.split_once('-') {
            Some((body, dv)) => (body.to_string(), dv.to_string()),
            None if compact.len() >= 2 => {
                let (body, dv) = compact.split_at(compact.len() - 1);
                (body.to_string(), dv.to_string())
            }
            None => return Err(RutError::Malformed),
        };
        let dv = match dv.as_str() {
            "k" | "K" => 'K',
            d if d.len() == 1 && d.chars().all(|c| c.is_ascii_digit()) => {
                d.chars().next().ok_or(RutError::Malformed)?
            }
            _ => return Err(RutError::Malformed),
        };
        // Nine digits is more than any RUT in use (they are below 100 million), and keeps u32 safe.
        if body.is_empty() || body.len() > 9 || !body.chars().all(|c| c.is_ascii_digit()) {
            return Err(RutError::Malformed);
        }
        let body: u32 = body.parse().map_err(|_| RutError::Malformed)?;
        if body == 0 {
            return Err(RutError::Malformed);
        }
        if check_digit(body) != dv {
            return Err(RutError::WrongCheckDigit);
        }
        Ok(Rut { body })
    }

    /// The RUT with number `body` and its computed check digit.
    pub fn from_body(body: u32) -> Self {
        Rut { body }
    }

    /// The number before the check digit.
    pub fn body(&self) -> u32 {
        self.body
    }

    /// The check digit, `0`-`9` or `K`.
    pub fn check_digit(&self) -> char {
        check_digit(self.body)
    }

    /// Without dots or hyphen, as Fintoc's `holder_id`: `416148503`.
    pub fn compact(&self) -> String {
        format!("{}{}", self.body, self.check_digit())
    }
}

impl fmt::Display for Rut {
    /// The usual written form: `41.614.850-3`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.body.to_string();
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push('.');
            }
            grouped.push(c);
        }
        write!(f, "{grouped}-{}", self.check_digit())
    }
}

/// The modulo-11 check digit of a RUT number: weights 2..=7 from the right, `11` gives `0`
/// and `10` gives `K`.
pub fn check_digit(body: u32) -> char {
    let mut rest = body;
    let mut sum = 0u32;
    let mut weight = 2;
    while rest > 0 {
        sum += (rest % 10) * weight;
        rest /= 10;
        weight = if weight == 7 { 2 } else { weight + 1 };
    }
    match 11 - sum % 11 {
        11 => '0',
        10 => 'K',
        d => char::from_digit(d, 10).unwrap_or('0'),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn non_ascii_input_is_malformed_not_a_panic() {
        for junk in ["𥙶", "4𥙶", "41614850-𥙶", "ñ", "\u{202e}1-9"] {
            assert_eq!(Rut::parse(junk), Err(RutError::Malformed), "{junk:?}");
        }
    }

    use super::*;

    #[test]
    fn fintoc_test_users_are_valid_in_every_spelling() {
        for input in ["41614850-3", "41.614.850-3", "416148503", " 41614850-3 "] {
            let rut = Rut::parse(input).unwrap();
            assert_eq!(rut.compact(), "416148503");
            assert_eq!(rut.to_string(), "41.614.850-3");
        }
        assert!(Rut::parse("40427672-7").is_ok());
        assert!(Rut::parse("41579263-8").is_ok());
    }

    #[test]
    fn check_digit_follows_modulo_11() {
        assert_eq!(check_digit(41614850), '3');
        // 11 - (sum % 11) == 10 gives K, == 11 gives 0.
        assert_eq!(check_digit(10000013), 'K');
        assert_eq!(check_digit(10000004), '0');
        let k = Rut::from_body(10000013);
        assert_eq!(Rut::parse("10.000.013-k").unwrap(), k);
        assert_eq!(k.compact(), "10000013K");
    }

    #[test]
    fn rejects_wrong_digits_and_garbage() {
        assert_eq!(Rut::parse("41614850-4"), Err(RutError::WrongCheckDigit));
        assert_eq!(Rut::parse("41614850-K"), Err(RutError::WrongCheckDigit));
        for bad in [
            "",
            "3",
            "-3",
            "4161a850-3",
            "41614850-33",
            "1234567890-1",
            "0-0",
            "41614850-",
        ] {
            assert_eq!(Rut::parse(bad), Err(RutError::Malformed), "{bad:?}");
        }
    }
}
