//! The scenario as a run or a count recorded it (`scenario` in results.json and
//! cost.json): typed where the outputs read it (its name, its requests' names, methods
//! and weights), with every other field kept as written. It is stored from the parsed
//! [`crate::scenario::Scenario`], but files from every earlier version (and hand-made
//! ones holding only a name) are read, and written back as they were: keys in sorted
//! order, absent fields still absent.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The recorded scenario.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(into = "Value")]
pub struct ScenarioRecord {
    #[serde(default)]
    pub name: Option<String>,
    /// The request mix, in the scenario's order.
    #[serde(default)]
    pub requests: Option<Vec<RequestRecord>>,
    /// Every other field (durations, connections, rate, ...), as written.
    #[serde(flatten)]
    pub rest: BTreeMap<String, Value>,
}

/// One request of the recorded mix.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(into = "Value")]
pub struct RequestRecord {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub weight: Option<u64>,
    /// Path, body, headers, expected status, as written.
    #[serde(flatten)]
    pub rest: BTreeMap<String, Value>,
}

/// Why a scenario cannot be recorded (it failed to serialize).
#[derive(Debug, thiserror::Error)]
#[error("cannot record the scenario: {0}")]
pub struct RecordError(#[from] serde_json::Error);

impl ScenarioRecord {
    /// The record of a parsed scenario.
    pub fn of(scenario: &crate::scenario::Scenario) -> Result<ScenarioRecord, RecordError> {
        Ok(serde_json::from_value(serde_json::to_value(scenario)?)?)
    }

    /// The scenario's name, "unnamed" for a record without one.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("unnamed")
    }

    /// The request mix; empty for a record without one.
    pub fn requests(&self) -> &[RequestRecord] {
        self.requests.as_deref().unwrap_or_default()
    }
}

/// The `[capacity]` section as recorded: what the report reads of it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct CapacityRecord {
    /// As written (`p99 <= 10ms`).
    #[serde(default)]
    pub objective: Option<String>,
    /// Published-vs-measured ratios use capacity instead of peak QPS.
    #[serde(default)]
    pub claims: bool,
}

impl ScenarioRecord {
    /// The `[capacity]` section, for a capacity run; a section this build cannot read
    /// counts as one without claims, so the run still reports as a capacity run.
    pub fn capacity(&self) -> Option<CapacityRecord> {
        let section = self.rest.get("capacity").filter(|v| !v.is_null())?;
        Some(serde_json::from_value(section.clone()).unwrap_or_default())
    }
}

impl RequestRecord {
    /// The request's method; a record without one was a GET (the scenario's default).
    pub fn method(&self) -> &str {
        self.method.as_deref().unwrap_or("GET")
    }
}

/// Sets `key` in `map` when the field was present.
fn put<T: Into<Value>>(map: &mut serde_json::Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(value) = value {
        map.insert(key.to_string(), value.into());
    }
}

impl From<ScenarioRecord> for Value {
    fn from(record: ScenarioRecord) -> Value {
        let mut map: serde_json::Map<String, Value> = record.rest.into_iter().collect();
        put(&mut map, "name", record.name);
        let requests = record
            .requests
            .map(|r| Value::Array(r.into_iter().map(Value::from).collect()));
        put(&mut map, "requests", requests);
        Value::Object(map)
    }
}

impl From<RequestRecord> for Value {
    fn from(record: RequestRecord) -> Value {
        let mut map: serde_json::Map<String, Value> = record.rest.into_iter().collect();
        put(&mut map, "name", record.name);
        put(&mut map, "method", record.method);
        put(&mut map, "weight", record.weight);
        Value::Object(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_and_write_back_as_they_were() {
        for text in [
            r#"{"name":"default"}"#,
            r#"{}"#,
            r#"{"connections":[16,64],"description":null,"name":"x","quick_scale":0.2,"requests":[{"body":null,"expect_status":200,"method":"GET","name":"health","path":"/health","weight":2},{"path":"/a"}]}"#,
        ] {
            let record: ScenarioRecord = serde_json::from_str(text).unwrap();
            assert_eq!(serde_json::to_string(&record).unwrap(), text);
        }
        let record: ScenarioRecord =
            serde_json::from_str(r#"{"requests":[{"path":"/a"}]}"#).unwrap();
        assert_eq!(
            (record.name(), record.requests()[0].method()),
            ("unnamed", "GET")
        );
    }

    #[test]
    fn the_shipped_scenario_is_recorded_whole() {
        let scenario = crate::scenario::Scenario::default_embedded();
        let record = ScenarioRecord::of(&scenario).unwrap();
        assert_eq!(record.name(), scenario.name);
        assert_eq!(record.requests().len(), scenario.requests.len());
        assert_eq!(
            serde_json::to_value(&record).unwrap(),
            serde_json::to_value(&scenario).unwrap()
        );
    }
}
