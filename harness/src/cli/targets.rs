//! `lanebench targets`: list the targets with their framework, language, version, the
//! protocols they serve and whether the tools they need are installed.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::load::protocol::ProtocolName;
use crate::targets::{find_targets_dir, list_targets, DiscoveryError, Target};

use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};

/// Arguments of `lanebench targets`.
#[derive(Debug, clap::Args)]
pub struct TargetsArgs {
    /// Folder holding `<name>/target.toml` (default: found by walking up from the
    /// current directory).
    #[arg(long, value_name = "DIR")]
    pub targets_dir: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// One row of the listing.
#[derive(Debug, Serialize)]
struct TargetRow<'a> {
    name: &'a str,
    framework: &'a str,
    language: &'a str,
    version: &'a str,
    requires: &'a [String],
    /// Served protocols, as the manifest lists them.
    protocols: &'a [ProtocolName],
    /// Every other protocol with the reason it is not served (undeclared ones too).
    unsupported: BTreeMap<ProtocolName, &'a str>,
    tools_present: bool,
    missing_tool: Option<&'a str>,
    dir: String,
}

impl<'a> TargetRow<'a> {
    fn new(target: &'a Target) -> TargetRow<'a> {
        let missing_tool = target.missing_tool();
        TargetRow {
            name: &target.manifest.name,
            framework: &target.manifest.framework,
            language: &target.manifest.language,
            version: &target.manifest.version,
            requires: &target.manifest.requires,
            protocols: &target.manifest.protocols,
            unsupported: ProtocolName::ALL
                .into_iter()
                .filter_map(|p| Some((p, target.manifest.protocol_support(p).reason()?)))
                .collect(),
            tools_present: missing_tool.is_none(),
            missing_tool,
            dir: target.dir.display().to_string(),
        }
    }

    /// `h1 h2c`, and `(+1 undeclared)` when the manifest leaves protocols out.
    fn protocols_text(&self) -> String {
        let served: Vec<&str> = self.protocols.iter().map(|p| p.as_str()).collect();
        let undeclared = ProtocolName::ALL.len() - served.len() - self.declared_unsupported();
        match undeclared {
            0 => served.join(" "),
            n => format!("{} (+{n} undeclared)", served.join(" ")),
        }
    }

    fn declared_unsupported(&self) -> usize {
        let undeclared = crate::targets::manifest::UNDECLARED;
        self.unsupported
            .values()
            .filter(|r| **r != undeclared)
            .count()
    }

    fn tools_text(&self) -> String {
        match self.missing_tool {
            None => "present".to_string(),
            Some(tool) => format!("missing: {tool}"),
        }
    }
}

/// Runs `lanebench targets` and returns the exit code.
pub fn run(args: TargetsArgs) -> i32 {
    let targets = match load_targets(args.targets_dir.as_deref()) {
        Ok(targets) => targets,
        Err(err) => {
            eprintln!("error: {err}");
            return EXIT_USAGE;
        }
    };
    let rows: Vec<TargetRow> = targets.iter().map(TargetRow::new).collect();
    if args.json {
        match serde_json::to_string_pretty(&rows) {
            Ok(text) => println!("{text}"),
            Err(err) => {
                eprintln!("error: cannot encode JSON: {err}");
                return EXIT_FAILED;
            }
        }
    } else {
        print_table(&rows);
    }
    EXIT_OK
}

/// Finds the targets folder and loads every manifest in it.
pub(super) fn load_targets(
    explicit: Option<&std::path::Path>,
) -> Result<Vec<Target>, DiscoveryError> {
    let dir = find_targets_dir(explicit)?;
    list_targets(&dir)
}

fn print_table(rows: &[TargetRow]) {
    let header = [
        "NAME",
        "FRAMEWORK",
        "LANGUAGE",
        "VERSION",
        "PROTOCOLS",
        "TOOLS",
    ];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|row| {
            [
                row.name.to_string(),
                row.framework.to_string(),
                row.language.to_string(),
                row.version.to_string(),
                row.protocols_text(),
                row.tools_text(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let format_line = |cells: &[&str]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    println!("{}", format_line(&header));
    for row in &cells {
        let refs: Vec<&str> = row.iter().map(String::as_str).collect();
        println!("{}", format_line(&refs));
    }
    if rows.is_empty() {
        println!("(no targets found)");
    }
}

/// The targets named by `--targets` (all of them when none is named), in the order given.
pub(super) fn select(all: Vec<Target>, names: &[String]) -> Result<Vec<Target>, String> {
    if names.is_empty() {
        return Ok(all);
    }
    let known: Vec<&str> = all.iter().map(Target::name).collect();
    let mut chosen = Vec::new();
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        match all.iter().find(|t| t.name() == name) {
            Some(t) => chosen.push(t.clone()),
            None => {
                return Err(format!(
                    "--targets: unknown target {name:?}; known targets: {}",
                    known.join(", ")
                ))
            }
        }
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_target_names_are_refused_with_the_known_ones() {
        let err = select(Vec::new(), &["nope".to_string()]).unwrap_err();
        assert!(
            err.starts_with("--targets: unknown target \"nope\""),
            "{err}"
        );
    }
}
