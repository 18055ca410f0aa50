//! HDR histograms on disk: the base64 V2+deflate encoding the JSON result carries (so
//! results from separate processes or machines can be merged exactly), and the standard
//! HdrHistogram interval log (`--hdr-log`) with one histogram per measured second.
//!
//! Interval timestamps are absolute epoch seconds (`BaseTime` 0), so the logs of workers
//! on different machines line up on the wall clock without knowing each other's start.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry,
};
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;

use super::histogram::new_histogram;

/// A histogram file or field that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HdrError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid histogram: {0}")]
    Histogram(String),
    #[error("{path}: not an HdrHistogram interval log: {problem}")]
    Log { path: PathBuf, problem: String },
}

/// Encodes a latency histogram as base64 of its V2+deflate serialization.
pub fn encode_histogram(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut bytes)
        .expect("serializing to memory cannot fail");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Outer cookie of the V2 + deflate encoding, and the inner one of plain V2.
const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9314;
const V2_COOKIE: u32 = 0x1c84_9313;
/// Bytes of the plain V2 header: cookie, payload length, offset, digits, low, high, ratio.
const V2_HEADER: usize = 40;
/// The largest inflated histogram read: one of the project's bounds takes at most
/// about 300 KB (34k counts of at most 9 bytes); anything bigger is not ours.
const MAX_INFLATED: u64 = 1024 * 1024;
/// The widest histogram accepted: 3 significant digits (as recorded) up to 2^44 ns
/// (4.9 h, above the recorder's one-hour cap). Wider ones would size a counts array
/// from the file's claim.
const MAX_DIGITS: u32 = 3;
const MAX_HIGHEST: u64 = 1 << 44;

/// Decodes [`encode_histogram`]'s output into a histogram with the project's bounds.
/// The text is untrusted: the inflated size and the header's bounds are checked before
/// anything is allocated from them (a claimed size is never believed).
pub fn decode_histogram(text: &str) -> Result<Histogram<u64>, HdrError> {
    let bad = |why: String| HdrError::Histogram(why);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| bad(format!("not base64: {e}")))?;
    let plain = inflate_v2(&bytes)?;
    let be32 = |at: usize| u32::from_be_bytes(plain[at..at + 4].try_into().unwrap_or([0; 4]));
    let be64 = |at: usize| u64::from_be_bytes(plain[at..at + 8].try_into().unwrap_or([0; 8]));
    let (payload, digits, low, high) = (be32(4) as usize, be32(12), be64(16), be64(24));
    if payload > plain.len() - V2_HEADER {
        return Err(bad(format!(
            "claims {payload} bytes of counts but holds {}",
            plain.len() - V2_HEADER
        )));
    }
    if digits > MAX_DIGITS || low == 0 || high > MAX_HIGHEST || high < low.saturating_mul(2) {
        return Err(bad(format!(
            "bounds {low}..{high} with {digits} digits are not a lanebench latency histogram"
        )));
    }
    let decoded: Histogram<u64> = Deserializer::new()
        .deserialize(&mut plain.as_slice())
        .map_err(|e| bad(format!("{e:?}")))?;
    // Re-home the counts in the project's bounds so that every merge adds like to like.
    let mut h = new_histogram();
    h.add(&decoded)
        .map_err(|e| HdrError::Histogram(format!("{e:?}")))?;
    Ok(h)
}

/// The plain V2 bytes inside a V2 + deflate encoding, inflated to at most
/// [`MAX_INFLATED`], with a complete header and the plain V2 cookie.
fn inflate_v2(bytes: &[u8]) -> Result<Vec<u8>, HdrError> {
    use std::io::Read;
    let bad = |why: &str| HdrError::Histogram(why.to_string());
    if bytes.len() < 8 {
        return Err(bad("too short for a histogram"));
    }
    let be32 =
        |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    if be32(0) != V2_COMPRESSED_COOKIE {
        return Err(bad("not a V2 compressed histogram (cookie)"));
    }
    let compressed = &bytes[8..];
    let claimed = be32(4) as usize;
    let compressed = compressed.get(..claimed).unwrap_or(compressed);
    let mut plain = Vec::new();
    flate2::read::ZlibDecoder::new(compressed)
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut plain)
        .map_err(|e| HdrError::Histogram(format!("cannot inflate: {e}")))?;
    if plain.len() as u64 > MAX_INFLATED {
        return Err(bad("inflates to more than 1 MiB"));
    }
    if plain.len() < V2_HEADER
        || u32::from_be_bytes([plain[0], plain[1], plain[2], plain[3]]) != V2_COOKIE
    {
        return Err(bad("no V2 histogram header inside"));
    }
    Ok(plain)
}

/// Writes one interval per closed second to an interval log file.
pub struct HdrLogWriter {
    path: PathBuf,
    out: BufWriter<File>,
    serializer: V2DeflateSerializer,
    /// Wall-clock time at which measured second 0 began.
    measure_start: SystemTime,
}

