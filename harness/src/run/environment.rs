//! The machine a run happened on, recorded in every results file so figures from
//! different machines are never compared unknowingly.

use std::path::Path;
use std::process::Command;

use crate::load::cpus::CpuList;
use crate::results::Environment;

/// Describes this machine, the harness build, and the CPU placement of the run.
pub fn capture(repo_dir: &Path, server: &CpuList, generator: &CpuList) -> Environment {
    let mut system = sysinfo::System::new();
    system.refresh_memory();
    Environment {
        cpu_model: cpu_model().unwrap_or_else(|| "unknown".to_string()),
        cores: CpuList::allowed().len(),
        memory_mb: system.total_memory() / 1_048_576,
        kernel: sysinfo::System::kernel_version().unwrap_or_else(|| "unknown".to_string()),
        os: sysinfo::System::long_os_version().unwrap_or_else(|| std::env::consts::OS.to_string()),
        lanebench_version: env!("CARGO_PKG_VERSION").to_string(),
        git_revision: git_revision(repo_dir),
        server_cpus: server.cpus().to_vec(),
        generator_cpus: generator.cpus().to_vec(),
        cpus_shared: server == generator,
    }
}

fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, model)| model.trim().to_string())
}

fn git_revision(dir: &Path) -> Option<String> {
    let output = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(dir)
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let mut revision = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .current_dir(dir)
        .output()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    if dirty {
        revision.push_str("-dirty");
    }
    Some(revision)
}

/// Runs a manifest's `runtime_version` command in `dir` and returns its first line
/// (stdout, or stderr for tools such as `java -version` that print there).
pub fn runtime_version(command: &str, dir: &Path) -> Option<String> {
    let output = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .output()
        .ok()?;
    let text = if output.stdout.is_empty() {
        output.stderr
    } else {
        output.stdout
    };
    String::from_utf8_lossy(&text)
        .lines()
        .next()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_this_machine() {
        let cpus = CpuList::allowed();
        let (server, generator) = cpus.split_halves();
        let env = capture(Path::new(env!("CARGO_MANIFEST_DIR")), &server, &generator);
        assert!(env.cores >= 1);
        assert!(env.memory_mb > 0);
        assert!(!env.kernel.is_empty());
        assert_eq!(env.cpus_shared, cpus.len() < 2);
    }

    #[test]
    fn runtime_version_reads_stdout_or_stderr() {
        let dir = Path::new(".");
        assert_eq!(
            runtime_version("echo v1.2.3", dir).as_deref(),
            Some("v1.2.3")
        );
        assert_eq!(
            runtime_version("echo 'java 17' >&2", dir).as_deref(),
            Some("java 17")
        );
        assert_eq!(runtime_version("true", dir), None);
    }
}
