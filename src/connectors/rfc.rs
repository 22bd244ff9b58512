//! Mexican RFC (Registro Federal de Contribuyentes): shape and date checks.
//!
//! A person's RFC has 13 characters (4 letters, birth date `YYMMDD`, 3-character homoclave),
//! a company's 12 (3 letters, incorporation date, homoclave). The homoclave's own check digit
//! is not verified: the sandbox only needs to tell well-formed RFCs and holder types apart.

use std::fmt;

use chrono::NaiveDate;

use crate::connectors::HolderType;

/// Why a string is not an RFC.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RfcError {
    /// Wrong length or characters.
    #[error(
        "an RFC is 3 or 4 letters, a YYMMDD date and a 3-character homoclave, like SAND800101AB1"
    )]
    Malformed,
    /// The six digits are not a calendar date.
    #[error("the RFC's date is not a calendar date")]
    BadDate,
}

/// A well-formed RFC, upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rfc {
    value: String,
}

impl Rfc {
    /// Parses an RFC (case-insensitive, surrounding spaces ignored).
    pub fn parse(input: &str) -> Result<Self, RfcError> {
        let value = input.trim().to_uppercase();
        let chars: Vec<char> = value.chars().collect();
        let letters = match chars.len() {
            13 => 4,
            12 => 3,
            _ => return Err(RfcError::Malformed),
        };
        let is_letter = |c: &char| c.is_ascii_uppercase() || *c == 'Ñ' || *c == '&';
        let date: String = chars[letters..letters + 6].iter().collect();
        let homoclave = &chars[letters + 6..];
        if !chars[..letters].iter().all(is_letter)
            || !date.chars().all(|c| c.is_ascii_digit())
            || !homoclave
                .iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            return Err(RfcError::Malformed);
        }
        let number = |range: std::ops::Range<usize>| date[range].parse::<u32>().unwrap_or(0);
        // The century is not written; 2000 + YY is a leap year exactly when 1900 + YY would be,
        // except 00, which accepting 29 February for is harmless.
        let year = 2000 + i32::try_from(number(0..2)).unwrap_or(0);
        NaiveDate::from_ymd_opt(year, number(2..4), number(4..6)).ok_or(RfcError::BadDate)?;
        Ok(Rfc { value })
    }

    /// The RFC in upper case, as Fintoc's `holder_id`.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// 13 characters are a person's RFC, 12 a company's.
    pub fn holder_type(&self) -> HolderType {
        if self.value.chars().count() == 13 {
            HolderType::Individual
        } else {
            HolderType::Business
        }
    }
}

impl fmt::Display for Rfc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_people_and_companies() {
        let person = Rfc::parse(" sand800101ab1 ").unwrap();
        assert_eq!(person.as_str(), "SAND800101AB1");
        assert_eq!(person.holder_type(), HolderType::Individual);
        let company = Rfc::parse("SAN990401XY9").unwrap();
        assert_eq!(company.holder_type(), HolderType::Business);
        assert!(Rfc::parse("ÑA&800101AB1").is_ok());
    }

    #[test]
    fn rejects_bad_shapes_and_dates() {
        for bad in [
            "",
            "SAND800101AB",
            "SAND800101AB12",
            "SAN1800101AB1",
            "SAND8001O1AB1",
            "SAND800101A-1",
        ] {
            assert_eq!(Rfc::parse(bad), Err(RfcError::Malformed), "{bad:?}");
        }
        assert_eq!(Rfc::parse("SAND801301AB1"), Err(RfcError::BadDate));
        assert_eq!(Rfc::parse("SAN010229AB1"), Err(RfcError::BadDate));
    }
}
