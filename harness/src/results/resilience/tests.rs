use super::*;

/// 30 seconds at 100 requests/s, 80 calls/s before; the fault on at 10.0 s, off at 20.0 s.
fn episode(
    during: impl Fn(u64) -> (u64, u64, u64, u64),
    after: impl Fn(u64) -> (u64, u64),
) -> Vec<EpisodeSecond> {
    (0..30)
        .map(|t| {
            let (full, degraded, failed, calls) = match t {
                0..=9 => (100, 0, 0, 80),
                10..=19 => during(t),
                _ => {
                    let (full, degraded) = after(t);
                    (full, degraded, 0, 80)
                }
            };
            EpisodeSecond {
                t,
                full,
                degraded,
                failed,
                p99_ms: if (10..20).contains(&t) { 50.0 } else { 2.0 },
                calls: Some(calls),
                rss_mib: Some(if t >= 10 { 30.0 } else { 20.0 }),
                connections: Some(4),
                cpu_ms: Some(5.0),
            }
        })
        .collect()
}

fn health(before: f64, during: f64) -> HealthPhases {
    HealthPhases {
        before: HealthFigures::of(vec![before; 100], 0),
        during: HealthFigures::of(vec![during; 100], 0),
        after: HealthFigures::default(),
    }
}

fn figures(seconds: &[EpisodeSecond], health: &HealthPhases) -> EpisodeFigures {
    EpisodeFigures::of(seconds, (10.0, 20.0), health, &BTreeMap::new(), false)
}

#[test]
fn a_breaker_that_opens_after_two_seconds_and_recovers_after_three() {
    // Degraded throughout the fault; calls stop from second 12 (probes only: 1/s).
    let seconds = episode(
        |t| (0, 80, 20, if t < 12 { 80 } else { 1 }),
        |t| if t < 23 { (60, 40) } else { (100, 0) },
    );
    let f = figures(&seconds, &health(1.0, 1.5));
    assert_eq!(f.goodput_before, 100.0);
    assert_eq!(f.goodput_during, 0.0);
    assert_eq!(f.degraded_per_s_during, 80.0);
    assert_eq!(f.failed_per_s_during, 20.0);
    assert_eq!(f.p99_during_ms, 50.0);
    assert_eq!(f.time_to_open_s, Some(2.0));
    assert_eq!(f.time_to_recover_s, Some(3.0));
    assert_eq!(f.calls_per_request_before, Some(0.8));
    assert_eq!(
        f.calls_per_request_during,
        Some((80.0 * 2.0 + 8.0) / 1000.0)
    );
    assert_eq!(f.rss_peak_before_mib, Some(20.0));
    assert_eq!(f.rss_peak_during_mib, Some(30.0));
    assert_eq!(f.cpu_us_per_request_before, Some(50.0));
    assert!(f.isolated);
}

#[test]
fn without_a_breaker_calls_never_drop_and_a_probe_burst_late_in_the_fault_counts() {
    let never = episode(|_| (0, 100, 0, 80), |_| (100, 0));
    assert_eq!(figures(&never, &health(1.0, 1.0)).time_to_open_s, None);
    // Quiet from 12 but a burst at 18: open only from 19.
    let burst = episode(
        |t| (0, 100, 0, if t < 12 || t == 18 { 80 } else { 2 }),
        |_| (100, 0),
    );
    assert_eq!(figures(&burst, &health(1.0, 1.0)).time_to_open_s, Some(9.0));
}

#[test]
fn recovery_needs_a_run_of_normal_seconds_without_degraded_answers() {
    // Back to full at 21, one degraded answer at 22, normal from 23.
    let seconds = episode(
        |_| (0, 100, 0, 1),
        |t| match t {
            20 => (50, 50),
            22 => (100, 1),
            _ => (100, 0),
        },
    );
    assert_eq!(
        figures(&seconds, &health(1.0, 1.0)).time_to_recover_s,
        Some(3.0)
    );
    let never = episode(|_| (0, 100, 0, 1), |_| (80, 0));
    assert_eq!(figures(&never, &health(1.0, 1.0)).time_to_recover_s, None);
}

#[test]
fn the_second_the_fault_ends_in_does_not_count_against_opening() {
    // Switched off at 19.5 s: second 19 has calls again, yet the breaker was open.
    let seconds = episode(
        |t| (0, 100, 0, if t < 12 || t == 19 { 80 } else { 1 }),
        |_| (100, 0),
    );
    let f = EpisodeFigures::of(
        &seconds,
        (10.0, 19.5),
        &health(1.0, 1.0),
        &BTreeMap::new(),
        false,
    );
    assert_eq!(f.time_to_open_s, Some(2.0));
}

#[test]
fn a_second_without_readings_is_left_out_not_taken_as_quiet_or_loud() {
    // Regression: the sampler's first reading came after the load's start, so second 0
    // had no calls, and the breaker was reported as never opening.
    let mut seconds = episode(|t| (0, 100, 0, if t < 12 { 80 } else { 1 }), |_| (100, 0));
    seconds[0].calls = None;
    seconds[0].cpu_ms = None;
    seconds[15].calls = None;
    let f = figures(&seconds, &health(1.0, 1.0));
    assert_eq!(f.time_to_open_s, Some(2.0));
    assert_eq!(f.cpu_us_per_request_before, Some(50.0));
}

#[test]
fn isolation_is_health_within_twice_its_p99_before_and_no_crash() {
    let seconds = episode(|_| (0, 100, 0, 1), |_| (100, 0));
    assert!(figures(&seconds, &health(2.0, 4.0)).isolated);
    assert!(!figures(&seconds, &health(2.0, 4.1)).isolated);
    let crashed = EpisodeFigures::of(
        &seconds,
        (10.0, 20.0),
        &health(2.0, 2.0),
        &BTreeMap::new(),
        true,
    );
    assert!(!crashed.isolated && crashed.crashed);
}

#[test]
fn seconds_straddling_a_switch_belong_to_no_phase_and_other_5xx_are_counted() {
    let seconds = episode(|_| (0, 100, 0, 1), |_| (100, 0));
    let codes: BTreeMap<String, u64> = [("200", 10), ("503", 5), ("500", 2), ("502", 1)]
        .into_iter()
        .map(|(c, n)| (c.to_string(), n))
        .collect();
    // Switched on at 9.5 s: second 9 straddles, so "before" is 0..=8.
    let f = EpisodeFigures::of(&seconds, (9.5, 20.0), &health(1.0, 1.0), &codes, false);
    assert_eq!(f.goodput_before, 100.0);
    assert_eq!(f.goodput_during, 0.0);
    assert_eq!(f.other_5xx, 3);
}

#[test]
fn health_percentiles_are_nearest_rank() {
    let h = HealthFigures::of((1..=100).map(f64::from).collect(), 3);
    assert_eq!(
        (h.probes, h.failed, h.p50_ms, h.p99_ms),
        (103, 3, Some(50.0), Some(99.0))
    );
    assert_eq!(HealthFigures::of(Vec::new(), 2).p99_ms, None);
}
