//! The `target.toml` manifest: its schema, parsing and validation.
//!
//! A manifest describes how to build and run one server implementation. Parsing is
//! strict (unknown keys are errors) so a typo never silently changes what is measured,
//! and every error names the file, the line when known, and the problem.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use super::colour::Colour;
use crate::load::protocol::ProtocolName;

/// How long a target may take to answer its health check when the manifest is silent.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(60);

/// One parsed `targets/<name>/target.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Folder name of the target; unique across targets.
    pub name: String,
    /// Display name of the framework.
    pub framework: String,
    /// Implementation language.
    pub language: String,
    /// Framework version actually built.
    pub version: String,
    /// Tools that must be on PATH to build and run the target.
    #[serde(default)]
    pub requires: Vec<String>,
    /// Shell command building the target (cwd = target folder).
    pub build: String,
    /// Shell command running the server in the foreground (cwd = target folder).
    pub run: String,
    /// Path of the health endpoint, e.g. `/health`.
    pub health: String,
    /// Optional shell command printing the runtime's version.
    #[serde(default)]
    pub runtime_version: Option<String>,
    /// How long startup may take before the target counts as failed.
    #[serde(
        default = "default_ready_timeout",
        deserialize_with = "deserialize_duration",
        serialize_with = "serialize_duration"
    )]
    pub ready_timeout: Duration,
    /// Free-form notes on how the target runs (production mode, workers, ...).
    #[serde(default)]
    pub notes: String,
    /// The target's colour in every chart; without one, reports pick a colour from the
    /// name, which may be another target's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colour: Option<Colour>,
    /// How `lanebench cost` counts this target's instructions (the `[cost]` table).
    #[serde(default, skip_serializing_if = "CostManifest::is_default")]
    pub cost: CostManifest,
    /// The protocols the target serves natively (CONTRACT.md, "Protocols"): always
    /// `h1`, which is all a manifest without the key serves.
    #[serde(
        default = "default_protocols",
        deserialize_with = "deserialize_protocols"
    )]
    pub protocols: Vec<ProtocolName>,
    /// Why each protocol the target does not serve is not served (the `[unsupported]`
    /// table: protocol name = reason).
    #[serde(
        default,
        deserialize_with = "deserialize_unsupported",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub unsupported: BTreeMap<ProtocolName, String>,
}

/// What a manifest says of one protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support<'a> {
    /// Listed in `protocols`.
    Served,
    /// In the `[unsupported]` table, with its reason.
    Unsupported(&'a str),
    /// In neither: reported as unsupported, because it was not declared.
    Undeclared,
}

impl<'a> Support<'a> {
    /// Why a protocol is not served, as a run reports it (`None` when it is served).
    pub fn reason(self) -> Option<&'a str> {
        match self {
            Support::Served => None,
            Support::Unsupported(reason) => Some(reason),
            Support::Undeclared => Some(UNDECLARED),
        }
    }
}

/// The reason given for a protocol a manifest does not mention.
pub const UNDECLARED: &str = "not declared in target.toml";

/// The environment variable a `run` command puts after `exec` (unquoted) so that a
/// measuring tool can run the server: `exec $LANEBENCH_WRAP ./server`. It is empty
/// (or unset) in a normal run; `lanebench cost` sets it to one path, a wrapper script.
pub const WRAP_VARIABLE: &str = "LANEBENCH_WRAP";

/// The `[cost]` table: what counting instructions under callgrind needs for one target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CostManifest {
    /// Why this target's instructions cannot be counted deterministically (a JIT, ...);
    /// `lanebench cost` then reports `unsupported: <reason>` instead of counting.
    #[serde(default)]
    pub unsupported: Option<String>,
    /// Extra environment for the counted server only (e.g. a runtime setting that
    /// valgrind needs), on top of `PORT` and `WORKERS`.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Extra valgrind options for this target (e.g. `--fair-sched=yes`).
    #[serde(default)]
    pub valgrind_args: Vec<String>,
    /// The smallest change of this target's counts that `compare` may flag (`"3%"`), for
    /// a runtime whose counts vary between runs by more than the default 1 % allows.
    #[serde(default)]
    pub threshold: Option<String>,
}

impl CostManifest {
    fn is_default(&self) -> bool {
        self == &CostManifest::default()
    }

    /// `threshold` as a fraction (0.03 for `"3%"`); `None` when absent or invalid.
    pub fn threshold_fraction(&self) -> Option<f64> {
        let text = self.threshold.as_deref()?.trim();
        let number: f64 = text.strip_suffix('%')?.trim().parse().ok()?;
        (number.is_finite() && number > 0.0 && number < 100.0).then_some(number / 100.0)
    }
}

impl Manifest {
    /// Whether the target serves `protocol`, or why not.
    pub fn protocol_support(&self, protocol: ProtocolName) -> Support<'_> {
        if self.protocols.contains(&protocol) {
            Support::Served
        } else if let Some(reason) = self.unsupported.get(&protocol) {
            Support::Unsupported(reason)
        } else {
            Support::Undeclared
        }
    }

    /// Whether the `run` command starts the server through [`WRAP_VARIABLE`].
    pub fn honours_wrap(&self) -> bool {
        self.run.contains(&format!("${WRAP_VARIABLE}"))
            || self.run.contains(&format!("${{{WRAP_VARIABLE}}}"))
    }
}

/// A manifest that could not be read or is invalid.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The manifest file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The file is not a valid manifest.
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        /// The manifest file.
        path: PathBuf,
        /// 1-based line of the problem, when it can be located.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
}

impl ManifestError {
    /// The manifest file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ManifestError::Read { path, .. } | ManifestError::Invalid { path, .. } => path,
        }
    }
}

