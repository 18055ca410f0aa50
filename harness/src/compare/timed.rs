//! The timed figures of a comparison: per level (throughput, latencies, error rate, CPU
//! per request) and per target (memory, startup, cold start), matched by target name and
//! level. A level that did not cleanly measure the server is shown, not judged; with
//! `--reference` the machine-dependent figures are ratios ([`super::reference`]).

use super::samples::{LevelKey, Side};
use super::{Figure, Found, Missing, Row, Thresholds, Verdict};

/// The timed figures of every target and level both sides ran.
pub(super) fn rows(
    baseline: &Side,
    candidate: &Side,
    thresholds: &Thresholds,
    reference: Option<&str>,
) -> Found {
    let timed = Timed {
        baseline,
        candidate,
        thresholds,
        reference,
    };
    let mut found = Found::default();
    let candidate_targets = candidate.target_names();
    for name in baseline.target_names() {
        if !candidate_targets.contains(&name) {
            if candidate.failed(&name) {
                found.failed_in_candidate.push(name.clone());
            } else {
                found.missing.push(Missing::target(&name));
            }
            continue;
        }
        let candidate_levels = candidate.level_keys(&name);
        for key in baseline.level_keys(&name) {
            // A level listed without a single repeat measured nothing.
            let measured = |side: &Side| {
                !side
                    .level_samples(&name, &key, Figure::Qps)
                    .values
                    .is_empty()
            };
            if !candidate_levels.contains(&key) || (measured(baseline) && !measured(candidate)) {
                found.missing.push(Missing::level(&name, key.label()));
                continue;
            }
            found.extend(timed.level_rows(&name, &key));
        }
        found.extend(timed.target_rows(&name));
    }
    let baseline_targets = baseline.target_names();
    for name in candidate_targets {
        if !baseline_targets.contains(&name) {
            found.notes.push(format!("{name}: only in the candidate"));
        }
    }
    found
}

/// The two sides of the timed figures and how they are judged.
struct Timed<'a> {
    baseline: &'a Side,
    candidate: &'a Side,
    thresholds: &'a Thresholds,
    reference: Option<&'a str>,
}

impl Timed<'_> {
    /// The reference `figure` of target `name` is a ratio to, if any: none for the
    /// reference itself and for the figures that stay absolute.
    fn ratio_to(&self, name: &str, figure: Figure) -> Option<&str> {
        self.reference
            .filter(|r| *r != name && figure.scales_with_machine())
    }

    /// Marks a decided row: the ratio's unit, or the reference's own figure.
    fn label(&self, row: &mut Row) {
        match self.ratio_to(&row.target, row.figure) {
            Some(reference) => row.unit = format!("x {reference}"),
            None if self.reference == Some(row.target.as_str())
                && row.figure.scales_with_machine() =>
            {
                row.verdict = Verdict::Reference;
            }
            None => {}
        }
    }

    /// The sides on which the reference did not measure level `key` (none without a
    /// reference).
    fn reference_lacks(&self, key: &LevelKey) -> Vec<&'static str> {
        let Some(reference) = self.reference else {
            return Vec::new();
        };
        [("baseline", self.baseline), ("candidate", self.candidate)]
            .into_iter()
            .filter(|(_, side)| !side.reference_has_level(reference, key))
            .map(|(which, _)| which)
            .collect()
    }

    /// The per-level figures of target `name` at `key`.
    fn level_rows(&self, name: &str, key: &LevelKey) -> Found {
        let mut found = Found::default();
        // The reference's caveats at the level spoil the ratios taken to it.
        let names = [Some(name), self.reference.filter(|r| *r != name)];
        let caveats = [("baseline", self.baseline), ("candidate", self.candidate)]
            .into_iter()
            .flat_map(|(which, side)| {
                names.into_iter().flatten().filter_map(move |n| {
                    let caveat = side.level_caveats(n, key)?;
                    Some(if n == name {
                        format!("{which}: {caveat}")
                    } else {
                        format!("{which}: reference {n}: {caveat}")
                    })
                })
            })
            .collect::<Vec<_>>();
        let lacks = self.reference_lacks(key);
        for figure in Figure::per_level() {
            // A chain's figure the baseline does not have is no row at all, not missing.
            if figure.only_when_present()
                && self
                    .baseline
                    .level_samples(name, key, figure)
                    .values
                    .is_empty()
            {
                continue;
            }
            let level = Some(key.label());
            let (base, cand) = match self.ratio_to(name, figure) {
                Some(_) if !lacks.is_empty() => {
                    found.missing.push(Missing::figure(name, level, figure));
                    continue;
                }
                Some(reference) => (
                    self.baseline
                        .level_ratio_samples(name, reference, key, figure),
                    self.candidate
                        .level_ratio_samples(name, reference, key, figure),
                ),
                None => (
                    self.baseline.level_samples(name, key, figure),
                    self.candidate.level_samples(name, key, figure),
                ),
            };
            let row = found.decide_or_missing(name, level, figure, &base, &cand, self.thresholds);
            if let Some(row) = row {
                // A level that did not cleanly measure the server is shown, not judged.
                if !caveats.is_empty() {
                    row.verdict = Verdict::NotComparable;
                }
                self.label(row);
            }
        }
        if let Some(reference) = self.reference.filter(|r| *r != name && !lacks.is_empty()) {
            found.notes.push(format!(
                "{name}/{}: no ratios to {reference}, which did not measure this level in the {}",
                key.label(),
                lacks.join(" and the ")
            ));
        }
        if !caveats.is_empty() {
            found.notes.push(format!(
                "{name}/{}: not judged, the level did not cleanly measure the server ({})",
                key.label(),
                caveats.join("; ")
            ));
        }
        found
    }

    /// The target-wide figures of target `name`.
    fn target_rows(&self, name: &str) -> Found {
        let mut found = Found::default();
        for figure in Figure::per_target() {
            let (base, cand) = match self.ratio_to(name, figure) {
                Some(reference) => (
                    self.baseline.target_ratio_samples(name, reference, figure),
                    self.candidate.target_ratio_samples(name, reference, figure),
                ),
                None => (
                    self.baseline.target_samples(name, figure),
                    self.candidate.target_samples(name, figure),
                ),
            };
            let row = found.decide_or_missing(name, None, figure, &base, &cand, self.thresholds);
            if let Some(row) = row {
                self.label(row);
            }
        }
        found
    }
}
