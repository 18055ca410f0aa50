//! Fresh launches: how long a new process of the target takes to answer (startup), to
//! answer every scenario request once (cold start), and how long the first of those
//! took on the just-ready process; and how the launches are summarized, as hyperfine
//! does for runs: mean ± σ, median, min-max, with outliers and a cold first launch
//! called out rather than silently averaged in.

use std::time::Duration;

use super::cold_start::first_responses;
use super::failure::Failure;
use super::process::run_processes;
use super::RunSettings;
use crate::scenario::plan::prepare;
use crate::stats::{median, outliers, Spread};
use crate::system::{launch_and_use, Launch, Silent};
use crate::targets::{free_loopback_port, Target};

/// One fresh launch, in ms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LaunchSample {
    pub startup_ms: f64,
    pub cold_ms: f64,
    pub first_ms: f64,
}

/// What the launches of one target amount to.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LaunchFigures {
    pub startup: Option<Spread>,
    pub cold_start: Option<Spread>,
    pub first_request: Option<Spread>,
    pub startup_launches: Vec<f64>,
    pub notes: Vec<String>,
}

/// A first launch this many times the median of the others stands apart.
const FIRST_APART: f64 = 1.5;

/// Launches a fresh process and times spawn -> ready -> every scenario request
/// answered. The requests and the readiness probe are ready before the spawn.
pub fn time_fresh_launch(
    target: &Target,
    settings: &RunSettings,
    env: &[(String, String)],
) -> Result<LaunchSample, Failure> {
    let port = free_loopback_port().map_err(|e| Failure::new(e.to_string()))?;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let (requests, _) =
        prepare(&settings.scenario, addr).map_err(|e| Failure::new(e.to_string()))?;
    let launch = Launch { port, env };
    let mut processes = run_processes(settings);
    let ran = launch_and_use(
        &mut processes,
        &mut Silent,
        target,
        &launch,
        None,
        |_, process, _| {
            let connector = process.connector(settings.scenario.timeout);
            let latencies = first_responses(&connector, &requests, settings.scenario.timeout)
                .map_err(|e| format!("cold start: {e}"))?;
            Ok((latencies, process.spawned_at().elapsed()))
        },
    )?;
    let (latencies, cold) = ran.used;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    Ok(LaunchSample {
        startup_ms: ms(ran.ready),
        cold_ms: ms(cold),
        first_ms: latencies.first().map_or(0.0, |d| ms(*d)),
    })
}

/// Summarizes launches taken in order.
pub fn launch_figures(samples: &[LaunchSample]) -> LaunchFigures {
    let of = |f: fn(&LaunchSample) -> f64| Spread::of(&samples.iter().map(f).collect::<Vec<_>>());
    let startup: Vec<f64> = samples.iter().map(|s| s.startup_ms).collect();
    LaunchFigures {
        startup: of(|s| s.startup_ms),
        cold_start: of(|s| s.cold_ms),
        first_request: of(|s| s.first_ms),
        notes: startup_notes(&startup),
        startup_launches: startup,
    }
}

/// Sentences about launches that stand apart: outliers by the modified Z-score, and a
/// first launch well above the others (its binary and libraries were not in the page
/// cache yet).
fn startup_notes(startup: &[f64]) -> Vec<String> {
    let mut notes = Vec::new();
    let Some(all) = median(startup) else {
        return notes;
    };
    // Below five launches a median absolute deviation says little.
    let found = if startup.len() >= 5 {
        outliers(startup)
    } else {
        Vec::new()
    };
    if !found.is_empty() {
        let listed: Vec<String> = found
            .iter()
            .map(|&i| format!("launch {} ({:.1} ms)", i + 1, startup[i]))
            .collect();
        notes.push(format!(
            "{} of {} launches are outliers (median {all:.1} ms): {}",
            found.len(),
            startup.len(),
            listed.join(", ")
        ));
    }
    if startup.len() >= 3 {
        let rest = median(&startup[1..]).unwrap_or(all);
        if rest > 0.0 && startup[0] > rest * FIRST_APART {
            notes.push(format!(
                "the first launch ({:.1} ms, {:.1}x the others' median) stands apart: a cold page cache",
                startup[0],
                startup[0] / rest
            ));
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(startup: &[f64]) -> Vec<LaunchSample> {
        startup
            .iter()
            .map(|&s| LaunchSample {
                startup_ms: s,
                cold_ms: s + 1.0,
                first_ms: 0.5,
            })
            .collect()
    }

    #[test]
    fn a_cold_first_launch_and_outliers_are_called_out() {
        let f = launch_figures(&samples(&[
            41.0, 12.1, 11.9, 12.3, 12.0, 12.2, 11.8, 12.4, 12.0, 12.1,
        ]));
        let startup = f.startup.unwrap();
        assert_eq!(startup.n, 10);
        assert!((startup.median - 12.1).abs() < 1e-9);
        assert!(
            startup.stdev.unwrap() > 5.0,
            "the mean ± σ shows the spread"
        );
        assert_eq!(f.startup_launches[0], 41.0);
        assert_eq!(f.notes.len(), 2, "{:?}", f.notes);
        assert!(f.notes[0].contains("launch 1 (41.0 ms)"));
        assert!(f.notes[1].contains("first launch"));
        assert_eq!(f.cold_start.unwrap().n, 10);
    }

    #[test]
    fn even_launches_have_no_notes() {
        let f = launch_figures(&samples(&[12.1, 11.9, 12.3, 12.0, 12.2]));
        assert!(f.notes.is_empty(), "{:?}", f.notes);
        assert!(launch_figures(&[]).startup.is_none());
    }
}
