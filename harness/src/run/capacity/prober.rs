//! Probes on the measured process: a steady open-loop load at one rate, its own short
//! warm-up at that rate first, measured for the scenario's `duration` (longer when the
//! rate is too low for the objective's tail), and judged like a level's repeat for what
//! would make it untrustworthy (the saturation verdict, noise on any side, a warm-up
//! that ended still climbing).

use std::time::{Duration, Instant};

use super::search::{Prober, Reading, Unusable};
use crate::load::request::RequestPlan;
use crate::load::LoadSettings;
use crate::results::capacity::{Probe, ProbeStage, ProbeVerdict};
use crate::results::caveat::describe_all;
use crate::results::{RepeatResult, Saturation};
use crate::run::drive::{Bench, Measured};
use crate::run::failure::{check_stop, pause, Failure, RETRY_PAUSE};
use crate::run::summary::judge_repeats;
use crate::scenario::capacity::CapacitySpec;

/// How the process was warmed before the probes: the state each probe is judged in.
#[derive(Debug, Clone, Default)]
pub struct WarmState {
    /// `None`: not checked (`steady_state = false`).
    pub steady: Option<bool>,
    pub climbing: bool,
    pub seconds: f64,
    /// Successes per second of the warm-ups so far (a further warm-up must show the
    /// climb over).
    pub series: Vec<f64>,
}

/// Measures probes on the bench's process.
pub struct BenchProber<'b, 'a> {
    pub bench: &'b mut Bench<'a>,
    pub requests: RequestPlan,
    pub connections: usize,
    pub spec: &'b CapacitySpec,
    /// Progress label of this search ("capacity 1/3").
    pub label: String,
    /// Measured windows, from `sampler_started`, for the memory record.
    pub windows: &'b mut Vec<(Duration, Duration)>,
    pub sampler_started: Instant,
    pub warm: WarmState,
}

impl BenchProber<'_, '_> {
    /// The closed-loop load the process is warmed with (the scenario's connections).
    pub fn warm_load(&self) -> LoadSettings {
        self.bench.level_load(&self.requests, self.connections)
    }

    /// Warms the process until steady; the state its probes are then judged in.
    pub fn warm_up(&mut self, phase: &str) -> Result<(), Failure> {
        self.bench.observer.phase(self.bench.name, phase);
        let warmup = self
            .bench
            .warm_up(self.warm_load(), phase, &self.warm.series)?;
        self.warm.seconds += warmup.used.as_secs_f64();
        self.warm.steady = warmup.steady;
        self.warm.climbing = warmup.climbing;
        self.warm.series.extend(warmup.per_second);
        Ok(())
    }

    /// The open-loop load of a probe at `rate`. Its send-lag bound is a quarter of the
    /// objective's (at least the engine's 1 ms). The latency is measured from each
    /// request's intended send time, so a late send counts against the probe: lag can
    /// make a server look slower, never faster, and under a quarter of the bound it
    /// cannot make a clear meet miss. A tighter bound set aside probes of a server that
    /// answers in bursts (a runtime pausing for garbage collection: the generator then
    /// reads dozens of answers at once and the last sends of the burst leave 1-3 ms
    /// late), whose misses are the server's own.
    fn probe_load(&self, rate: f64) -> LoadSettings {
        let scenario = &self.bench.settings.scenario;
        let lag_bound = Duration::from_secs_f64(self.spec.objective.bound_ms / 4.0 / 1e3);
        LoadSettings {
            rate: Some(rate),
            duration: Some(self.spec.probe_length(rate, scenario.duration)),
            warmup: self.spec.probe_warmup,
            max_send_lag: lag_bound.max(crate::load::DEFAULT_MAX_SEND_LAG),
            ..self.warm_load()
        }
    }

    /// Measures one load, with its window recorded and the process checked alive.
    fn measure_load(&mut self, load: LoadSettings, phase: &str) -> Result<Measured, Failure> {
        check_stop(self.bench.stop)?;
        self.bench.observer.phase(self.bench.name, phase);
        let from = self.sampler_started.elapsed();
        let measured = self.bench.measure(load, phase)?;
        self.windows.push((from, self.sampler_started.elapsed()));
        if let Some(status) = self.bench.process.try_exit_status() {
            let died = format!(
                "exited during load ({})",
                crate::targets::describe_status(status)
            );
            return Err(Failure::of(died, self.bench.process));
        }
        Ok(measured)
    }

