//! The published schema (`results/schema.json`) holds for what the harness really writes:
//! a `lanebench run` on a fixture target (closed and open loop), `lanebench load --json`
//! and the worker and merged results of a split run (`load --workers`).
//!
//! The validator below implements the JSON Schema keywords the schema uses (type, enum,
//! const, properties, required, additionalProperties, items, minItems, minimum, oneOf,
//! $ref into $defs); any other keyword makes the test fail, so the schema cannot quietly
//! grow rules nobody checks.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

mod fixture_server;
use fixture_server::Fixture;

fn schema() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../results/schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn type_matches(name: &str, value: &Value) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.is_u64() || value.is_i64(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        other => panic!("unsupported type {other}"),
    }
}

fn validate(root: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let rules = schema.as_object().expect("schemas are objects");
    for (keyword, rule) in rules {
        match keyword.as_str() {
            "$schema" | "$id" | "title" | "description" | "$defs" => {}
            "$ref" => {
                let name = rule
                    .as_str()
                    .unwrap()
                    .strip_prefix("#/$defs/")
                    .expect("local $defs refs only");
                validate(root, &root["$defs"][name], value, at, errors);
            }
            "type" => {
                let ok = match rule {
                    Value::String(t) => type_matches(t, value),
                    Value::Array(ts) => ts.iter().any(|t| type_matches(t.as_str().unwrap(), value)),
                    _ => panic!("bad type rule"),
                };
                if !ok {
                    errors.push(format!("{at}: expected type {rule}, found {value}"));
                }
            }
            "enum" if !rule.as_array().unwrap().contains(value) => {
                errors.push(format!("{at}: {value} not in {rule}"))
            }
            "const" if rule != value => {
                errors.push(format!("{at}: expected {rule}, found {value}"))
            }
            "enum" | "const" => {}
            "minimum" if value.as_f64().is_some_and(|v| v < rule.as_f64().unwrap()) => {
                errors.push(format!("{at}: {value} below {rule}"))
            }
            "minItems"
                if value
                    .as_array()
                    .is_some_and(|a| (a.len() as u64) < rule.as_u64().unwrap()) =>
            {
                errors.push(format!("{at}: fewer than {rule} items"))
            }
            "minimum" | "minItems" => {}
            "required" => {
                for key in rule.as_array().unwrap() {
                    if value.is_object() && value.get(key.as_str().unwrap()).is_none() {
                        errors.push(format!("{at}: missing {key}"));
                    }
                }
            }
            "properties" => {
                if let Some(object) = value.as_object() {
                    for (key, sub) in rule.as_object().unwrap() {
                        if let Some(v) = object.get(key) {
                            validate(root, sub, v, &format!("{at}.{key}"), errors);
                        }
                    }
                }
            }
            "additionalProperties" => {
                let known = rules.get("properties").and_then(Value::as_object);
                for (key, v) in value.as_object().into_iter().flatten() {
                    if known.is_some_and(|k| k.contains_key(key)) {
                        continue;
                    }
                    match rule {
                        Value::Bool(false) => errors.push(format!("{at}: unexpected key {key}")),
                        Value::Bool(true) => {}
                        sub => validate(root, sub, v, &format!("{at}.{key}"), errors),
                    }
                }
            }
            "items" => {
                for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                    validate(root, rule, item, &format!("{at}[{i}]"), errors);
                }
            }
            "oneOf" => {
                let passing = rule
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|sub| {
                        let mut sub_errors = Vec::new();
                        validate(root, sub, value, at, &mut sub_errors);
                        sub_errors.is_empty()
                    })
                    .count();
                if passing != 1 {
                    errors.push(format!("{at}: {passing} alternatives of oneOf match"));
                }
            }
            other => panic!("schema keyword {other} is not supported by this test's validator"),
        }
    }
}

