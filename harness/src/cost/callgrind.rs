//! Valgrind's callgrind tool as the harness drives it: the wrapper script a target's run
//! command execs through (`$LANEBENCH_WRAP`), the monitor commands that switch counting
//! on and off, and the dump files the counts are read from.
//!
//! The monitor commands go through `vgdb` (what `callgrind_control` runs underneath)
//! with a private `--vgdb-prefix`, so that other valgrind processes on the machine are
//! never addressed and a missing process is an exit status, not a line of text.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Options every counted server runs with. Instrumentation starts off (startup and
/// warm-up are not counted); all threads are summed into one count.
const BASE_OPTIONS: [&str; 4] = [
    "--tool=callgrind",
    "--instr-atstart=no",
    "--separate-threads=no",
    "--vgdb=yes",
];

/// How long vgdb waits for the server to reach a point where it reads commands before
/// forcing it (with ptrace) out of a blocking system call; idle servers always are in one.
const MAX_INVOKE_MS: u32 = 20;

/// A problem with valgrind itself or with talking to the counted process.
#[derive(Debug, thiserror::Error)]
pub enum CallgrindError {
    /// valgrind or vgdb is not installed.
    #[error("{0} not found on PATH (install valgrind, e.g. `apt-get install valgrind`)")]
    Missing(&'static str),
    /// The scratch folder cannot hold a wrapper whose path the shell keeps as one word.
    #[error("{}: the scratch folder path contains whitespace or shell pattern characters; set TMPDIR to a plain path", .0.display())]
    UnsafePath(PathBuf),
    /// Writing the wrapper or reading a dump failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A monitor command was refused or the process was not found.
    #[error("callgrind command `{command}` to pid {pid} failed: {message} (does the target's run command start the server with `exec $LANEBENCH_WRAP ...`?)")]
    Command {
        command: String,
        pid: u32,
        message: String,
    },
    /// A dump file has no total.
    #[error("{}: no `totals:` or `summary:` line", .0.display())]
    NoTotal(PathBuf),
}

/// The installed valgrind's version line (`valgrind-3.19.0`).
pub fn valgrind_version() -> Result<String, CallgrindError> {
    for tool in ["valgrind", "vgdb"] {
        if !crate::targets::discovery::tool_on_path(tool) {
            return Err(CallgrindError::Missing(tool));
        }
    }
    let output = Command::new("valgrind")
        .arg("--version")
        .output()
        .map_err(|_| CallgrindError::Missing("valgrind"))?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// One counted server's scratch folder: the wrapper script, vgdb's FIFOs and the dumps.
/// The folder is made fresh under an unpredictable name: the wrapper in it is executed,
/// so a folder that already existed (someone else's, at a guessable name) must never be
/// used.
#[derive(Debug)]
pub struct Session {
    dir: tempfile::TempDir,
    options: Vec<String>,
    dumps: u32,
}

impl Session {
    /// Creates a new folder `<prefix>XXXXXX` in `parent` with a wrapper running its
    /// arguments under callgrind with the base options plus `extra` valgrind options.
    pub fn create(
        parent: &Path,
        prefix: &str,
        extra: &[String],
    ) -> Result<Session, CallgrindError> {
        let shown = parent.join(prefix).display().to_string();
        if shown
            .chars()
            .any(|c| c.is_whitespace() || "*?[]$'\"\\`".contains(c))
        {
            return Err(CallgrindError::UnsafePath(parent.join(prefix)));
        }
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(parent)
            .map_err(|source| CallgrindError::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        let mut options: Vec<String> = BASE_OPTIONS.iter().map(|s| s.to_string()).collect();
        options.push(format!(
            "--vgdb-prefix={}",
            dir.path().join("vgdb").display()
        ));
        options.push(format!(
            "--callgrind-out-file={}",
            dir.path().join("callgrind.out.%p").display()
        ));
        options.extend(extra.iter().cloned());
        let session = Session {
            dir,
            options,
            dumps: 0,
        };
        session.write_wrapper()?;
        Ok(session)
    }

    /// The valgrind options the server runs with (for the record).
    pub fn options(&self) -> &[String] {
        &self.options
    }

    /// The wrapper's path: the value of `$LANEBENCH_WRAP`.
    pub fn wrapper(&self) -> PathBuf {
        self.dir.path().join("wrap")
    }

    fn write_wrapper(&self) -> Result<(), CallgrindError> {
        use std::os::unix::fs::PermissionsExt;
        let quoted: Vec<String> = self.options.iter().map(|o| shell_quote(o)).collect();
        let script = format!(
            "#!/bin/sh\n# Written by lanebench cost: runs the server under callgrind.\nexec valgrind {} \"$@\"\n",
            quoted.join(" ")
        );
        let path = self.wrapper();
        let io = |source| CallgrindError::Io {
            path: path.clone(),
            source,
        };
        std::fs::write(&path, script).map_err(io)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).map_err(io)
    }

    /// Sends one callgrind monitor command (`instrumentation on`, `zero`, ...) to `pid`.
    pub fn command(&self, pid: u32, command: &str) -> Result<String, CallgrindError> {
        let output = Command::new("vgdb")
            .arg(format!(
                "--vgdb-prefix={}",
                self.dir.path().join("vgdb").display()
            ))
            .arg(format!("--pid={pid}"))
            .arg(format!("--max-invoke-ms={MAX_INVOKE_MS}"))
            .args(command.split_whitespace())
            .output()
            .map_err(|source| CallgrindError::Io {
                path: PathBuf::from("vgdb"),
                source,
            })?;
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        let failed = !output.status.success() || stdout.contains("not recognised");
        if failed {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let message = stderr
                .lines()
                .chain(stdout.lines())
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("sending command"))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(CallgrindError::Command {
                command: command.to_string(),
                pid,
                message,
            });
        }
        Ok(stdout)
    }

    /// Counts what `pid` executes during `work`: zeroes the counters, switches
    /// instrumentation on, runs `work`, switches it off, dumps, and returns the number
    /// of instructions with what `work` returned.
    pub fn count<T, E>(
        &mut self,
        pid: u32,
        work: impl FnOnce() -> Result<T, E>,
    ) -> Result<Result<(u64, T), E>, CallgrindError> {
        self.command(pid, "zero")?;
        self.command(pid, "instrumentation on")?;
        let value = match work() {
            Ok(value) => value,
            Err(e) => {
                // The work's error is the cause (a crashed server also refuses commands).
                let _ = self.command(pid, "instrumentation off");
                return Ok(Err(e));
            }
        };
        self.command(pid, "instrumentation off")?;
        self.command(pid, "dump")?;
        self.dumps += 1;
        let total = self.read_dump(pid, self.dumps)?;
        Ok(Ok((total, value)))
    }

    /// The instruction total of dump number `index` of `pid`.
    fn read_dump(&self, pid: u32, index: u32) -> Result<u64, CallgrindError> {
        let path = self.dir.path().join(format!("callgrind.out.{pid}.{index}"));
        let text = std::fs::read_to_string(&path).map_err(|source| CallgrindError::Io {
            path: path.clone(),
            source,
        })?;
        parse_total(&text).ok_or(CallgrindError::NoTotal(path))
    }

    /// The scratch folder.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Removes the scratch folder (the dumps are not kept: the counts are in the results).
    pub fn remove(self) {
        let _ = self.dir.close();
    }
}

/// The instruction count of a callgrind dump: the first number of its `totals:` line, or
/// of `summary:` in older formats.
pub fn parse_total(text: &str) -> Option<u64> {
    let line = text
        .lines()
        .find(|l| l.starts_with("totals:"))
        .or_else(|| text.lines().find(|l| l.starts_with("summary:")))?;
    line.split_once(':')?
        .1
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Quotes `text` for `sh` with single quotes.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_line_wins_over_summary_and_bad_files_have_none() {
        let dump = "version: 1\nevents: Ir\nsummary: 12\nfl=x\n0 3\ntotals: 37177714\n";
        assert_eq!(parse_total(dump), Some(37_177_714));
        assert_eq!(parse_total("events: Ir\nsummary: 754\n"), Some(754));
        assert_eq!(parse_total("events: Ir\n"), None);
        assert_eq!(parse_total("totals: many\n"), None);
    }

    /// Issue 20: the scratch folder was `$TMPDIR/<name>-<pid>`, used even when it
    /// already existed, and the wrapper in it is executed.
    #[test]
    fn a_folder_planted_at_the_old_name_is_not_used() {
        let parent = tempfile::tempdir().unwrap();
        let planted = parent
            .path()
            .join(format!("lanebench-cost-axum-{}", std::process::id()));
        std::fs::create_dir(&planted).unwrap();
        std::fs::write(planted.join("wrap"), "#!/bin/sh\necho planted\n").unwrap();
        let session = Session::create(parent.path(), "lanebench-cost-axum-", &[]).unwrap();
        assert_ne!(session.dir(), planted);
        assert!(session.wrapper().starts_with(session.dir()));
        let names: Vec<_> = std::fs::read_dir(session.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["wrap"], "a fresh folder holds only the new wrapper");
        let created = session.dir().to_path_buf();
        session.remove();
        assert!(!created.exists());
        assert_eq!(
            std::fs::read_to_string(planted.join("wrap")).unwrap(),
            "#!/bin/sh\necho planted\n"
        );
    }

    #[test]
    fn wrapper_quotes_every_option_and_passes_the_command_through() {
        let parent = tempfile::tempdir().unwrap();
        let session = Session::create(
            parent.path(),
            "cg-test-",
            &["--fair-sched=yes".into(), "it's".into()],
        )
        .unwrap();
        let root = session.dir().to_path_buf();
        let script = std::fs::read_to_string(session.wrapper()).unwrap();
        assert!(script.contains("'--instr-atstart=no'"), "{script}");
        assert!(
            script.contains("'--fair-sched=yes' 'it'\\''s' \"$@\""),
            "{script}"
        );
        session.remove();
        assert!(!root.exists());
        let bad = parent.path().join("has space");
        assert!(matches!(
            Session::create(&bad, "x-", &[]),
            Err(CallgrindError::UnsafePath(_))
        ));
    }
}
