//! From what the sessions measured to a target's result: each level's repeats pooled
//! (over rounds too) into spreads, its saturation verdict and noise flag, the headline
//! from the usable levels, the time to steady state, and the target's status.

use super::launches::LaunchFigures;
use super::noise::{caveats, largest_per_side, summarize, Judged};
use super::outcome::SessionOutcome;
use super::saturation::{judge_saturation, ComponentLoad, SaturationInputs};
use super::steady::time_to_steady;
use super::RunSettings;
use crate::results::caveat::{Caveat, Side, SideNoise};
use crate::results::chain::ChainLevel;
use crate::results::{
    ComponentFigures, ComponentUtilisation, LevelResult, RepeatResult, Saturation, TargetResult,
    TargetStatus,
};
use crate::stats::{median, Spread};

/// `base` (the manifest facts, status and failure so far) completed with the launches
/// and sessions of a target.
pub fn complete(
    base: TargetResult,
    launches: LaunchFigures,
    sessions: &[SessionOutcome],
    settings: &RunSettings,
) -> TargetResult {
    let mut result = base;
    result.startup_ms = launches.startup;
    result.cold_start_ms = launches.cold_start;
    result.first_request_ms = launches.first_request;
    result.startup_launches_ms = launches.startup_launches;
    result.startup_notes = launches.notes;
    result.sessions = sessions.len();
    let records: Vec<_> = sessions.iter().filter_map(|s| s.memory.clone()).collect();
    result.memory_mb = super::memory::memory_figures(&records);
    result.components = component_figures(sessions);
    result.levels = pooled_levels(sessions, settings, &result.components);
    result.warmup_curve = sessions.iter().find_map(|s| s.curve.clone());
    result.time_to_steady_ms = result.warmup_curve.as_ref().and_then(|curve| {
        let first_level = result.levels.first()?;
        let at = time_to_steady(&curve.per_second, first_level.success_rps.median)?;
        // Load started after the idle-memory pause; a deployment's first request would
        // not wait for it, so it is not counted.
        Some(curve.ready_ms + at as f64 * 1000.0)
    });
    if let Some(headline) = headline(&result.levels) {
        result.qps = Some(headline.qps);
        result.qps_connections = Some(headline.connections);
        result.qps_caveat = headline.caveat;
    }
    if result.status == TargetStatus::Ok && !result.levels.is_empty() && result.qps.is_none() {
        result.status = TargetStatus::Failed;
        result.reason = Some(format!(
            "no usable level: every level's median error rate was above max_error_rate {}%",
            settings.scenario.max_error_rate * 100.0
        ));
    }
    result
}

/// Every component the sessions ran beside the service, in the order first seen, with
/// its memory over all of them.
fn component_figures(sessions: &[SessionOutcome]) -> Vec<ComponentFigures> {
    let mut figures: Vec<ComponentFigures> = Vec::new();
    for seen in sessions.iter().flat_map(|s| &s.components) {
        if figures.iter().any(|f| f.name == seen.name) {
            continue;
        }
        let records: Vec<_> = sessions
            .iter()
            .flat_map(|s| &s.components)
            .filter(|c| c.name == seen.name)
            .filter_map(|c| c.record.clone())
            .collect();
        figures.push(ComponentFigures {
            name: seen.name.clone(),
            role: seen.role,
            cpus: seen.cpus.clone(),
            memory_mb: super::memory::memory_figures(&records),
        });
    }
    figures
}

/// Levels in ladder order, each with the repeats of every session.
fn pooled_levels(
    sessions: &[SessionOutcome],
    settings: &RunSettings,
    components: &[ComponentFigures],
) -> Vec<LevelResult> {
    let mut levels = Vec::new();
    for &connections in &settings.scenario.connections {
        let repeats: Vec<RepeatResult> = sessions
            .iter()
            .flat_map(|s| s.levels.iter().filter(|l| l.connections == connections))
            .flat_map(|l| l.repeats.iter().cloned())
            .collect();
        let baseline = sessions
            .iter()
            .flat_map(|s| s.levels.iter().filter(|l| l.connections == connections))
            .find_map(|l| l.baseline.clone());
        if !repeats.is_empty() {
            let mut level = summarize_level(connections, repeats, settings, components);
            if settings.scenario.chain.is_some() {
                let expected = super::chain::expected_downstream_share(&settings.scenario);
                let chain = ChainLevel::of(&level.repeats, baseline.as_ref(), components, expected);
                level.chain = Some(chain);
                level.baseline = baseline.map(Box::new);
            }
            levels.push(level);
        }
    }
    levels
}