impl std::fmt::Debug for HdrLogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HdrLogWriter")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl HdrLogWriter {
    /// Creates (truncates) `path` and writes the log header.
    pub fn create(path: &Path, measure_start: SystemTime) -> std::io::Result<HdrLogWriter> {
        let mut out = BufWriter::new(File::create(path)?);
        let mut serializer = V2DeflateSerializer::new();
        IntervalLogWriterBuilder::new()
            .add_comment("lanebench latency per measured second, in microseconds")
            .with_start_time(measure_start)
            .with_base_time(UNIX_EPOCH)
            .begin_log_with(&mut out, &mut serializer)?;
        writeln!(
            out,
            "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""
        )?;
        out.flush()?;
        Ok(HdrLogWriter {
            path: path.to_path_buf(),
            out,
            serializer,
            measure_start,
        })
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends measured second `second`'s histogram.
    pub fn write_second(&mut self, second: u64, h: &Histogram<u64>) -> std::io::Result<()> {
        let start = (self.measure_start + Duration::from_secs(second))
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let mut writer =
            IntervalLogWriterBuilder::new().begin_log_with(&mut self.out, &mut self.serializer)?;
        writer
            .write_histogram(h, start, Duration::from_secs(1), None)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        self.out.flush()
    }
}

/// One interval read back from a log: its absolute start and its histogram, still
/// encoded (a decoded one takes some 270 KB whatever it holds, so a long log is decoded
/// one interval at a time).
#[derive(Debug, Clone)]
pub struct LoggedInterval {
    /// Start of the interval, in milliseconds since the epoch.
    pub start_unix_ms: u64,
    /// The histogram as the log holds it (base64 of V2 + deflate).
    pub encoded: String,
}

impl LoggedInterval {
    /// The interval's histogram, with the project's bounds.
    pub fn histogram(&self) -> Result<Histogram<u64>, HdrError> {
        decode_histogram(&self.encoded)
    }
}

/// Reads every interval of an interval log written by [`HdrLogWriter`] (at most
/// [`crate::bounds::MAX_INPUT_BYTES`]); the histograms are checked when decoded.
pub fn read_log(path: &Path) -> Result<Vec<LoggedInterval>, HdrError> {
    let text =
        crate::bounds::read_capped(path, crate::bounds::MAX_INPUT_BYTES).map_err(|source| {
            HdrError::Io {
                path: path.to_path_buf(),
                source,
            }
        })?;
    let log_error = |problem: String| HdrError::Log {
        path: path.to_path_buf(),
        problem,
    };
    let mut base = Duration::ZERO;
    let mut intervals = Vec::new();
    for entry in IntervalLogIterator::new(&text) {
        match entry.map_err(|e| log_error(format!("{e:?}")))? {
            LogEntry::BaseTime(t) => base = t,
            LogEntry::StartTime(_) => {}
            LogEntry::Interval(interval) => {
                // Timestamps are written with millisecond decimals; round away the
                // float parsing error rather than truncating it.
                let start = base
                    .checked_add(interval.start_timestamp())
                    .ok_or_else(|| log_error("a timestamp past any clock".into()))?
                    .as_secs_f64();
                intervals.push(LoggedInterval {
                    start_unix_ms: (start * 1000.0).round() as u64,
                    encoded: interval.encoded_histogram().to_string(),
                });
            }
        }
    }
    Ok(intervals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_round_trip_through_base64() {
        let mut h = new_histogram();
        for v in [1u64, 10, 1_000, 123_456, 3_000_000] {
            h.record_n(v, v % 7 + 1).unwrap();
        }
        let back = decode_histogram(&encode_histogram(&h)).unwrap();
        assert_eq!(back, h);
        assert!(decode_histogram("not base64!").is_err());
    }

    #[test]
    fn interval_log_round_trips_with_absolute_timestamps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.hlog");
        let start = UNIX_EPOCH + Duration::from_millis(1_700_000_000_250);
        let mut writer = HdrLogWriter::create(&path, start).unwrap();
        let mut h = new_histogram();
        h.record(2_000).unwrap();
        writer.write_second(0, &h).unwrap();
        h.record(9_000).unwrap();
        writer.write_second(3, &h).unwrap();
        drop(writer);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("#[StartTime: 1700000000.250"), "{text}");
        assert!(text.contains("#[BaseTime: 0.000"), "{text}");
        assert!(text.contains("\"StartTimestamp\""), "{text}");
        let intervals = read_log(&path).unwrap();
        assert_eq!(intervals.len(), 2);
        assert_eq!(intervals[0].start_unix_ms, 1_700_000_000_250);
        assert_eq!(intervals[1].start_unix_ms, 1_700_000_003_250);
        assert_eq!(intervals[1].histogram().unwrap(), h);
    }
}
