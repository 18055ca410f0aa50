//! The search against scripted probers: a server that meets the objective up to a known
//! capacity, one that never does, and probes made unusable on purpose.

use super::*;
use crate::load::result::LatencySummary;
use crate::results::capacity::Percentile;

/// A server that meets the objective up to `capacity` (p99 1 ms) and misses above it
/// (p99 80 ms); `unusable(rate, attempt)` makes a probe unusable.
struct Scripted {
    capacity: f64,
    unusable: fn(f64, usize) -> Option<Unusable>,
    measured: Vec<(f64, usize)>,
    retried: Vec<Unusable>,
}

impl Scripted {
    fn new(capacity: f64) -> Scripted {
        Scripted {
            capacity,
            unusable: |_, _| None,
            measured: Vec::new(),
            retried: Vec::new(),
        }
    }
}

impl Prober for Scripted {
    fn measure(
        &mut self,
        rate: f64,
        stage: ProbeStage,
        attempt: usize,
    ) -> Result<Reading, Failure> {
        self.measured.push((rate, attempt));
        let p99 = if rate <= self.capacity { 1.0 } else { 80.0 };
        Ok(Reading {
            probe: Probe {
                rate_rps: rate,
                stage,
                verdict: ProbeVerdict::Unusable,
                why: None,
                duration_s: 2.0,
                requests: (rate * 2.0) as u64,
                success_rps: rate.min(self.capacity),
                error_rate: 0.0,
                latency_ms: LatencySummary {
                    p99,
                    ..LatencySummary::default()
                },
                server_cpu_utilisation: (rate / self.capacity).min(1.0),
                generator_cpu_utilisation: 0.1,
                server_cpu_us_per_success: None,
                send_lag_p99_ms: None,
                attempt: 0,
                set_aside: Vec::new(),
            },
            unusable: (self.unusable)(rate, attempt),
        })
    }

    fn before_retry(&mut self, why: &Unusable) -> Result<(), Failure> {
        self.retried.push(why.clone());
        Ok(())
    }
}

fn plan() -> SearchPlan {
    SearchPlan {
        objective: Objective {
            percentile: Percentile::P99,
            bound_ms: 10.0,
            max_error_rate: 0.001,
        },
        lowest: 1000.0,
        highest: 2_000_000.0,
        factor: 2.0,
        precision: 0.05,
        retries: 2,
    }
}

#[test]
fn the_capacity_is_the_highest_rate_met_within_the_precision() {
    let mut server = Scripted::new(37_000.0);
    let found = search(&mut server, &plan(), 1).unwrap();
    let SearchVerdict::Found {
        capacity_rps,
        missed_rps,
    } = found.verdict
    else {
        panic!("{:?}", found.verdict)
    };
    assert!(capacity_rps <= 37_000.0 && missed_rps > 37_000.0);
    assert!(missed_rps - capacity_rps <= 0.05 * capacity_rps);
    // A ramp of 1k, 2k, ... 64k (the first miss), then a bisection of 32k..64k.
    let ramp: Vec<f64> = found
        .probes
        .iter()
        .filter(|p| p.stage == ProbeStage::Ramp)
        .map(|p| p.rate_rps)
        .collect();
    assert_eq!(ramp, [1e3, 2e3, 4e3, 8e3, 16e3, 32e3, 64e3]);
    assert_eq!(found.probes[6].why.as_deref(), Some("p99 80.00 ms > 10 ms"));
    assert_eq!(found.at_capacity().unwrap().rate_rps, capacity_rps);
    assert!(server.retried.is_empty());
}

#[test]
fn a_server_that_misses_at_the_lowest_probe_has_no_number() {
    let mut server = Scripted::new(400.0);
    let found = search(&mut server, &plan(), 1).unwrap();
    assert_eq!(
        found.verdict,
        SearchVerdict::BelowLowest { lowest_rps: 1000.0 }
    );
    assert_eq!(found.verdict.capacity_rps(), None);
    assert_eq!(found.probes.len(), 1);
}

#[test]
fn a_generator_limited_probe_is_measured_again_then_never_used() {
    let mut server = Scripted::new(100_000.0);
    // The generator cannot offer 20,000 req/s or more: those probes would meet the
    // objective (the server could carry them), but they did not measure it.
    server.unusable = |rate, _| {
        (rate >= 20_000.0).then(|| Unusable::Generator("send lag p99 3 ms > 1 ms".into()))
    };
    let found = search(&mut server, &plan(), 1).unwrap();
    let SearchVerdict::AtLeast { capacity_rps, why } = &found.verdict else {
        panic!("{:?}", found.verdict)
    };
    // The bracket narrowed below the first unusable rate, from what was usable only.
    assert!(
        *capacity_rps < 20_000.0 && *capacity_rps >= 20_000.0 / 1.05,
        "{capacity_rps}"
    );
    assert!(
        why.contains("20,000") || why.contains("could not be used"),
        "{why}"
    );
    let unusable: Vec<&Probe> = found
        .probes
        .iter()
        .filter(|p| p.verdict == ProbeVerdict::Unusable)
        .collect();
    assert!(!unusable.is_empty());
    for probe in &unusable {
        assert!(probe.rate_rps >= 20_000.0);
        assert_eq!(probe.attempt, 3, "measured again twice: {probe:?}");
        assert_eq!(probe.set_aside.len(), 2);
        assert!(probe
            .why
            .as_deref()
            .unwrap()
            .starts_with("generator-limited"));
    }
    // Every usable probe is below the limit, and each unusable one was tried 3 times.
    assert_eq!(
        server
            .measured
            .iter()
            .filter(|(r, _)| *r >= 20_000.0)
            .count(),
        3 * unusable.len()
    );
}

#[test]
fn a_probe_noisy_once_is_measured_again_and_used() {
    let mut server = Scripted::new(10_000.0);
    server.unusable = |rate, attempt| {
        (rate == 4_000.0 && attempt == 1).then(|| Unusable::Noisy("steal 12%".into()))
    };
    let found = search(&mut server, &plan(), 1).unwrap();
    assert!(matches!(found.verdict, SearchVerdict::Found { .. }));
    let retried = found.probes.iter().find(|p| p.rate_rps == 4_000.0).unwrap();
    assert_eq!(retried.verdict, ProbeVerdict::Meets);
    assert_eq!(retried.attempt, 2);
    assert_eq!(retried.set_aside, ["attempt 1: noisy: steal 12%"]);
    assert_eq!(server.retried, [Unusable::Noisy("steal 12%".into())]);
}

#[test]
fn a_ramp_that_reaches_its_highest_rate_gives_a_lower_bound() {
    let mut server = Scripted::new(1e9);
    let plan = SearchPlan {
        highest: 5_000.0,
        ..plan()
    };
    let found = search(&mut server, &plan, 1).unwrap();
    let SearchVerdict::AtLeast { capacity_rps, why } = &found.verdict else {
        panic!("{:?}", found.verdict)
    };
    assert_eq!(*capacity_rps, 5_000.0);
    assert!(why.contains("highest probe"), "{why}");
}

#[test]
fn an_unusable_lowest_probe_leaves_the_search_undecided() {
    let mut server = Scripted::new(50_000.0);
    server.unusable = |_, _| Some(Unusable::Unsteady("still climbing".into()));
    let found = search(&mut server, &plan(), 1).unwrap();
    assert!(
        matches!(found.verdict, SearchVerdict::Undecided { .. }),
        "{:?}",
        found.verdict
    );
    assert_eq!(found.verdict.capacity_rps(), None);
}
