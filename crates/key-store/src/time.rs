//! Durations as the CLI and the API write them (`30d`, `24h`, `15m`, `90s`) and UTC timestamps.

use std::time::Duration;

/// A duration that is not `<number><s|m|h|d>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a duration such as 90s, 15m, 24h or 30d (1 second to 100 years)")]
pub struct DurationError;

const MAX_SECONDS: u64 = 100 * 365 * 86_400;

/// Parses `<number><unit>` with unit `s`, `m`, `h` or `d`.
///
/// # Errors
/// [`DurationError`] for anything else, zero, or more than 100 years.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    let unit_at = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or(DurationError)?;
    let (number, unit) = text.split_at(unit_at);
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(DurationError),
    };
    let number: u64 = number.parse().map_err(|_| DurationError)?;
    let seconds = number.checked_mul(scale).ok_or(DurationError)?;
    if seconds == 0 || seconds > MAX_SECONDS {
        return Err(DurationError);
    }
    Ok(Duration::from_secs(seconds))
}

/// `2026-12-02T16:28:43Z` for Unix seconds (proleptic Gregorian calendar, UTC).
#[must_use]
pub fn format_utc(unix: u64) -> String {
    let days = i64::try_from(unix / 86_400).unwrap_or(i64::MAX / 2);
    let secs = unix % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_bad_ones_are_refused() {
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        for bad in [
            "",
            "0s",
            "10",
            "d",
            "1w",
            "-1d",
            "1.5h",
            "99999999999999999999d",
            "36501d",
        ] {
            assert_eq!(parse_duration(bad), Err(DurationError), "{bad}");
        }
    }

    #[test]
    fn utc_timestamps_are_iso_8601() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_utc(1_796_229_123), "2026-12-02T16:32:03Z");
    }
}