impl Manifest {
    /// Reads and validates the manifest at `path`.
    pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
        let text = crate::load::bounds::read_text(path).map_err(|source| ManifestError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Manifest::parse(&text, path)
    }

    /// Parses and validates manifest `text`; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Manifest, ManifestError> {
        let manifest: Manifest = toml::from_str(text).map_err(|err| {
            let located = crate::toml_error::locate(&err, text);
            ManifestError::Invalid {
                path: path.to_path_buf(),
                line: located.position.map(|(line, _)| line),
                message: match located.position {
                    Some((_, column)) => format!("{} (column {column})", located.message),
                    None => located.message,
                },
            }
        })?;
        manifest
            .validate()
            .map_err(|(key, message)| ManifestError::Invalid {
                path: path.to_path_buf(),
                line: line_of_key(text, key),
                message,
            })?;
        Ok(manifest)
    }

    /// Checks what serde cannot: non-empty commands, an absolute health path, tool names.
    fn validate(&self) -> Result<(), (&'static str, String)> {
        let required = [
            ("name", &self.name),
            ("framework", &self.framework),
            ("language", &self.language),
            ("version", &self.version),
            ("build", &self.build),
            ("run", &self.run),
        ];
        for (key, value) in required {
            if value.trim().is_empty() {
                return Err((key, format!("`{key}` must not be empty")));
            }
        }
        if !self.health.starts_with('/') {
            return Err((
                "health",
                format!(
                    "`health` must be a path starting with '/', got {:?}",
                    self.health
                ),
            ));
        }
        if let Some(bad) = self.requires.iter().find(|tool| tool.trim().is_empty()) {
            return Err((
                "requires",
                format!("`requires` contains an empty tool name {bad:?}"),
            ));
        }
        if let Some(reason) = &self.cost.unsupported {
            if reason.trim().is_empty() {
                return Err((
                    "unsupported",
                    "`cost.unsupported` must give a reason".into(),
                ));
            }
        }
        if let Some(bad) = self.cost.env.keys().find(|k| !is_env_name(k)) {
            return Err((
                "env",
                format!("`cost.env`: {bad:?} is not a valid environment variable name"),
            ));
        }
        if self.cost.threshold.is_some() && self.cost.threshold_fraction().is_none() {
            return Err((
                "threshold",
                format!(
                    "`cost.threshold` must be a percentage between 0% and 100% such as \"3%\", got {:?}",
                    self.cost.threshold.as_deref().unwrap_or_default()
                ),
            ));
        }
        self.validate_protocols()?;
        if self.ready_timeout.is_zero() {
            return Err((
                "ready_timeout",
                "`ready_timeout` must be greater than zero".into(),
            ));
        }
        Ok(())
    }
}

impl Manifest {
    /// `h1` served, nothing listed twice, nothing both served and unsupported, and a
    /// reason for every unsupported protocol.
    fn validate_protocols(&self) -> Result<(), (&'static str, String)> {
        if !self.protocols.contains(&ProtocolName::H1) {
            return Err((
                "protocols",
                "`protocols` must list \"h1\": every target serves HTTP/1.1".into(),
            ));
        }
        for (i, p) in self.protocols.iter().enumerate() {
            if self.protocols[..i].contains(p) {
                return Err(("protocols", format!("`protocols` lists \"{p}\" twice")));
            }
        }
        if let Some(p) = self
            .protocols
            .iter()
            .find(|p| self.unsupported.contains_key(p))
        {
            return Err((
                "protocols",
                format!("\"{p}\" is both in `protocols` and in `[unsupported]`"),
            ));
        }
        if let Some((p, _)) = self.unsupported.iter().find(|(_, r)| r.trim().is_empty()) {
            return Err((
                "[unsupported]",
                format!("`[unsupported]`: \"{p}\" must give a reason"),
            ));
        }
        Ok(())
    }
}

fn default_protocols() -> Vec<ProtocolName> {
    vec![ProtocolName::H1]
}

/// Protocol names by the contract's spelling, refused with the contract's list.
fn deserialize_protocols<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<ProtocolName>, D::Error> {
    Vec::<String>::deserialize(deserializer)?
        .iter()
        .map(|name| name.parse().map_err(serde::de::Error::custom))
        .collect()
}

fn deserialize_unsupported<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<ProtocolName, String>, D::Error> {
    BTreeMap::<String, String>::deserialize(deserializer)?
        .into_iter()
        .map(|(name, reason)| {
            let name = name
                .parse()
                .map_err(|e| serde::de::Error::custom(format!("[unsupported]: {e}")))?;
            Ok((name, reason))
        })
        .collect()
}

fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn default_ready_timeout() -> Duration {
    DEFAULT_READY_TIMEOUT
}

fn deserialize_duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    let parsed = humantime::parse_duration(&text).map_err(|err| {
        serde::de::Error::custom(format!(
            "invalid duration {text:?}: {err} (expected e.g. \"60s\" or \"500ms\")"
        ))
    })?;
    crate::load::bounds::check_duration(parsed, &text)
        .map_err(|e| serde::de::Error::custom(format!("invalid duration: {e}")))
}

fn serialize_duration<S: serde::Serializer>(
    value: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&humantime::format_duration(*value).to_string())
}

/// Line on which top-level `key` is assigned, for errors found after deserializing.
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    // A table is located by its header line.
    if key.starts_with('[') {
        return text
            .lines()
            .position(|line| line.trim() == key)
            .map(|index| index + 1);
    }
    text.lines()
        .position(|line| {
            line.trim_start()
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|index| index + 1)
}
