//! github-action-benchmark's custom tools: `customBiggerIsBetter` and
//! `customSmallerIsBetter` each read one JSON array of `{"name", "unit", "value",
//! "range", "extra"}`. One file holds one tool's array, so the figures are split by
//! direction.

use serde_json::{json, Value};

use super::Measure;

/// The array of the measures that are better `bigger` (throughput) or smaller (the rest).
pub fn entries(measures: &[Measure], bigger: bool) -> Value {
    let list: Vec<Value> = measures
        .iter()
        .filter(|m| m.higher_is_better == bigger)
        .map(|m| {
            let mut entry = json!({
                "name": format!("{} {}", m.benchmark, m.name),
                "unit": m.unit,
                "value": m.value,
            });
            if let Some((low, high)) = m.bounds {
                // The action shows `range` as text beside the value: half the min-max width.
                entry["range"] = json!(format!("± {}", trim((high - low) / 2.0)));
                entry["extra"] = json!(format!(
                    "median of {}; min {} max {}",
                    m.n,
                    trim(low),
                    trim(high)
                ));
            }
            entry
        })
        .collect();
    Value::Array(list)
}

fn trim(v: f64) -> String {
    let text = format!("{v:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}
