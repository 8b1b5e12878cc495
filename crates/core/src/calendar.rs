//! Local calendar arithmetic for reports: where a day and a month begin in
//! a time zone. Days start at local midnight, so a DST day has 23 or 25
//! hours and a month's length follows its days.

use crate::error::CoreError;
use crate::model::Millis;
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// This computer's IANA zone, or UTC when it cannot be told.
pub fn local_zone() -> Tz {
    iana_time_zone::get_timezone().ok().and_then(|z| z.parse::<Tz>().ok()).unwrap_or(Tz::UTC)
}

/// The IANA zone named, or this computer's when none (or no such zone) is.
pub fn zone_or_local(name: Option<&str>) -> Tz {
    name.and_then(|n| n.parse().ok()).unwrap_or_else(local_zone)
}

/// The first instant of a local day (a day whose midnight a DST change
/// skips starts at the first instant that exists).
pub fn midnight(zone: &Tz, d: NaiveDate) -> Result<Millis, CoreError> {
    let start = d.and_hms_opt(0, 0, 0).unwrap_or_default();
    (0..=3)
        .find_map(|h| zone.from_local_datetime(&(start + chrono::Duration::hours(h))).earliest())
        .map(|t| t.timestamp_millis())
        .ok_or_else(|| CoreError::Invalid(format!("{d} has no start in {zone}")))
}

/// The first day of the month after `d`'s.
pub fn next_month(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month() == 12 { (d.year() + 1, 1) } else { (d.year(), d.month() + 1) };
    NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(NaiveDate::MAX)
}

/// `[from, to)` cut at each local month's start: `(label, start, end)`
/// with labels `YYYY-MM`; the first and last pieces may be partial months.
pub fn months(zone: &Tz, from: Millis, to: Millis) -> Result<Vec<(String, Millis, Millis)>, CoreError> {
    let local = |ms: Millis| DateTime::<Utc>::from_timestamp_millis(ms).map(|t| t.with_timezone(zone).date_naive());
    let (Some(first), Some(_)) = (local(from), local(to)) else {
        return Err(CoreError::Invalid("the report's range is outside the calendar".into()));
    };
    let mut out = Vec::new();
    let mut month = first.with_day(1).unwrap_or(first);
    let mut start = from;
    while start < to {
        let end = midnight(zone, next_month(month))?.min(to);
        if end <= start {
            break;
        }
        out.push((month.format("%Y-%m").to_string(), start, end));
        start = end;
        month = next_month(month);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(zone: &Tz, y: i32, m: u32, d: u32) -> Millis {
        midnight(zone, NaiveDate::from_ymd_opt(y, m, d).unwrap()).unwrap()
    }

    #[test]
    fn months_cut_at_local_midnight_and_keep_partial_ends() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let (from, to) = (at(&berlin, 2026, 9, 15), at(&berlin, 2026, 11, 10));
        let got = months(&berlin, from, to).unwrap();
        let labels: Vec<&str> = got.iter().map(|m| m.0.as_str()).collect();
        assert_eq!(labels, ["2026-09", "2026-10", "2026-11"]);
        assert_eq!((got[0].1, got[0].2), (from, at(&berlin, 2026, 10, 1)));
        // October 2026 in Berlin has the 25-hour day (DST ends on the 25th).
        assert_eq!(got[1].2 - got[1].1, (31 * 24 + 1) * 3_600_000);
        assert_eq!((got[2].1, got[2].2), (at(&berlin, 2026, 11, 1), to));
    }

    #[test]
    fn a_range_inside_one_month_is_one_piece_and_december_rolls_over() {
        let utc: Tz = "UTC".parse().unwrap();
        let got = months(&utc, at(&utc, 2026, 12, 3), at(&utc, 2027, 1, 2)).unwrap();
        assert_eq!(got.iter().map(|m| m.0.as_str()).collect::<Vec<_>>(), ["2026-12", "2027-01"]);
        let one = months(&utc, at(&utc, 2026, 12, 3), at(&utc, 2026, 12, 4)).unwrap();
        assert_eq!(one.len(), 1);
    }
}
