//! Finding a test's own processes: every process a test starts (lanebench, and through
//! it the targets, the proxy and the order service) carries one environment entry, the
//! test's mark, so that the test can find them, kill one, and see that none is left.
//! Also the `lanebench run` such a test starts in a folder of its own, and what it wrote.

use std::path::Path;
use std::process::{Command, Output};

/// Live (not zombie) processes whose environment holds exactly `entry` (`NAME=value`):
/// pid, command line and environment.
pub fn marked(entry: &str) -> Vec<(u32, String, String)> {
    let mut found = Vec::new();
    for dir in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = dir.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(environ) = std::fs::read(dir.path().join("environ")) else {
            continue;
        };
        let vars: Vec<&[u8]> = environ.split(|&b| b == 0).collect();
        if !vars.contains(&entry.as_bytes()) {
            continue;
        }
        let stat = std::fs::read_to_string(dir.path().join("stat")).unwrap_or_default();
        if stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        {
            continue;
        }
        let cmdline = std::fs::read(dir.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        found.push((pid, cmdline, String::from_utf8_lossy(&environ).to_string()));
    }
    found
}

/// `lanebench run` of `scenario` on the targets under `root/targets`, writing to
/// `root/out`, never retrying, carrying the mark `name=root`.
pub fn run_command(root: &Path, scenario: &Path, name: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lanebench"));
    command
        .arg("run")
        .arg("--scenario")
        .arg(scenario)
        .arg("--targets-dir")
        .arg(root.join("targets"))
        .arg("--out")
        .arg(root.join("out"))
        .args(["--retry-noisy", "0"])
        .env(name, root);
    command
}

/// The results.json such a run wrote.
pub fn results(root: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(root.join("out").join("results.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A finished process's stdout and stderr, for failure messages.
pub fn output_text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Writes `root/targets/NAME/target.toml`: the fixture's user service (its own order
/// service too) as target `name` of `framework`, its command carrying the mark
/// `mark=root` (targets are launched with a clean environment).
pub fn fixture_user_service(root: &Path, name: &str, framework: &str, mark: &str) {
    let dir = root.join("targets").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let run = format!(
        "{mark}={} exec {} --mode user-service",
        root.display(),
        env!("CARGO_BIN_EXE_lanebench-fixture")
    );
    let manifest = format!(
        "name = \"{name}\"\nframework = \"{framework}\"\nlanguage = \"rust\"\nversion = \"1\"\n\
         build = \"true\"\nrun = {run:?}\nhealth = \"/health\"\nready_timeout = \"20s\"\n"
    );
    std::fs::write(dir.join("target.toml"), manifest).unwrap();
}
