//! Timestamps as UTC milliseconds since the epoch: one integer in both databases, and one
//! wire shape (`YYYY-MM-DDTHH:MM:SS.sssZ`, which the official clients parse into datetimes).

use chrono::{DateTime, NaiveDate, SecondsFormat, TimeZone, Utc};

/// A UTC instant with millisecond precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        Self(Utc::now().timestamp_millis())
    }

    /// From epoch milliseconds (as stored).
    pub fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    /// Epoch milliseconds (as stored).
    pub fn millis(self) -> i64 {
        self.0
    }

    /// Midnight UTC at the start of `date`.
    pub fn start_of(date: NaiveDate) -> Self {
        Self(
            date.and_hms_opt(0, 0, 0)
                .expect("midnight exists")
                .and_utc()
                .timestamp_millis(),
        )
    }

    /// From a chrono instant.
    pub fn from_datetime(at: DateTime<Utc>) -> Self {
        Self(at.timestamp_millis())
    }

    /// This instant plus `millis`.
    pub fn plus_millis(self, millis: i64) -> Self {
        Self(self.0.saturating_add(millis))
    }

    /// The wire form, e.g. `2021-12-07T20:40:53.513Z`.
    pub fn to_wire(self) -> String {
        match Utc.timestamp_millis_opt(self.0).single() {
            Some(at) => at.to_rfc3339_opts(SecondsFormat::Millis, true),
            // Only reachable with corrupted rows; a fixed value beats a panic in a response.
            None => "1970-01-01T00:00:00.000Z".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format_has_millis_and_z() {
        let t = Timestamp::from_millis(1_638_909_653_513);
        assert_eq!(t.to_wire(), "2021-12-07T20:40:53.513Z");
        let d = NaiveDate::from_ymd_opt(2020, 4, 17).unwrap();
        assert_eq!(Timestamp::start_of(d).to_wire(), "2020-04-17T00:00:00.000Z");
    }
}
