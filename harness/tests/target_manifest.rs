//! Manifest parsing and target discovery: valid manifests load, every kind of mistake
//! is reported with the file (and line) it is in.

use std::path::Path;
use std::time::Duration;

use lanebench::targets::{list_targets, DiscoveryError, Manifest, ManifestError};

const VALID: &str = r#"
name = "demo"
framework = "Demo"
language = "Rust"
version = "1.2.3"
requires = ["sh"]
build = "true"
run = "exec sleep 1000"
health = "/health"
ready_timeout = "1500ms"
notes = "test"
"#;

fn write_target(root: &Path, folder: &str, manifest: &str) -> std::path::PathBuf {
    let dir = root.join(folder);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("target.toml");
    std::fs::write(&path, manifest).unwrap();
    path
}

fn parse_error(text: &str) -> (String, Option<usize>) {
    let err = Manifest::parse(text, Path::new("targets/demo/target.toml")).unwrap_err();
    let line = match &err {
        ManifestError::Invalid { line, .. } => *line,
        ManifestError::Read { .. } => None,
    };
    (err.to_string(), line)
}

#[test]
fn valid_manifest_parses_with_duration_and_defaults() {
    let manifest = Manifest::parse(VALID, Path::new("t.toml")).unwrap();
    assert_eq!(manifest.name, "demo");
    assert_eq!(manifest.requires, vec!["sh".to_string()]);
    assert_eq!(manifest.ready_timeout, Duration::from_millis(1500));
    let minimal: String = VALID
        .lines()
        .filter(|line| !line.starts_with("ready_timeout") && !line.starts_with("notes"))
        .collect::<Vec<_>>()
        .join("\n");
    let manifest = Manifest::parse(&minimal, Path::new("t.toml")).unwrap();
    assert_eq!(manifest.ready_timeout, Duration::from_secs(60));
    assert_eq!(manifest.runtime_version, None);
}

#[test]
fn unknown_key_names_file_line_and_key() {
    let (message, line) = parse_error(&format!("{VALID}shade = \"blue\"\n"));
    assert!(
        message.starts_with("targets/demo/target.toml:12:"),
        "{message}"
    );
    assert!(message.contains("shade"), "{message}");
    assert_eq!(line, Some(12));
}

#[test]
fn missing_field_names_file_and_field() {
    let text = VALID.replace("run = \"exec sleep 1000\"\n", "");
    let (message, _) = parse_error(&text);
    assert!(message.starts_with("targets/demo/target.toml"), "{message}");
    assert!(message.contains("missing field `run`"), "{message}");
}

#[test]
fn bad_duration_names_file_line_and_value() {
    let text = VALID.replace("\"1500ms\"", "\"soon\"");
    let (message, line) = parse_error(&text);
    assert!(
        message.starts_with("targets/demo/target.toml:10:"),
        "{message}"
    );
    assert!(message.contains("invalid duration \"soon\""), "{message}");
    assert_eq!(line, Some(10));
}

#[test]
fn colour_is_read_from_hex_and_anything_else_names_file_line_and_key() {
    let manifest = Manifest::parse(
        &format!("{VALID}colour = \"#1F77b4\"\n"),
        Path::new("t.toml"),
    );
    let colour = manifest.unwrap().colour.unwrap();
    assert_eq!((colour.red, colour.green, colour.blue), (31, 119, 180));
    assert_eq!(colour.to_string(), "#1f77b4");
    assert_eq!(
        Manifest::parse(VALID, Path::new("t.toml")).unwrap().colour,
        None
    );
    for bad in ["blue", "#1f77b", "1f77b4", "#1f77bz"] {
        let (message, line) = parse_error(&format!("{VALID}colour = \"{bad}\"\n"));
        assert!(
            message.starts_with("targets/demo/target.toml:12:"),
            "{message}"
        );
        assert!(message.contains("`colour`"), "{message}");
        assert!(message.contains(&format!("{bad:?}")), "{message}");
        assert_eq!(line, Some(12));
    }
}

#[test]
fn a_bad_colour_is_a_usage_error_naming_the_manifest() {
    let root = tempfile::tempdir().unwrap();
    let bad = write_target(root.path(), "demo", &format!("{VALID}colour = \"red\"\n"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lanebench"))
        .args(["targets", "--targets-dir", root.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:12:", bad.display())),
        "{stderr}"
    );
    assert!(stderr.contains("`colour`"), "{stderr}");
}

#[test]
fn relative_health_path_is_rejected_with_its_line() {
    let text = VALID.replace("\"/health\"", "\"health\"");
    let (message, line) = parse_error(&text);
    assert!(message.contains("`health` must be a path"), "{message}");
    assert_eq!(line, Some(9));
}

#[test]
fn listing_sorts_by_name_and_skips_folders_without_manifest() {
    let root = tempfile::tempdir().unwrap();
    write_target(root.path(), "zeta", &VALID.replace("\"demo\"", "\"zeta\""));
    write_target(
        root.path(),
        "alpha",
        &VALID.replace("\"demo\"", "\"alpha\""),
    );
    std::fs::create_dir(root.path().join("not-a-target")).unwrap();
    let names: Vec<String> = list_targets(root.path())
        .unwrap()
        .iter()
        .map(|t| t.manifest.name.clone())
        .collect();
    assert_eq!(names, ["alpha", "zeta"]);
}

#[test]
fn listing_reports_the_bad_manifest_file() {
    let root = tempfile::tempdir().unwrap();
    write_target(root.path(), "demo", VALID);
    let bad = write_target(root.path(), "broken", &format!("{VALID}extra = 1\n"));
    let err = list_targets(root.path()).unwrap_err();
    assert!(matches!(err, DiscoveryError::Manifest(_)));
    assert!(
        err.to_string().contains(&bad.display().to_string()),
        "{err}"
    );
}

#[test]
fn name_must_match_folder() {
    let root = tempfile::tempdir().unwrap();
    write_target(root.path(), "other", VALID);
    let err = list_targets(root.path()).unwrap_err();
    assert!(matches!(err, DiscoveryError::NameMismatch { .. }), "{err}");
}

#[test]
fn missing_tool_is_the_first_absent_one() {
    let tools = vec![
        "sh".to_string(),
        "lanebench-no-such-tool-a".to_string(),
        "lanebench-no-such-tool-b".to_string(),
    ];
    assert_eq!(
        lanebench::targets::first_missing_tool(&tools),
        Some("lanebench-no-such-tool-a")
    );
    assert_eq!(lanebench::targets::first_missing_tool(&tools[..1]), None);
}
