//! Bencher Metric Format: `{"<benchmark>": {"<measure>": {"value": n, "lower_value": n,
//! "upper_value": n}}}`, with lower/upper the min/max over repeats when there were any.

use serde_json::{Map, Value};

use super::Measure;

/// The BMF document of `measures`.
pub fn document(measures: &[Measure]) -> Value {
    let mut benchmarks = Map::new();
    for m in measures {
        let mut metric = Map::new();
        metric.insert("value".into(), m.value.into());
        if let Some((low, high)) = m.bounds {
            metric.insert("lower_value".into(), low.into());
            metric.insert("upper_value".into(), high.into());
        }
        let entry = benchmarks
            .entry(m.benchmark.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(map) = entry {
            map.insert(m.name.to_string(), Value::Object(metric));
        }
    }
    Value::Object(benchmarks)
}
