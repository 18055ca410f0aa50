//! Finding a test's own processes: every process a test starts (lanebench, and through
//! it the targets, the proxy and the order service) carries one environment entry, the
//! test's mark, so that the test can find them, kill one, and see that none is left.

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