fn assert_valid(schema: &Value, part: &Value, value: &Value) {
    let mut errors = Vec::new();
    validate(schema, part, value, "$", &mut errors);
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn the_validator_rejects_what_the_schema_forbids() {
    let schema = schema();
    let mut errors = Vec::new();
    validate(
        &schema,
        &schema,
        &serde_json::json!({"schema_version": 2, "extra": true}),
        "$",
        &mut errors,
    );
    assert!(
        errors.iter().any(|e| e.contains("expected 3")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("missing \"targets\"")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("unexpected key extra")),
        "{errors:?}"
    );
}

#[test]
fn results_written_by_run_match_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("targets/fixture");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(
        target.join("target.toml"),
        format!(
            "name = \"fixture\"\nframework = \"Fixture\"\nlanguage = \"Rust\"\nversion = \"1\"\nbuild = \"true\"\n\
             run = \"exec $LANEBENCH_WRAP {} --mode ok\"\nhealth = \"/health\"\ncolour = \"#123456\"\n",
            env!("CARGO_BIN_EXE_lanebench-fixture")
        ),
    )
    .unwrap();
    let schema = schema();
    // The last run counts instructions too (valgrind; the test command installs it).
    let counted: &[&str] = &[
        "--cost",
        "--cost-requests",
        "50",
        "--cost-warmup",
        "5",
        "--retry-noisy",
        "0",
    ];
    for (name, load, extra) in [
        // At 1-2 connections the fixture usually saturates neither side, so an attempt is
        // measured again once and the schema covers `set_aside` too.
        (
            "closed",
            "connections = [1, 2]",
            &["--retry-noisy", "1"][..],
        ),
        (
            "open",
            "connections = [2]\nrate = 200",
            &["--retry-noisy", "0"][..],
        ),
        ("counted", "connections = [1]", counted),
    ] {
        let scenario = dir.path().join(format!("{name}.toml"));
        std::fs::write(
            &scenario,
            format!(
                "name = \"{name}\"\nduration = \"1s\"\nwarmup = \"1s\"\nwarmup_max = \"2s\"\nrepeats = 1\n{load}\nstartup_samples = 1\n\n\
                 [[request]]\nname = \"health\"\npath = \"/health\"\n"
            ),
        )
        .unwrap();
        let out = dir.path().join(name);
        let status = Command::new(env!("CARGO_BIN_EXE_lanebench"))
            .args(["run", "--targets-dir"])
            .arg(dir.path().join("targets"))
            .arg("--scenario")
            .arg(&scenario)
            .arg("--out")
            .arg(&out)
            .args(extra)
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "{}",
            String::from_utf8_lossy(&status.stderr)
        );
        let results: Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap())
                .unwrap();
        assert_eq!(results["targets"][0]["status"], "ok", "{name}");
        assert_eq!(results["targets"][0]["colour"], "#123456", "{name}");
        if name == "counted" {
            assert_eq!(results["targets"][0]["cost"]["status"], "ok", "{results:#}");
        }
        assert_valid(&schema, &schema, &results);
    }
}

/// A database-mode run has component entries and a saturation naming its component,
/// which no run on a fixture target here has: a version-2 database run, read into the
/// current layout, stands for one.
#[test]
fn a_database_run_in_the_current_layout_matches_the_schema() {
    let old = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/database-v2");
    let results = lanebench::results::RunResults::load(&old).unwrap();
    let value = serde_json::to_value(&results).unwrap();
    assert!(value["targets"][0]["components"][0]["memory_mb"].is_object());
    assert!(value["targets"][0]["levels"][0]["saturation"]["component"].is_object());
    let schema = schema();
    assert_valid(&schema, &schema, &value);
}

/// A service chain's fields (target and level `chain`, level `baseline`, repeat `hop`),
/// which no run on a fixture target here has: the hand-made chain run stands for one.
#[test]
fn a_chain_run_matches_the_schema() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/chain");
    let results = lanebench::results::RunResults::load(&path).unwrap();
    let value = serde_json::to_value(&results).unwrap();
    let level = &value["targets"][0]["levels"][0];
    assert!(level["repeats"][0]["hop"].is_object() && level["baseline"].is_object());
    assert!(level["chain"].is_object() && value["targets"][0]["chain"].is_object());
    let schema = schema();
    assert_valid(&schema, &schema, &value);
}

#[test]
fn load_json_matches_the_load_definition() {
    let fixture = Fixture::start("ok");
    let url = fixture.url();
    let output = Command::new(env!("CARGO_BIN_EXE_lanebench"))
        .args([
            "load", "-c", "2", "-n", "50", "--rate", "500", "--json", "-", &url,
        ])
        .output()
        .unwrap();
    drop(fixture);
    assert!(output.status.success());
    let value: Value = serde_json::from_slice(&output.stdout).unwrap();
    let schema = schema();
    assert_valid(&schema, &schema["$defs"]["load"], &value);
}

#[test]
fn split_run_json_matches_the_load_definition() {
    let fixture = Fixture::start("ok");
    let url = fixture.url();
    let dir = tempfile::tempdir().unwrap();
    let workers = dir.path().join("workers");
    let output = Command::new(env!("CARGO_BIN_EXE_lanebench"))
        .args([
            "load",
            "-c",
            "4",
            "-n",
            "100",
            "--rate",
            "1000",
            "--workers",
            "2",
        ])
        .arg("--worker-dir")
        .arg(&workers)
        .args(["--json", "-", &url])
        .output()
        .unwrap();
    drop(fixture);
    assert!(output.status.success());
    let merged: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(merged["latency_uncorrected_hdr"].is_string());
    let worker: Value =
        serde_json::from_slice(&std::fs::read(workers.join("worker-1.json")).unwrap()).unwrap();
    assert_eq!(worker["segment"]["index"], 1);
    let schema = schema();
    assert_valid(&schema, &schema["$defs"]["load"], &merged);
    assert_valid(&schema, &schema["$defs"]["load"], &worker);
}

/// A capacity run's fields (`capacity` on targets: searches, probes, every verdict kind,
/// the loads at a fraction of a capacity): runs on fixture servers under load from other
/// work, so most kinds occur; the second search of `slow` was edited to end below the
/// lowest probe.
#[test]
fn a_capacity_run_matches_the_schema() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/capacity");
    let results = lanebench::results::RunResults::load(&path).unwrap();
    let value = serde_json::to_value(&results).unwrap();
    let kinds: std::collections::BTreeSet<String> = value["targets"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["capacity"]["searches"].as_array().unwrap().clone())
        .map(|s| s["verdict"]["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["at-least", "below-lowest", "found", "undecided"]
    );
    let schema = schema();
    assert_valid(&schema, &schema, &value);
}
