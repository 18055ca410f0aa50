//! Older results.json layouts brought up to this one when read, so that every reader
//! sees one model. Version 1 lacks the successes (derived from its load results);
//! versions 1 and 2 hold the database's figures in database-only fields
//! (`database_memory_mb`, `database_cpu_utilisation`, `database_cpu_s`, the saturation
//! `"database"`), which become the database component's entries with the same figures.

use serde_json::{json, Map, Value};

use super::RunResults;
use crate::load::cpus::CpuList;
use crate::stats::Spread;

/// The database component's name in files written before components had entries:
/// database mode always ran PostgreSQL, under this name.
const OLD_DATABASE: &str = "postgres";

/// Moves the database-only fields of a version 1 or 2 file into component entries.
pub fn components(version: u64, value: &mut Value) {
    if version >= 3 {
        return;
    }
    let database_mode = value.get("store").is_some_and(|s| !s.is_null());
    let cpus: Vec<usize> = value
        .pointer("/store/cpus")
        .and_then(Value::as_str)
        .and_then(|list| list.parse::<CpuList>().ok())
        .map(|list| list.cpus().to_vec())
        .unwrap_or_default();
    let targets = value.get_mut("targets").and_then(Value::as_array_mut);
    for target in targets
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
    {
        let memory = target.remove("database_memory_mb").unwrap_or(Value::Null);
        if database_mode {
            target.insert(
                "components".to_string(),
                json!([{"name": OLD_DATABASE, "role": "database", "cpus": cpus, "memory_mb": memory}]),
            );
        }
        let levels = target.get_mut("levels").and_then(Value::as_array_mut);
        for level in levels
            .into_iter()
            .flatten()
            .filter_map(Value::as_object_mut)
        {
            move_entry(level, "database_cpu_utilisation", "cpu_utilisation");
            name_saturation(level);
            let repeats = level.get_mut("repeats").and_then(Value::as_array_mut);
            for repeat in repeats
                .into_iter()
                .flatten()
                .filter_map(Value::as_object_mut)
            {
                move_entry(repeat, "database_cpu_s", "cpu_s");
                let set_aside = repeat.get_mut("set_aside").and_then(Value::as_array_mut);
                for attempt in set_aside.into_iter().flatten() {
                    if let Some(attempt) = attempt.as_object_mut() {
                        name_saturation(attempt);
                    }
                }
            }
        }
    }
}

/// `record[old]`, when a number, becomes `record.components = [{name, new: it}]`.
fn move_entry(record: &mut Map<String, Value>, old: &str, new: &str) {
    if let Some(figure) = record.remove(old).filter(Value::is_number) {
        record.insert(
            "components".to_string(),
            json!([{"name": OLD_DATABASE, new: figure}]),
        );
    }
}

/// The verdict `"database"` names the database component.
fn name_saturation(record: &mut Map<String, Value>) {
    if record.get("saturation").and_then(Value::as_str) == Some("database") {
        record.insert(
            "saturation".to_string(),
            json!({"component": {"name": OLD_DATABASE, "role": "database"}}),
        );
    }
}

/// Brings the load results of a version 1 file up to this one: every load result
/// derives its successes (see `LoadResult::upgrade`), and each level its `success_rps`
/// from them. The load results keep their own `schema_version` (their histograms stay
/// in µs).
pub fn loads(results: &mut RunResults) {
    if results.schema_version < 2 {
        for level in results.targets.iter_mut().flat_map(|t| t.levels.iter_mut()) {
            for repeat in &mut level.repeats {
                repeat.load.upgrade();
            }
            let values: Vec<f64> = level.repeats.iter().map(|r| r.load.success_rps).collect();
            if let Some(spread) = Spread::of(&values) {
                level.success_rps = spread;
            }
        }
    }
    results.schema_version = super::SCHEMA_VERSION;
}
