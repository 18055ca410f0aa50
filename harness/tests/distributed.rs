//! Split runs as users run them: `load --workers N` against a fixture server, the same
//! load in one process, `lanebench merge` of the worker files, its refusals, and the
//! Kubernetes manifests of `deploy/kubernetes/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use lanebench::load::hdr_log::read_log;
use serde::Deserialize;
use serde_json::Value;

mod fixture_server;
use fixture_server::Fixture;

fn lanebench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lanebench"))
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn run_ok(command: &mut Command) -> Output {
    let output = command.stdout(Stdio::null()).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn merge(inputs: &[PathBuf], out: &Path) -> Output {
    lanebench()
        .arg("merge")
        .args(inputs)
        .arg("--json")
        .arg(out)
        .stdout(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn four_workers_merge_to_the_same_counts_as_one_process_and_merging_is_repeatable() {
    let fixture = Fixture::start("ok");
    let dir = tempfile::tempdir().unwrap();
    let single = dir.path().join("single.json");
    let merged = dir.path().join("merged.json");
    let workers = dir.path().join("workers");
    let load = ["load", "-c", "8", "-n", "4000", "--threads", "1"];
    run_ok(
        lanebench()
            .args(load)
            .arg("--json")
            .arg(&single)
            .arg(fixture.url()),
    );
    run_ok(
        lanebench()
            .args(load)
            .args(["--workers", "4", "--worker-dir"])
            .arg(&workers)
            .arg("--json")
            .arg(&merged)
            .arg(fixture.url()),
    );
    drop(fixture);
    let (single, merged_value) = (read_json(&single), read_json(&merged));
    for result in [&single, &merged_value] {
        assert_eq!(result["requests"], 4000);
        assert_eq!(result["error_total"], 0);
        assert_eq!(result["status_codes"]["200"], 4000);
        let timeline_sum: u64 = result["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["requests"].as_u64().unwrap())
            .sum();
        assert_eq!(
            timeline_sum, 4000,
            "the timeline accounts for every request"
        );
    }
    assert_eq!(merged_value["errors"], single["errors"]);
    assert_eq!(merged_value["segment"], Value::Null);
    assert_eq!(merged_value["timeline_p99_exact"], true);
    assert_eq!(merged_value["connections"], 8);

    // Each worker drove its own quarter of the run.
    let inputs: Vec<PathBuf> = (0..4)
        .map(|i| workers.join(format!("worker-{i}.json")))
        .collect();
    for (i, path) in inputs.iter().enumerate() {
        let worker = read_json(path);
        assert_eq!(worker["segment"]["index"], i);
        assert_eq!(worker["segment"]["count"], 4);
        assert_eq!(worker["requests"], 1000, "worker {i}");
        // The interval log starts at the instant the JSON records, and holds every request.
        let log = read_log(&workers.join(format!("worker-{i}.hlog"))).unwrap();
        assert_eq!(
            Some(log[0].start_unix_ms),
            worker["measure_start_unix_ms"].as_u64()
        );
        let logged: u64 = log.iter().map(|s| s.histogram().unwrap().len()).sum();
        assert_eq!(logged, 1000, "worker {i}");
    }
    // Merging the worker files again gives exactly the merged result of the run.
    let again = dir.path().join("again.json");
    let output = merge(&inputs, &again);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(read_json(&again), merged_value);
}

#[test]
fn merge_refuses_incomplete_or_histogramless_inputs_naming_the_file() {
    let fixture = Fixture::start("ok");
    let dir = tempfile::tempdir().unwrap();
    let workers = dir.path().join("w");
    run_ok(
        lanebench()
            .args([
                "load",
                "-c",
                "4",
                "-n",
                "200",
                "--threads",
                "1",
                "--workers",
                "2",
            ])
            .arg("--worker-dir")
            .arg(&workers)
            .arg(fixture.url()),
    );
    drop(fixture);
    let (w0, w1) = (workers.join("worker-0.json"), workers.join("worker-1.json"));
    let out = dir.path().join("out.json");
    let refused = |inputs: &[PathBuf], needle: &str| {
        let output = merge(inputs, &out);
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(needle), "{stderr}");
        assert!(!out.exists());
    };
    refused(
        std::slice::from_ref(&w0),
        "segment 1/2 of this run is missing",
    );
    refused(&[w0.clone(), w0.clone()], "also in");
    let mut stripped = read_json(&w1);
    stripped["latency_hdr"] = Value::Null;
    let no_hdr = dir.path().join("no-hdr.json");
    std::fs::write(&no_hdr, stripped.to_string()).unwrap();
    refused(
        &[w0.clone(), no_hdr],
        "no-hdr.json: has no latency histogram",
    );
    let mut other = read_json(&w1);
    other["lanebench_version"] = "0.0.1".into();
    let old = dir.path().join("old.json");
    std::fs::write(&old, other.to_string()).unwrap();
    refused(&[w0.clone(), old], "old.json: lanebench version");
    let mut v1 = read_json(&w1);
    v1["schema_version"] = 1.into();
    let v1_file = dir.path().join("v1.json");
    std::fs::write(&v1_file, v1.to_string()).unwrap();
    refused(
        &[w0.clone(), v1_file],
        "v1.json: result schema version 1 differs",
    );
    // The workers shared one start; a part measured a second later is another window.
    let mut late = read_json(&w1);
    let start = late["measure_start_unix_ms"].as_u64().unwrap();
    assert_eq!(
        Some(start),
        read_json(&w0)["measure_start_unix_ms"].as_u64()
    );
    late["measure_start_unix_ms"] = (start + 1_000).into();
    let late_file = dir.path().join("late.json");
    std::fs::write(&late_file, late.to_string()).unwrap();
    refused(
        &[w0.clone(), late_file],
        "late.json: its measured window starts 1000 ms after",
    );

    // Without the interval logs the merge still works, marked inexact.
    std::fs::remove_file(workers.join("worker-1.hlog")).unwrap();
    let output = merge(&[w0, w1], &out);
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("not exact"));
    assert_eq!(read_json(&out)["timeline_p99_exact"], false);
}

#[test]
fn bad_segments_are_usage_errors() {
    for (segment, connections) in [("4/4", "8"), ("1/0", "8"), ("x", "8"), ("2/3", "2")] {
        let output = lanebench()
            .args(["load", "-n", "10", "-c", connections, "--segment", segment])
            .arg("http://127.0.0.1:9/")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "--segment {segment}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("--segment") || stderr.contains("segments"),
            "{stderr}"
        );
    }
}

fn manifests() -> Vec<(String, serde_yaml::Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/kubernetes");
    let mut documents = Vec::new();
    for name in ["job.yaml", "configmap.yaml", "results.yaml"] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        for document in serde_yaml::Deserializer::from_str(&text) {
            let value =
                serde_yaml::Value::deserialize(document).unwrap_or_else(|e| panic!("{name}: {e}"));
            documents.push((name.to_string(), value));
        }
    }
    documents
}