    /// A probe's record, and why it cannot be used, judged like a level's repeat.
    fn reading(&self, measured: Measured, rate: f64, stage: ProbeStage) -> Reading {
        let repeat = RepeatResult {
            warmup_s: self.warm.seconds,
            steady: self.warm.steady,
            noise: measured.noise,
            noise_by_side: measured.noise_by_side,
            round: 1,
            server_cpu_s: measured.server_cpu_s,
            components: measured.components,
            load: measured.load,
            attempt: 1,
            set_aside: Vec::new(),
            still_climbing: self.warm.climbing,
            hop: None,
        };
        // Judged as the open-loop level it is.
        let mut open = self.bench.settings.clone();
        open.scenario.rate = Some(rate);
        let components = self.bench.component_figures();
        let judged = judge_repeats(std::slice::from_ref(&repeat), &open, &components);
        let load = &repeat.load;
        let unusable = if judged.saturation == Saturation::Generator {
            let reasons = load
                .schedule
                .as_ref()
                .map(|s| s.limited_by.join("; "))
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| format!("its CPU {:.0}% busy", judged.generator * 100.0));
            Some(Unusable::Generator(reasons))
        } else if let Some(noisy) = judged.caveats.iter().find(|c| c.is_noisy()) {
            Some(Unusable::Noisy(describe_all(std::slice::from_ref(noisy))))
        } else {
            let climbing = judged.caveats.iter().find(|c| c.needs_more_warmup());
            climbing.map(|c| Unusable::Unsteady(c.describe()))
        };
        let successes = load.successes as f64;
        let probe = Probe {
            rate_rps: rate,
            stage,
            verdict: ProbeVerdict::Unusable,
            why: None,
            duration_s: load.duration_s,
            requests: load.requests,
            success_rps: load.success_rps,
            error_rate: load.error_rate,
            latency_ms: load.latency_ms,
            server_cpu_utilisation: judged.server,
            generator_cpu_utilisation: judged.generator,
            server_cpu_us_per_success: (successes > 0.0)
                .then(|| repeat.server_cpu_s * 1e6 / successes),
            send_lag_p99_ms: load.schedule.as_ref().map(|s| s.lag_ms.p99),
            attempt: 1,
            set_aside: Vec::new(),
        };
        Reading { probe, unusable }
    }
}

impl Prober for BenchProber<'_, '_> {
    fn measure(
        &mut self,
        rate: f64,
        stage: ProbeStage,
        attempt: usize,
    ) -> Result<Reading, Failure> {
        let stage_name = match stage {
            ProbeStage::Ramp => "ramp",
            ProbeStage::Bisect => "bisect",
            ProbeStage::OwnFraction => "own fraction",
            ProbeStage::EqualLoad => "equal load",
        };
        let mut phase = format!(
            "{} {stage_name} {} req/s",
            self.label,
            crate::results::print::grouped(rate)
        );
        if attempt > 1 {
            phase.push_str(&format!(" (attempt {attempt})"));
        }
        let measured = self.measure_load(self.probe_load(rate), &phase)?;
        Ok(self.reading(measured, rate, stage))
    }

    fn report(&mut self, probe: &Probe) {
        let percentile = self.spec.objective.percentile;
        let why = probe.why.as_deref().unwrap_or("");
        let outcome = match probe.verdict {
            ProbeVerdict::Meets => format!(
                "meets ({} {:.2} ms)",
                percentile.label(),
                percentile.of(&probe.latency_ms)
            ),
            ProbeVerdict::Misses => format!("misses ({why})"),
            ProbeVerdict::Unusable => format!("unusable, not used ({why})"),
        };
        let phase = format!(
            "{} {} req/s",
            self.label,
            crate::results::print::grouped(probe.rate_rps)
        );
        self.bench
            .observer
            .probed(self.bench.name, &phase, &outcome);
    }

    fn before_retry(&mut self, why: &Unusable) -> Result<(), Failure> {
        let how = match why {
            Unusable::Unsteady(_) => "after more warm-up",
            _ => "after a pause",
        };
        let (name, label) = (self.bench.name, self.label.clone());
        self.bench
            .observer
            .retrying(name, &label, how, &why.describe());
        match why {
            Unusable::Unsteady(_) => {
                let phase = format!("{} warm-up again", self.label);
                self.warm_up(&phase)
            }
            _ => pause(self.bench.stop, RETRY_PAUSE),
        }
    }
}
