//! A target's colour in the charts and report.html: the one results.json records, else
//! (results written before colours were recorded) its manifest's in the repository's
//! `targets/` folder, else one picked by its name.

use std::path::Path;
use std::process::Command;

use lanebench::targets::Manifest;

mod report_support;
use report_support::*;

/// A results folder holding the fixture with `colours` recorded for those targets.
fn results_with(colours: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture_file()).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    for target in value["targets"].as_array_mut().unwrap() {
        let name = target["name"].as_str().unwrap().to_string();
        assert!(target.get("colour").is_none(), "the fixture records none");
        if let Some((_, colour)) = colours.iter().find(|(n, _)| *n == name) {
            target["colour"] = (*colour).into();
        }
    }
    std::fs::write(
        dir.path().join("results.json"),
        serde_json::to_string_pretty(&value).unwrap(),
    )
    .unwrap();
    dir
}

/// Writes the report of `dir` with `lanebench report` run from `cwd`.
fn render(dir: &Path, cwd: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_lanebench"))
        .args(["report", dir.to_str().unwrap()])
        .current_dir(cwd)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `target`'s colour as drawn: the fill of its bar in the QPS chart and the swatch of
/// its box in report.html's framework filter.
fn drawn(dir: &Path, target: &str) -> (String, String) {
    let svg = std::fs::read_to_string(dir.join("charts/qps.svg")).unwrap();
    let mark = format!("<g class=\"mark\" data-fw=\"{target}\" data-tip=");
    let rect = &svg[svg.find(&mark).unwrap()..];
    let rect = &rect[rect.find("<rect ").unwrap()..];
    let fill = &rect[rect.find("fill=\"").unwrap() + 6..];
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let swatch = format!("value=\"{target}\" checked><span class=\"swatch\" style=\"background:");
    let background = &html[html.find(&swatch).unwrap() + swatch.len()..];
    (fill[..7].to_string(), background[..7].to_string())
}

/// The colour `targets/<name>/target.toml` chooses.
fn manifest_colour(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../targets")
        .join(name)
        .join("target.toml");
    let manifest = Manifest::load(&path).unwrap();
    manifest
        .colour
        .expect("shipped targets choose a colour")
        .to_string()
}

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn recorded_colours_are_drawn_over_the_repositorys_manifests() {
    let dir = results_with(&[("gin", "#123456"), ("hyperlane", "#ABCDEF")]);
    render(dir.path(), repository());
    let same = |c: &str| (c.to_string(), c.to_string());
    assert_eq!(drawn(dir.path(), "gin"), same("#123456"));
    assert_eq!(drawn(dir.path(), "hyperlane"), same("#abcdef"));
    // node-http recorded none: its manifest's colour.
    assert_eq!(
        drawn(dir.path(), "node-http"),
        same(&manifest_colour("node-http"))
    );
}

#[test]
fn older_results_take_the_repositorys_manifest_colours() {
    let dir = results_with(&[]);
    render(dir.path(), repository());
    for name in ["hyperlane", "gin", "node-http"] {
        let colour = manifest_colour(name);
        assert_eq!(drawn(dir.path(), name), (colour.clone(), colour));
    }
    // The claims chart's light bars include targets the run did not measure.
    let claims = std::fs::read_to_string(dir.path().join("charts/claims.svg")).unwrap();
    let spring = format!("fill=\"{}\" fill-opacity=", manifest_colour("spring-boot"));
    assert!(claims.contains(&spring), "{spring} not in {claims}");

    // Outside any repository no manifest is found: the colour is picked by the name.
    let elsewhere = tempfile::tempdir().unwrap();
    let dir = results_with(&[]);
    render(dir.path(), elsewhere.path());
    let (fill, swatch) = drawn(dir.path(), "hyperlane");
    assert_eq!(fill, swatch);
    assert_ne!(fill, manifest_colour("hyperlane"));
}
