//! A resilience session (a scenario with `[[fault]]`): the user service warmed up at the
//! scenario's open-loop rate until steady, then one episode per fault, in the order the
//! scenario lists them (`episode`). The faults reach the system through [`FaultTools`]:
//! the proxy's control port for what happens on the wire, the chain's
//! [`DownstreamSwitch`] for `down`.

use std::net::SocketAddr;

use super::chain::DownstreamSwitch;
use super::drive::Bench;
use super::episode::{run_episode, EpisodePlan, FaultSwitch};
use super::failure::{check_stop, Failure};
use super::outcome::SessionOutcome;
use super::watch::CountsReader;
use crate::proxy::{fetch_counts, set_fault, Fault};
use crate::results::resilience::BreakerSetting;
use crate::scenario::plan::prepare;
use crate::scenario::resilience::FaultKind;
use crate::targets::Target;

/// What a resilience session injects faults with, and the breaker it runs.
pub struct FaultTools<'a> {
    /// The proxy's control port (faults on the wire, calls counted).
    pub proxy_control: Option<SocketAddr>,
    /// Stops and starts the order service (`down`).
    pub downstream: &'a mut dyn DownstreamSwitch,
    pub breaker: BreakerSetting,
    /// `BREAKER_FAILURES` the user service was given (none: its default).
    pub breaker_failures: Option<u64>,
}

/// The proxy's faults and the order service's stop and start behind one switch.
struct ChainFaults<'t, 'a> {
    tools: &'t mut FaultTools<'a>,
}

impl FaultSwitch for ChainFaults<'_, '_> {
    fn on(&mut self, fault: &FaultKind) -> Result<(), String> {
        match proxy_fault(fault) {
            None => self.tools.downstream.stop(),
            Some(wire) => self.set(&wire),
        }
    }

    fn off(&mut self, fault: &FaultKind) -> Result<(), String> {
        match proxy_fault(fault) {
            None => self.tools.downstream.start(),
            Some(_) => self.set(&Fault::None),
        }
    }
}

impl ChainFaults<'_, '_> {
    fn set(&self, fault: &Fault) -> Result<(), String> {
        let control = self
            .tools
            .proxy_control
            .ok_or("this fault needs the proxy between the services")?;
        set_fault(control, fault).map_err(|e| e.to_string())
    }
}

/// The proxy's fault for a scenario's kind; `None` for `down`, which is not the proxy's.
fn proxy_fault(kind: &FaultKind) -> Option<Fault> {
    Some(match *kind {
        FaultKind::Delay { delay_ms } => Fault::Delay { delay_ms },
        FaultKind::Error { status, share } => Fault::Error { status, share },
        FaultKind::Blackhole => Fault::Blackhole,
        FaultKind::Refuse => Fault::Refuse,
        FaultKind::Reset => Fault::Reset,
        FaultKind::Down => return None,
    })
}

/// Reads the calls that reached the proxy (requests read, and connections it reset
/// because the order service could not be reached: a call whose request it never read)
/// and its open connections, for the episode's sampler.
fn counts_reader(control: Option<SocketAddr>) -> Option<CountsReader> {
    let control = control?;
    Some(Box::new(move || {
        fetch_counts(control)
            .ok()
            .map(|c| (c.received + c.connect_failures, c.open_connections))
    }))
}

/// Warms the user service up, then runs every episode of the scenario.
pub fn run_episodes(
    bench: &mut Bench,
    outcome: &mut SessionOutcome,
    mut tools: FaultTools,
    target: &Target,
) -> Result<(), Failure> {
    let scenario = &bench.settings.scenario;
    let Some(spec) = scenario.resilience.clone() else {
        return Ok(());
    };
    let (_, requests) =
        prepare(scenario, bench.process.addr()).map_err(|e| Failure::new(e.to_string()))?;
    let connections = scenario.connections.first().copied().unwrap_or(1);
    let load = bench.level_load(&requests, connections);
    let phase = format!("resilience warm-up ({})", tools.breaker.label());
    bench.observer.phase(bench.name, &phase);
    bench.warm_up(load.clone(), &phase, &[])?;
    for fault in &spec.faults {
        check_stop(bench.stop)?;
        let plan = EpisodePlan {
            fault,
            breaker: tools.breaker,
            breaker_failures: tools.breaker_failures,
            health_rate: spec.health_rate,
            health_path: &target.manifest.health,
        };
        let counts = counts_reader(tools.proxy_control);
        let mut switch = ChainFaults { tools: &mut tools };
        let episode = run_episode(bench, load.clone(), &plan, &mut switch, counts)?;
        outcome.episodes.push(episode);
    }
    Ok(())
}
