//! What the report tests share: the fixed results.json (`tests/fixtures/report/`), running
//! `lanebench`, reading the Markdown tables, PNG sizes and the charts' marks.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use lanebench::results::RunResults;

/// Every chart a report writes.
pub const CHARTS: [&str; 9] = [
    "qps", "claims", "latency", "ladder", "timeline", "warmup", "cost", "memory", "startup",
];

pub fn fixture_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report/results.json")
}

pub fn fixture() -> RunResults {
    RunResults::load(&fixture_file()).unwrap()
}

/// A results folder holding a copy of the fixture, so rendering writes into a temp dir.
pub fn results_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture_file(), dir.path().join("results.json")).unwrap();
    dir
}

pub fn lanebench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lanebench"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

pub fn stdout_of(args: &[&str]) -> String {
    let out = lanebench(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub fn markdown() -> String {
    stdout_of(&["report", fixture_file().to_str().unwrap(), "--format", "md"])
}

/// The rows of the Markdown table that starts with `header`, as trimmed cells.
pub fn table_rows(md: &str, header: &str) -> Vec<Vec<String>> {
    let start = md
        .find(header)
        .unwrap_or_else(|| panic!("no table {header:?}"));
    md[start..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

pub fn qps_of(results: &RunResults, name: &str) -> f64 {
    results
        .targets
        .iter()
        .find(|t| t.name == name)
        .and_then(|t| t.qps)
        .unwrap()
}

/// Width and height from a PNG's IHDR chunk, after checking the signature.
pub fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

/// The fixture rendered once for every test that only reads the files (drawing PNGs in
/// a debug build takes seconds): the folder and what `lanebench report` printed.
pub fn rendered() -> &'static (PathBuf, String) {
    static RENDERED: OnceLock<(PathBuf, String)> = OnceLock::new();
    RENDERED.get_or_init(|| {
        // One folder per test binary: each renders its own copy.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(concat!("report-fixture-", env!("CARGO_CRATE_NAME")));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(fixture_file(), dir.join("results.json")).unwrap();
        let printed = stdout_of(&["report", dir.to_str().unwrap()]);
        (dir, printed)
    })
}

/// The `data-tip` texts of a chart's marks for one target.
pub fn tips(svg: &str, target: &str) -> Vec<String> {
    let open = format!("<g class=\"mark\" data-fw=\"{target}\" data-tip=\"");
    svg.match_indices(&open)
        .map(|(i, _)| {
            let rest = &svg[i + open.len()..];
            rest[..rest.find('"').unwrap()].replace("&amp;", "&")
        })
        .collect()
}

/// One chart's SVG text from the shared rendering.
pub fn chart(name: &str) -> String {
    std::fs::read_to_string(rendered().0.join(format!("charts/{name}.svg"))).unwrap()
}
