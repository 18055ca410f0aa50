//! `lanebench load --workers N`: the run split over N worker processes of this same
//! binary on this machine (`load --segment i/N`), then merged exactly like results from
//! N machines would be (`lanebench merge`). Every worker is stopped before returning.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::load_args::LoadArgs;
use super::{EXIT_FAILED, EXIT_USAGE};
use crate::load::cpus::CpuList;
use crate::load::merge::{merge_workers, read_worker};
use crate::load::result::LoadResult;
use crate::load::share;

/// How far ahead of now the workers' common start is set: time to exec and connect.
const WORKER_LEAD: Duration = Duration::from_millis(500);

/// Runs the split run and returns the merged result, for the caller to report like a
/// normal run; or, having said why, the exit code.
pub fn run(args: &LoadArgs, workers: usize) -> Result<LoadResult, i32> {
    if let Some(dir) = &args.worker_dir {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("lanebench load: --worker-dir {}: {e}", dir.display());
            return Err(EXIT_USAGE);
        }
        return run_in(args, workers, dir);
    }
    // A fresh folder under an unpredictable name: a folder someone made in advance at a
    // name derived from the pid could hold planted results or links.
    let scratch = match scratch_dir() {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!(
                "lanebench load: --workers: cannot make a scratch folder in {}: {e}",
                std::env::temp_dir().display()
            );
            return Err(EXIT_FAILED);
        }
    };
    // Dropping `scratch` removes the folder and the workers' files.
    run_in(args, workers, scratch.path())
}

/// A new, empty, private folder in `$TMPDIR` for the workers' files.
pub fn scratch_dir() -> std::io::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("lanebench-workers-")
        .tempdir()
}

fn run_in(args: &LoadArgs, workers: usize, dir: &Path) -> Result<LoadResult, i32> {
    let stop = Arc::new(AtomicBool::new(false));
    super::stop_on_signals(&stop, false);
    // One start for all, late enough for every worker to be up and connected, so that
    // their windows coincide (merge refuses windows that do not).
    let start_at = args
        .start_at
        .unwrap_or_else(|| SystemTime::now() + WORKER_LEAD);
    let mut children = Vec::with_capacity(workers);
    for index in 0..workers {
        match spawn_worker(args, index, workers, dir, start_at) {
            Ok(child) => children.push(child),
            Err(e) => {
                eprintln!("lanebench load: cannot start worker {index}: {e}");
                stop_all(&mut children, libc::SIGKILL);
                return Err(EXIT_FAILED);
            }
        }
    }
    if let Err(problem) = wait_all(&mut children, &stop) {
        eprintln!("lanebench load: {problem}");
        return Err(EXIT_FAILED);
    }
    let mut results = Vec::with_capacity(workers);
    for index in 0..workers {
        match read_worker(&worker_file(dir, index, "json")) {
            Ok(result) => results.push(result),
            Err(e) => {
                eprintln!("lanebench load: {e}");
                return Err(EXIT_FAILED);
            }
        }
    }
    match merge_workers(&results) {
        Ok(merged) => {
            for warning in &merged.warnings {
                eprintln!("lanebench load: warning: {warning}");
            }
            Ok(merged.result)
        }
        Err(e) => {
            eprintln!("lanebench load: {e}");
            Err(EXIT_FAILED)
        }
    }
}

/// `worker-<index>.<ext>` in `dir`.
pub fn worker_file(dir: &Path, index: usize, ext: &str) -> PathBuf {
    dir.join(format!("worker-{index}.{ext}"))
}

fn spawn_worker(
    args: &LoadArgs,
    index: usize,
    workers: usize,
    dir: &Path,
    start_at: SystemTime,
) -> std::io::Result<Child> {
    let mut command = Command::new(std::env::current_exe()?);
    command.arg("load").args(scenario_args(args));
    let start_ms = start_at
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    command.arg("--start-at").arg(start_ms.to_string());
    command.arg("--segment").arg(format!("{index}/{workers}"));
    command.arg("--json").arg(worker_file(dir, index, "json"));
    command
        .arg("--hdr-log")
        .arg(worker_file(dir, index, "hlog"));
    // The error-rate verdict is the merged run's, judged once by this process.
    command.args(["--quiet", "--max-error-rate", "100%"]);
    let total_threads = match (args.threads, &args.cpus) {
        (Some(t), _) => t as usize,
        (None, Some(cpus)) => cpus.len(),
        (None, None) => CpuList::allowed().len(),
    };
    let threads = share(total_threads, workers, index).len().max(1);
    command.arg("--threads").arg(threads.to_string());
    if let Some(cpus) = &args.cpus {
        let cpu = cpus.cpus()[index % cpus.len()];
        command.arg("--cpus").arg(cpu.to_string());
    }
    // The summary of each worker is noise; its errors are not.
    command.stdout(Stdio::null()).stderr(Stdio::inherit());
    command.spawn()
}

