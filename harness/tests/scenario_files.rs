//! The shipped scenario files: every one is valid, the embedded default is the file on
//! disk, and `--quick` shortens them as the format promises.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lanebench::scenario::Scenario;

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn scenario_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenarios_dir())
        .expect("scenarios/ exists")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    files
}

fn load(name: &str) -> Scenario {
    Scenario::load(scenarios_dir().join(name)).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_shipped_scenario_parses() {
    let files = scenario_files();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in ["default", "health", "mixed", "orders", "reproduce", "users"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing: {names:?}"
        );
    }
    for (path, stem) in files.iter().zip(&names) {
        let scenario = Scenario::load(path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            &scenario.name,
            stem,
            "{}: name should match the file name",
            path.display()
        );
        let text = std::fs::read_to_string(path).unwrap();
        assert!(
            text.starts_with('#'),
            "{}: needs a comment header",
            path.display()
        );
    }
}

#[test]
fn default_embedded_is_scenarios_default_toml() {
    let embedded = Scenario::default_embedded();
    assert_eq!(embedded, load("default.toml"));
    assert_eq!(embedded.connections, vec![16, 64]);
    assert_eq!(embedded.quick_scale, 0.25);
    let weights: Vec<(&str, u64)> = embedded
        .requests
        .iter()
        .map(|r| (r.name.as_str(), r.weight))
        .collect();
    assert_eq!(
        weights,
        [
            ("health", 2),
            ("user", 4),
            ("create-order", 2),
            ("user-orders", 2)
        ]
    );
}

#[test]
fn quick_shortens_durations() {
    let reproduce = load("reproduce.toml");
    assert_eq!(reproduce.duration, Duration::from_secs(60));
    assert_eq!(reproduce.connections, vec![360]);
    assert_eq!(reproduce.startup_samples, 10);
    assert_eq!(reproduce.repeats, 3);
    assert!(reproduce.interleave && reproduce.steady_state);
    let quick = reproduce.quick();
    assert_eq!(quick.duration, Duration::from_secs(6));
    assert_eq!(quick.warmup, Duration::from_millis(500));
    assert_eq!((quick.repeats, quick.startup_samples), (1, 3));
    assert!(!quick.interleave, "one repeat has nothing to interleave");

    let default = Scenario::default_embedded().quick();
    assert_eq!(default.duration, Duration::from_secs(2));
    assert_eq!(default.warmup, Duration::from_millis(500));

    // 10s * 0.1 = 1s, at the floor; repeats 3 -> 1.
    let health = load("health.toml");
    assert_eq!(health.repeats, 3);
    let quick = health.quick();
    assert_eq!(quick.duration, Duration::from_secs(1));
    assert_eq!(quick.warmup, Duration::from_millis(200));
    assert_eq!(quick.repeats, 1);
}

#[test]
fn shipped_templates_render_requests_the_contract_accepts() {
    let mixed = load("mixed.toml");
    let mut random = 0x5eed;
    for request in &mixed.requests {
        for _ in 0..200 {
            let mut path = Vec::new();
            request.path.render(&mut random, 1, &mut path);
            let path = String::from_utf8(path).unwrap();
            assert!(path.starts_with('/'), "{path}");
            if let Some(id) = path.strip_prefix("/api/users/") {
                let id: u64 = id.trim_end_matches("/orders").parse().unwrap();
                assert!((1..=1_000_000).contains(&id), "{path}");
            }
            if let Some(body) = &request.body {
                let mut out = Vec::new();
                body.render(&mut random, 1, &mut out);
                let order: serde_json::Value = serde_json::from_slice(&out).unwrap();
                let user = order["user_id"].as_u64().unwrap();
                assert!((1..=1000).contains(&user), "{order}");
                let quantity = order["items"][0]["quantity"].as_u64().unwrap();
                assert!((1..=5).contains(&quantity), "{order}");
                assert_eq!(order["items"][0]["price"], 9.99);
            }
        }
    }
}
