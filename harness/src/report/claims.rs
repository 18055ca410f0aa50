//! The published comparison (`targets/published-claims.toml`): the figures, the setup
//! they were measured with, and their ranges in the report's units. Judging a run
//! against them is `verdicts`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The claims file shipped with the repository, used when none is found on disk.
const EMBEDDED_CLAIMS: &str = include_str!("../../../targets/published-claims.toml");

/// Default relative tolerance when comparing a measured QPS ratio to the published one.
const DEFAULT_RATIO_TOLERANCE: f64 = 0.25;
/// The published load's connections when the file does not say.
const DEFAULT_CONNECTIONS: usize = 360;

/// Why a claims file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ClaimsError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// The whole published comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishedClaims {
    /// Where the figures come from and how they were measured.
    pub source: String,
    /// A measured QPS ratio "holds" when within this relative distance of the published one.
    pub qps_ratio_tolerance: f64,
    /// Connections of the published load (`wrk -c360`): only a level at this
    /// concurrency can hold a claim.
    pub connections: usize,
    /// The target the published QPS ratios are relative to, and the reference reports
    /// use when none is chosen (`--reference`): the file's `reference`, else the target
    /// of its first claim.
    pub reference: String,
    pub claims: Vec<Claim>,
}

/// One row of the published table.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub framework: String,
    pub target: String,
    pub closer_match: Option<String>,
    pub qps: f64,
    pub memory: ClaimRange,
    pub startup: ClaimRange,
    pub cold_start: ClaimRange,
    pub note: Option<String>,
}