#[test]
fn kubernetes_manifests_are_objects_and_the_job_is_indexed() {
    let documents = manifests();
    assert!(documents.len() >= 4);
    for (name, doc) in &documents {
        for key in ["apiVersion", "kind"] {
            assert!(doc[key].as_str().is_some(), "{name}: {key}");
        }
        assert!(
            doc["metadata"]["name"].as_str().is_some(),
            "{name}: metadata.name"
        );
    }
    let kind = |k: &str| {
        documents
            .iter()
            .find(|(_, d)| d["kind"].as_str() == Some(k))
            .map(|(_, d)| d.clone())
            .unwrap_or_else(|| panic!("no {k}"))
    };
    let job = kind("Job");
    assert_eq!(job["apiVersion"], "batch/v1");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let completions = spec["completions"].as_u64().unwrap();
    assert_eq!(spec["parallelism"].as_u64(), Some(completions));
    let container = &spec["template"]["spec"]["containers"][0];
    let words: Vec<String> = ["command", "args"]
        .iter()
        .flat_map(|k| container[*k].as_sequence().unwrap().clone())
        .map(|w| w.as_str().unwrap().to_string())
        .collect();
    let line = words.join(" ");
    assert!(
        line.contains(&format!("--segment=$(JOB_COMPLETION_INDEX)/{completions}")),
        "{line}"
    );
    assert!(line.contains("--json=/results/worker-$(JOB_COMPLETION_INDEX).json"));
    assert!(line.contains("--hdr-log="));
    assert!(
        line.contains("--start-at=$(START_AT)"),
        "one shared start: {line}"
    );
    // The scenario comes from the ConfigMap, and every variable used is defined there.
    let config = kind("ConfigMap");
    let config_name = config["metadata"]["name"].as_str().unwrap();
    assert_eq!(
        container["envFrom"][0]["configMapRef"]["name"].as_str(),
        Some(config_name)
    );
    for word in &words {
        for var in word.split("$(").skip(1).filter_map(|s| s.split(')').next()) {
            assert!(
                var == "JOB_COMPLETION_INDEX" || config["data"][var].as_str().is_some(),
                "$({var}) is not in the ConfigMap"
            );
        }
    }
    // The Job's volume is the claim the results manifest creates.
    let claim = kind("PersistentVolumeClaim");
    assert_eq!(
        spec["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"],
        claim["metadata"]["name"]
    );
}
