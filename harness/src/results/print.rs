//! How every output writes a figure and names a level: thousands separators, latencies
//! with a precision that suits their size, durations, `64c` labels. The metric table's
//! `Print` kinds use them; kept apart from the table, which says what each figure is.

/// `64c`, or `64c@1000rps` for an open-loop level: how every output names a level.
pub fn level_label(connections: usize, rate: Option<f64>) -> String {
    match rate {
        Some(rate) => format!("{connections}c@{rate}rps"),
        None => format!("{connections}c"),
    }
}

/// A whole number with thousands separators: 48123.4 -> "48,123".
pub fn grouped(value: f64) -> String {
    let digits = format!("{:.0}", value.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if value < 0.0 && digits != "0" {
        out.insert(0, '-');
    }
    out
}

/// Milliseconds as "850 ms" or "1.25 s".
pub fn duration_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// A latency in ms with precision that suits its size.
pub fn latency_ms(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.0}")
    } else if ms >= 1.0 {
        format!("{ms:.2}")
    } else {
        format!("{ms:.3}")
    }
}
