//! The ranges every number a user or a file gives lanebench must lie in, checked where
//! the number is parsed so that no later arithmetic can overflow, divide by nothing or
//! spin: durations, open-loop rates, and the sizes of files read.
//!
//! The bounds are generous for any real benchmark and small enough that the engine's
//! `Instant` arithmetic, the planned request count of an open-loop run (rate x time) and
//! the per-slot bookkeeping stay finite and cheap:
//! - a duration is at most [`MAX_DURATION`] (365 days);
//! - a rate is finite and between [`MIN_RATE`] and [`MAX_RATE`] requests per second;
//! - a file lanebench reads is at most [`MAX_INPUT_BYTES`].

use std::io::Read;
use std::path::Path;
use std::time::Duration;

/// The longest duration accepted anywhere (run length, warm-up, timeouts, waits).
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);
/// The lowest open-loop rate: one request every 1000 seconds.
pub const MIN_RATE: f64 = 0.001;
/// The highest open-loop rate: far above what one generator can send, low enough that
/// a year of slots still fits the schedule's arithmetic.
pub const MAX_RATE: f64 = 10_000_000.0;
/// The largest file lanebench reads (results, cost files, worker parts, interval logs,
/// request bodies): 64 MiB.
pub const MAX_INPUT_BYTES: u64 = 64 * 1024 * 1024;

/// A number outside its accepted range; the message says the range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BoundError {
    #[error("`{text}` is not a duration (expected e.g. 10s, 1m, 500ms)")]
    NotADuration { text: String },
    #[error("`{text}` is longer than the 365 days lanebench accepts")]
    DurationTooLong { text: String },
    #[error("`{text}` is not a number of requests per second")]
    NotARate { text: String },
    #[error("rate {text} is outside 0.001..=10000000 requests per second (finite, above zero)")]
    RateOutOfRange { text: String },
}

/// Parses a duration such as `10s`, `1m30s` or `250ms`, at most [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Result<Duration, BoundError> {
    let parsed = humantime::parse_duration(text.trim()).map_err(|_| BoundError::NotADuration {
        text: text.to_string(),
    })?;
    check_duration(parsed, text)
}

/// `duration` if it is at most [`MAX_DURATION`]; `text` is what the user wrote.
pub fn check_duration(duration: Duration, text: &str) -> Result<Duration, BoundError> {
    if duration > MAX_DURATION {
        return Err(BoundError::DurationTooLong {
            text: text.to_string(),
        });
    }
    Ok(duration)
}

/// Parses an open-loop rate in requests per second, within [`MIN_RATE`]..=[`MAX_RATE`].
pub fn parse_rate(text: &str) -> Result<f64, BoundError> {
    let rate: f64 = text.trim().parse().map_err(|_| BoundError::NotARate {
        text: text.to_string(),
    })?;
    check_rate(rate).map_err(|_| BoundError::RateOutOfRange {
        text: text.trim().to_string(),
    })
}

/// `rate` if it is finite and within [`MIN_RATE`]..=[`MAX_RATE`].
pub fn check_rate(rate: f64) -> Result<f64, BoundError> {
    if rate.is_finite() && (MIN_RATE..=MAX_RATE).contains(&rate) {
        Ok(rate)
    } else {
        Err(BoundError::RateOutOfRange {
            text: rate.to_string(),
        })
    }
}

/// Reads a whole file, refusing one larger than `cap` bytes without reading it all.
/// The error's text says the limit; the caller names the file.
pub fn read_capped(path: &Path, cap: u64) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let limit = if cap >= 1024 * 1024 {
        format!("{} MiB", cap / (1024 * 1024))
    } else {
        format!("{cap} bytes")
    };
    let too_large = || {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than the {limit} lanebench reads"),
        )
    };
    // A claimed length is only a hint (a pipe or /proc file has none): the read itself
    // is bounded too.
    let hint = file.metadata().map(|m| m.len()).unwrap_or(0);
    if hint > cap {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(hint as usize);
    file.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(too_large());
    }
    Ok(bytes)
}

/// [`read_capped`] at [`MAX_INPUT_BYTES`], as UTF-8 text.
pub fn read_text(path: &Path) -> std::io::Result<String> {
    let bytes = read_capped(path, MAX_INPUT_BYTES)?;
    String::from_utf8(bytes).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_capped_at_a_year() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("365days"), Ok(MAX_DURATION));
        let err = parse_duration("18446744073709551615s").unwrap_err();
        assert!(err.to_string().contains("365 days"), "{err}");
        assert!(parse_duration("366days").is_err());
        assert!(matches!(
            parse_duration("soon"),
            Err(BoundError::NotADuration { .. })
        ));
    }

    #[test]
    fn rates_are_finite_and_in_range() {
        assert_eq!(parse_rate("20000"), Ok(20000.0));
        assert_eq!(parse_rate("0.001"), Ok(0.001));
        for bad in ["1e-300", "inf", "nan", "0", "-5", "1e12", "NaN", "-inf"] {
            let err = parse_rate(bad).unwrap_err().to_string();
            assert!(err.contains("0.001..=10000000"), "{bad}: {err}");
        }
        assert!(matches!(
            parse_rate("ten"),
            Err(BoundError::NotARate { .. })
        ));
    }

    #[test]
    fn reads_are_capped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        std::fs::write(&path, vec![b'x'; 2048]).unwrap();
        assert_eq!(read_capped(&path, 2048).unwrap().len(), 2048);
        let err = read_capped(&path, 1024 * 1024 - 1).map(|_| ());
        assert!(err.is_ok());
        let err = read_capped(&path, 2047).unwrap_err();
        assert!(err.to_string().contains("larger than"), "{err}");
        // A device with no length is bounded by the read, not by its claim.
        let err = read_capped(Path::new("/dev/zero"), 4096).unwrap_err();
        assert!(err.to_string().contains("larger than"), "{err}");
    }
}