fn summarize_level(
    connections: usize,
    repeats: Vec<RepeatResult>,
    settings: &RunSettings,
    components: &[ComponentFigures],
) -> LevelResult {
    let pick = |f: &dyn Fn(&RepeatResult) -> f64| -> Spread {
        let values: Vec<f64> = repeats.iter().map(f).collect();
        Spread::of(&values).expect("a level has at least one repeat")
    };
    let judged = judge_repeats(&repeats, settings, components);
    let noises: Vec<_> = repeats.iter().filter_map(|r| r.noise).collect();
    let largest =
        |f: fn(&crate::sample::cpustat::Noise) -> f64| noises.iter().map(f).reduce(f64::max);
    let warmups: Vec<f64> = repeats
        .iter()
        .filter(|r| r.warmup_s > 0.0)
        .map(|r| r.warmup_s)
        .collect();
    let steadies: Vec<bool> = repeats.iter().filter_map(|r| r.steady).collect();
    let per_success: Vec<f64> = repeats
        .iter()
        .filter_map(RepeatResult::cpu_us_per_success)
        .collect();
    let error_rate = pick(&|r| r.load.error_rate);
    LevelResult {
        connections,
        rate: settings.scenario.rate,
        rps: pick(&|r| r.load.rps),
        success_rps: pick(&|r| r.load.success_rps),
        p50_ms: pick(&|r| r.load.latency_ms.p50),
        p90_ms: pick(&|r| r.load.latency_ms.p90),
        p99_ms: pick(&|r| r.load.latency_ms.p99),
        p999_ms: pick(&|r| r.load.latency_ms.p999),
        usable: error_rate.median <= settings.scenario.max_error_rate,
        error_rate,
        server_cpu_utilisation: judged.server,
        generator_cpu_utilisation: judged.generator,
        generator_bound: judged.saturation == Saturation::Generator,
        saturation: judged.saturation.clone(),
        steady: (!steadies.is_empty()).then(|| steadies.iter().all(|s| *s)),
        warmup_s: Spread::of(&warmups).unwrap_or_else(Spread::zero),
        steal: largest(|n| n.steal),
        foreign_cpu: largest(|n| n.foreign),
        noisy: judged.noise.iter().any(SideNoise::is_noisy),
        noise_by_side: judged.noise,
        caveats: judged.caveats,
        retried: repeats.iter().map(|r| r.set_aside.len()).sum(),
        server_cpu_us_per_success: median(&per_success),
        components: judged.components,
        repeats,
        chain: None,
        baseline: None,
    }
}

/// The verdicts over some repeats of one level (all of them, or one attempt).
#[derive(Debug, Clone)]
pub struct JudgedRepeats {
    pub saturation: Saturation,
    /// Server and generator CPU utilisation, medians over the repeats.
    pub server: f64,
    pub generator: f64,
    /// The share of its CPUs each pinned component used, medians over the repeats.
    pub components: Vec<ComponentUtilisation>,
    /// Largest steal and foreign CPU per side.
    pub noise: Vec<SideNoise>,
    pub caveats: Vec<Caveat>,
}

/// Saturation, utilisations, noise and caveats of `repeats` (at least one), beside
/// `components` (the system's components, whose CPUs their shares are of).
pub fn judge_repeats(
    repeats: &[RepeatResult],
    settings: &RunSettings,
    components: &[ComponentFigures],
) -> JudgedRepeats {
    let server_cpus = settings.server_cpus.len().max(1) as f64;
    let utilisation = |f: &dyn Fn(&RepeatResult) -> f64| {
        median(&repeats.iter().map(f).collect::<Vec<_>>()).unwrap_or(0.0)
    };
    let server = utilisation(&|r| r.server_cpu_s / (r.load.duration_s * server_cpus));
    let generator = utilisation(&|r| r.load.generator.utilisation);
    let schedules = || repeats.iter().filter_map(|r| r.load.schedule.as_ref());
    let loads = component_loads(repeats, settings, components);
    let saturation = judge_saturation(&SaturationInputs {
        server,
        generator,
        shared: settings.server_cpus == settings.generator_cpus,
        send_lag_over: schedules().any(|s| s.lag_ms.p99 > s.max_send_lag_ms),
        unsent: schedules().any(|s| s.unsent > 0),
        components: loads.clone(),
    });
    let readings: Vec<SideNoise> = repeats.iter().flat_map(repeat_noise).collect();
    let noise = largest_per_side(&readings);
    // A level's repeats share its warm-up; only the first of them carries its length.
    let warmed = repeats.iter().map(|r| r.warmup_s).fold(0.0, f64::max);
    let unsteady = repeats.iter().any(|r| r.steady == Some(false));
    let climbing = repeats.iter().any(|r| r.still_climbing);
    let caveats = caveats(Judged {
        saturation: saturation.clone(),
        open_loop: settings.scenario.rate.is_some(),
        server_cpu_utilisation: server,
        generator_cpu_utilisation: generator,
        noise: &noise,
        unsteady_after: unsteady.then_some((warmed, climbing)),
    });
    JudgedRepeats {
        saturation,
        server,
        generator,
        components: loads
            .into_iter()
            .map(|load| ComponentUtilisation {
                name: load.name,
                cpu_utilisation: load.utilisation,
            })
            .collect(),
        noise,
        caveats,
    }
}