/// A published range such as "10-20MB" or "< 1s", in the report's units (MiB or ms).
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimRange {
    /// As published.
    pub text: String,
    /// Lower bound; 0 for "< x".
    pub low: f64,
    pub high: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimsFile {
    source: String,
    qps_ratio_tolerance: Option<f64>,
    connections: Option<usize>,
    reference: Option<String>,
    claim: Vec<ClaimEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimEntry {
    framework: String,
    target: String,
    closer_match: Option<String>,
    qps: f64,
    memory: String,
    startup: String,
    cold_start: String,
    note: Option<String>,
}

impl PublishedClaims {
    /// Reads a claims file.
    pub fn load(path: &Path) -> Result<PublishedClaims, ClaimsError> {
        let shown = path.display().to_string();
        let text = crate::load::bounds::read_text(path).map_err(|source| ClaimsError::Read {
            path: shown.clone(),
            source,
        })?;
        PublishedClaims::parse(&text).map_err(|message| ClaimsError::Invalid {
            path: shown,
            message,
        })
    }

    /// The copy of `targets/published-claims.toml` built into the binary.
    pub fn embedded() -> PublishedClaims {
        PublishedClaims::parse(EMBEDDED_CLAIMS).expect("the shipped claims file is valid")
    }

    /// `targets/published-claims.toml` found by walking up from `start` to the
    /// repository root, if any.
    pub fn find_from(start: &Path) -> Option<PathBuf> {
        crate::targets::discovery::repository_ancestors(start)
            .into_iter()
            .map(|dir| dir.join("targets").join("published-claims.toml"))
            .find(|p| p.is_file())
    }

    /// Parses the TOML text; the error says which claim and field are wrong.
    pub fn parse(text: &str) -> Result<PublishedClaims, String> {
        let file: ClaimsFile =
            toml::from_str(text).map_err(|e| crate::toml_error::locate(&e, text).describe())?;
        let mut claims = Vec::new();
        for entry in file.claim {
            let range = |field: &str, text: &str, kind: RangeKind| {
                parse_range(text, kind)
                    .map_err(|e| format!("claim {:?}: {field} {text:?}: {e}", entry.framework))
            };
            claims.push(Claim {
                memory: range("memory", &entry.memory, RangeKind::Memory)?,
                startup: range("startup", &entry.startup, RangeKind::Time)?,
                cold_start: range("cold_start", &entry.cold_start, RangeKind::Time)?,
                framework: entry.framework,
                target: entry.target,
                closer_match: entry.closer_match,
                qps: entry.qps,
                note: entry.note,
            });
        }
        let reference = match (file.reference, claims.first()) {
            (Some(reference), _) => reference,
            (None, Some(first)) => first.target.clone(),
            (None, None) => return Err("no claim".to_string()),
        };
        if !claims.iter().any(|c| c.target == reference) {
            return Err(format!("no claim for the reference target {reference:?}"));
        }
        Ok(PublishedClaims {
            source: file.source,
            qps_ratio_tolerance: file.qps_ratio_tolerance.unwrap_or(DEFAULT_RATIO_TOLERANCE),
            connections: file.connections.unwrap_or(DEFAULT_CONNECTIONS),
            reference,
            claims,
        })
    }

    /// The published QPS of the reference.
    pub fn reference_qps(&self) -> f64 {
        self.claims
            .iter()
            .find(|c| c.target == self.reference)
            .map_or(0.0, |c| c.qps)
    }

    /// A claim's published QPS divided by the reference's published QPS.
    pub fn published_ratio(&self, claim: &Claim) -> f64 {
        claim.qps / self.reference_qps()
    }
}

#[derive(Clone, Copy)]
enum RangeKind {
    Memory,
    Time,
}

/// Parses "A-B<unit>" or "< B<unit>" into MiB (memory: MB) or ms (time: ms, s).
fn parse_range(text: &str, kind: RangeKind) -> Result<ClaimRange, String> {
    let trimmed = text.trim();
    let (upper_only, rest) = match trimmed.strip_prefix('<') {
        Some(rest) => (true, rest.trim()),
        None => (false, trimmed),
    };
    let split = rest
        .find(|c: char| c.is_ascii_alphabetic())
        .ok_or("missing unit")?;
    let (numbers, unit) = rest.split_at(split);
    let scale = match (kind, unit.trim()) {
        (RangeKind::Memory, "MB") => 1e6 / 1_048_576.0,
        (RangeKind::Time, "ms") => 1.0,
        (RangeKind::Time, "s") => 1000.0,
        (_, other) => return Err(format!("unknown unit {other:?}")),
    };
    let number = |s: &str| {
        s.trim()
            .parse::<f64>()
            .map_err(|_| format!("{:?} is not a number", s.trim()))
    };
    let (low, high) = if upper_only {
        (0.0, number(numbers)?)
    } else {
        let (a, b) = numbers.split_once('-').ok_or("expected A-B or < B")?;
        (number(a)?, number(b)?)
    };
    if low > high {
        return Err("the lower bound is above the upper bound".to_string());
    }
    Ok(ClaimRange {
        text: trimmed.to_string(),
        low: low * scale,
        high: high * scale,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_with_units() {
        let r = parse_range("< 1s", RangeKind::Time).unwrap();
        assert_eq!((r.low, r.high), (0.0, 1000.0));
        let r = parse_range("30-60s", RangeKind::Time).unwrap();
        assert_eq!((r.low, r.high), (30_000.0, 60_000.0));
        let r = parse_range("< 100ms", RangeKind::Time).unwrap();
        assert_eq!(r.high, 100.0);
        let r = parse_range("10-20MB", RangeKind::Memory).unwrap();
        assert!((r.high - 19.073).abs() < 0.01);
        assert!(parse_range("10-20GB", RangeKind::Memory).is_err());
        assert!(parse_range("20-10ms", RangeKind::Time).is_err());
        assert!(parse_range("fast", RangeKind::Time).is_err());
    }

    #[test]
    fn shipped_claims_have_the_five_published_rows() {
        let claims = PublishedClaims::embedded();
        let targets: Vec<&str> = claims.claims.iter().map(|c| c.target.as_str()).collect();
        assert_eq!(
            targets,
            ["hyperlane", "spring-boot", "express", "fastapi", "gin"]
        );
        assert_eq!(claims.claims[0].qps, 324_000.0);
        assert_eq!(claims.reference, claims.claims[0].target);
    }

    #[test]
    fn the_reference_needs_a_claim() {
        let file = |reference: &str| {
            format!(
                "source = \"s\"\n{reference}\n[[claim]]\nframework = \"A\"\ntarget = \"a\"\nqps = 10\nmemory = \"1-2MB\"\nstartup = \"< 1s\"\ncold_start = \"< 1s\"\n"
            )
        };
        assert_eq!(PublishedClaims::parse(&file("")).unwrap().reference, "a");
        let e = PublishedClaims::parse(&file("reference = \"b\"")).unwrap_err();
        assert!(e.contains("no claim for the reference target \"b\""), "{e}");
    }
}
