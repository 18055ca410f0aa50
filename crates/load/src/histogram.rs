//! The latency histogram every part of the engine shares: its bounds and precision, and
//! the unit figures are reported in. It sits below the recorder, the timeline, the result
//! and the histogram files, so that none of them has to import another for it.

use hdrhistogram::Histogram;

/// Highest latency tracked: one hour in ns. Anything above is clamped to it.
pub const MAX_LATENCY_NS: u64 = 3_600_000_000_000;
/// HDR precision: 3 significant digits.
pub const SIGNIFICANT_DIGITS: u8 = 3;

/// Creates an empty latency histogram (values in nanoseconds) with the project's bounds
/// and precision.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_NS, SIGNIFICANT_DIGITS)
        .expect("static histogram bounds are valid")
}

/// A histogram value (ns) in milliseconds, the unit of every figure in the results.
#[inline]
pub fn ns_to_ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}