/// A repeat's noise by side; results written before every side was read have the
/// server's only.
fn repeat_noise(r: &RepeatResult) -> Vec<SideNoise> {
    if r.noise_by_side.is_empty() {
        r.noise
            .map(|n| SideNoise::of(Side::Server, n))
            .into_iter()
            .collect()
    } else {
        r.noise_by_side.clone()
    }
}

/// The CPU share of every component lanebench pinned, over the repeats that read its
/// CPU time: its time / (duration x its CPUs), median over them.
fn component_loads(
    repeats: &[RepeatResult],
    settings: &RunSettings,
    components: &[ComponentFigures],
) -> Vec<ComponentLoad> {
    let server_cpus = settings.server_cpus.cpus();
    components
        .iter()
        .filter(|c| !c.cpus.is_empty())
        .filter_map(|c| {
            let n = c.cpus.len() as f64;
            let values: Vec<f64> = repeats
                .iter()
                .filter_map(|r| {
                    let time = r.components.iter().find(|t| t.name == c.name)?;
                    Some(time.cpu_s / (r.load.duration_s * n))
                })
                .collect();
            Some(ComponentLoad {
                name: c.name.clone(),
                role: c.role,
                utilisation: median(&values)?,
                shares_server: c.cpus.iter().any(|cpu| server_cpus.contains(cpu)),
            })
        })
        .collect()
}

/// A target's headline figure and where it comes from.
#[derive(Debug, Clone, PartialEq)]
struct Headline {
    qps: f64,
    connections: usize,
    /// Why the figure is not plain (it comes from a level with caveats).
    caveat: Option<String>,
}

/// The headline: the best median success_rps over the usable levels that measured the
/// server cleanly; only when there is none, the best usable level with caveats, and
/// its caveat says why the figure is not plain.
fn headline(levels: &[LevelResult]) -> Option<Headline> {
    let best = |clean: bool| {
        levels
            .iter()
            .filter(|l| l.usable && (!clean || l.caveats.is_empty()))
            .max_by(|a, b| a.success_rps.median.total_cmp(&b.success_rps.median))
    };
    let level = best(true).or_else(|| best(false))?;
    Some(Headline {
        qps: level.success_rps.median,
        connections: level.connections,
        caveat: if level.caveats.is_empty() {
            None
        } else {
            summarize(levels.iter().map(|l| l.caveats.as_slice()))
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(connections: usize, qps: f64, caveats: Vec<Caveat>) -> LevelResult {
        LevelResult {
            noisy: caveats.iter().any(Caveat::is_noisy),
            caveats,
            ..LevelResult::sample(connections, qps)
        }
    }

    fn target_with(levels: Vec<LevelResult>) -> TargetResult {
        let manifest: crate::targets::Manifest = toml::from_str(
            "name = \"t\"\nframework = \"T\"\nlanguage = \"Rust\"\nversion = \"1\"\nbuild = \"true\"\nrun = \"true\"\nhealth = \"/health\"\n",
        )
        .unwrap();
        let mut t = TargetResult::bare(&manifest, TargetStatus::Ok, None);
        t.levels = levels;
        t
    }

    fn busy_generator() -> Caveat {
        Caveat::Noisy(SideNoise {
            side: Side::Generator,
            steal: 0.0,
            foreign: 0.61,
        })
    }

    #[test]
    fn a_level_with_caveats_is_never_the_headline_beside_a_clean_one() {
        // The noisy level served more (as a noisy figure may), yet the clean one leads.
        let t = target_with(vec![
            level(16, 40_000.0, Vec::new()),
            level(64, 97_000.0, vec![busy_generator()]),
        ]);
        let h = headline(&t.levels).unwrap();
        assert_eq!((h.qps, h.connections), (40_000.0, 16));
        assert_eq!(h.caveat, None);
    }

    #[test]
    fn without_a_clean_level_the_headline_says_why() {
        let t = target_with(vec![
            level(16, 30_000.0, vec![busy_generator()]),
            level(64, 33_074.0, vec![busy_generator()]),
        ]);
        let h = headline(&t.levels).unwrap();
        assert_eq!(h.qps, 33_074.0);
        assert_eq!(
            h.caveat.as_deref(),
            Some("2 of 2 levels noisy (generator CPU 61% foreign)")
        );
    }
}