/// The flags that define the run itself, as the worker's command line.
fn scenario_args(args: &LoadArgs) -> Vec<OsString> {
    let nanos = |d: Duration| format!("{}ns", d.as_nanos());
    let mut out: Vec<OsString> = vec![args.url.clone().into()];
    let mut flag = |name: &str, value: String| {
        out.push(name.into());
        out.push(value.into());
    };
    flag("--connections", args.connections.to_string());
    if let Some(d) = args.duration {
        flag("--duration", nanos(d));
    }
    if let Some(n) = args.requests {
        flag("--requests", n.to_string());
    }
    flag("--warmup", nanos(args.warmup));
    if let Some(rate) = args.rate {
        flag("--rate", rate.to_string());
    }
    flag("--method", args.method.clone());
    for header in &args.headers {
        flag("--header", header.clone());
    }
    if let Some(body) = &args.body {
        flag("--body", body.clone());
    }
    flag("--timeout", nanos(args.timeout));
    flag("--max-send-lag", nanos(args.max_send_lag));
    if let Some(status) = args.expect_status {
        flag("--expect-status", status.to_string());
    }
    if let Some(path) = &args.body_file {
        out.push("--body-file".into());
        out.push(path.clone().into());
    }
    if args.allow_remote {
        out.push("--allow-remote".into());
    }
    if args.wait_in_flight {
        out.push("--wait-in-flight".into());
    }
    out.extend(args.protocol.to_args());
    out
}

/// Waits for every worker. On Ctrl-C the workers are asked to stop (they keep what they
/// measured); when one fails the others are killed and the run fails.
fn wait_all(children: &mut [Child], stop: &AtomicBool) -> Result<(), String> {
    let mut asked_to_stop = false;
    let mut done = vec![false; children.len()];
    while done.iter().any(|d| !d) {
        if stop.load(Ordering::Relaxed) && !asked_to_stop {
            asked_to_stop = true;
            stop_all(children, libc::SIGTERM);
        }
        for (index, child) in children.iter_mut().enumerate() {
            if done[index] {
                continue;
            }
            match child.try_wait() {
                Ok(Some(status)) if status.success() => done[index] = true,
                Ok(Some(status)) => {
                    stop_all(children, libc::SIGKILL);
                    return Err(format!("worker {index} failed ({status})"));
                }
                Ok(None) => {}
                Err(e) => {
                    stop_all(children, libc::SIGKILL);
                    return Err(format!("worker {index}: {e}"));
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Sends `signal` to every worker still running; after SIGKILL also reaps them.
fn stop_all(children: &mut [Child], signal: i32) {
    for child in children.iter_mut() {
        if let Ok(None) = child.try_wait() {
            // SAFETY: kill(2) on the pid of a child this process has not reaped yet.
            unsafe {
                libc::kill(child.id() as libc::pid_t, signal);
            }
        }
    }
    if signal == libc::SIGKILL {
        for child in children.iter_mut() {
            let _ = child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 20: the workers' folder was `$TMPDIR/lanebench-workers-<pid>`, used even
    /// when someone had made it in advance.
    #[test]
    fn an_existing_folder_at_the_old_name_is_not_used() {
        let old = std::env::temp_dir().join(format!("lanebench-workers-{}", std::process::id()));
        std::fs::create_dir_all(&old).unwrap();
        std::fs::write(old.join("worker-0.json"), "{}").unwrap();
        let scratch = scratch_dir().unwrap();
        assert_ne!(scratch.path(), old);
        assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0);
        let path = scratch.path().to_path_buf();
        drop(scratch);
        assert!(!path.exists(), "removed afterwards");
        std::fs::remove_dir_all(&old).unwrap();
    }
}
