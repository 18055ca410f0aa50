//! What the compare and export tests share: the stored quick run they start from,
//! reshaped into repeats with known noise, a folder to save runs in, and the binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lanebench::load::result::LoadResult;
use lanebench::results::RunResults;
use lanebench::stats::Spread;

/// Gives every level `factors.len()` repeats, copies of its first one passed through
/// `edit(target, factor, load)`, and recomputes the level's spreads like the run does.
pub fn reshape(
    results: &mut RunResults,
    factors: &[f64],
    edit: impl Fn(&str, f64, &mut LoadResult),
) {
    for target in &mut results.targets {
        for level in &mut target.levels {
            let first = level.repeats[0].clone();
            level.repeats = factors
                .iter()
                .map(|&factor| {
                    let mut repeat = first.clone();
                    edit(&target.name, factor, &mut repeat.load);
                    repeat
                })
                .collect();
            let spread = |f: fn(&LoadResult) -> f64| {
                Spread::of(&level.repeats.iter().map(|r| f(&r.load)).collect::<Vec<_>>()).unwrap()
            };
            level.rps = spread(|l| l.rps);
            level.success_rps = spread(|l| l.success_rps);
            level.p50_ms = spread(|l| l.latency_ms.p50);
            level.p90_ms = spread(|l| l.latency_ms.p90);
            level.p99_ms = spread(|l| l.latency_ms.p99);
            level.p999_ms = spread(|l| l.latency_ms.p999);
            level.error_rate = spread(|l| l.error_rate);
        }
    }
}

pub fn fixture() -> RunResults {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/compare/quick-run.json");
    RunResults::load(&path).unwrap()
}

/// Throughput times `factor`, latencies divided by it: a repeat that was that much faster.
pub fn faster(load: &mut LoadResult, factor: f64) {
    load.rps *= factor;
    load.success_rps *= factor;
    load.latency_ms.p50 /= factor;
    load.latency_ms.p90 /= factor;
    load.latency_ms.p99 /= factor;
    load.latency_ms.p999 /= factor;
}

/// Three repeats within ±1 % of each other.
pub fn stable() -> RunResults {
    let mut r = fixture();
    reshape(&mut r, &[1.0, 0.99, 1.01], |_, f, load| faster(load, f));
    r
}

pub struct Dirs {
    dir: tempfile::TempDir,
}

impl Dirs {
    pub fn new() -> Dirs {
        Dirs {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn save(&self, name: &str, results: &RunResults) -> PathBuf {
        let path = self.dir.path().join(name);
        results.write(&path).unwrap();
        path
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

pub fn lanebench(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lanebench"))
        .args(args)
        .output()
        .unwrap()
}

/// Exit code, stdout and stderr of `lanebench compare BASE CAND EXTRA...`.
pub fn compare(base: &Path, cand: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args: Vec<&std::ffi::OsStr> = vec!["compare".as_ref(), base.as_ref(), cand.as_ref()];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    let out = lanebench(&args);
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Stdout lines of the compare table for `name` (`target/level` or `target`) and `figure`.
pub fn rows<'a>(stdout: &'a str, name: &str, figure: &str) -> Vec<&'a str> {
    stdout
        .lines()
        .filter(|l| {
            let mut cells = l.split_whitespace();
            cells.next() == Some(name) && cells.next() == Some(figure)
        })
        .collect()
}
