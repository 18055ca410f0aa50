//! A service chain's round (a scenario with `[chain]`): the order service is launched
//! first (through the lifecycle, on the server's CPUs: their second half when there are
//! two or more, the user service getting the first), then the harness's proxy in
//! front of it (on the generator's CPUs), then the user service's fresh launches and its
//! measured session, with `ORDERS_URL` pointing at the proxy, or straight at the order
//! service with `--direct`. Both are components beside the service: their CPU time,
//! memory and death are read like the database's, and the proxy times the hop in every
//! measured window. Whatever happens, the user service stops first, then the proxy,
//! then the order service.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use super::failure::Failure;
use super::process::run_processes;
use super::{RunObserver, RunSettings};
use crate::load::cpus::CpuList;
use crate::results::Role;
use crate::scenario::{RequestSpec, Scenario};
use crate::system::{
    launch_and_use, Component, Components, Launch, Processes, ProxyProcess, ServiceComponent,
    ServicePid, Silent, Supervisor,
};
use crate::targets::{free_loopback_port, Target, TargetProcess};

/// How a run sets up each target's chain.
#[derive(Debug, Clone)]
pub struct RunChain {
    /// The order service every target calls, when the scenario names one; otherwise
    /// each target calls an order service of its own framework.
    pub fixed_order: Option<Target>,
    /// Through the harness's proxy (per-hop figures) rather than straight (`--direct`).
    pub proxy: bool,
    /// The lanebench binary, which serves as the proxy (`lanebench proxy`).
    pub proxy_bin: PathBuf,
}

/// The order service of one target's chain: its target and what it is given (its own
/// database in database mode).
pub struct OrderSide<'a> {
    pub target: &'a Target,
    pub env: &'a [(String, String)],
    /// Where it runs (see [`service_cpus`]).
    pub cpus: CpuList,
}

/// What the user service's side of a chain is given: its environment (`ORDERS_URL`),
/// the proxy's control port, and a switch that stops the order service and starts it
/// again (the `down` fault).
pub struct ChainHandles<'h> {
    pub env: Vec<(String, String)>,
    pub proxy_control: Option<SocketAddr>,
    pub downstream: &'h mut dyn DownstreamSwitch,
}

/// Stops the order service's process and starts it again on the same port.
pub trait DownstreamSwitch {
    /// Stops it (its whole process group); a stopped service stays stopped.
    fn stop(&mut self) -> Result<(), String>;
    /// Starts it again and waits until it is ready; a running service is left alone.
    fn start(&mut self) -> Result<(), String>;
}

/// The order service of a running chain, restarted through the lifecycle's supervisor
/// so that the new process is placed, told and stopped like the first.
struct OrderSwitch<'s> {
    supervisor: &'s mut Processes<'static>,
    process: &'s mut TargetProcess,
    target: &'s Target,
    launch: &'s Launch<'s>,
    pid: ServicePid,
    down: bool,
}

impl DownstreamSwitch for OrderSwitch<'_> {
    fn stop(&mut self) -> Result<(), String> {
        if self.down {
            return Ok(());
        }
        self.pid.set(None);
        self.down = true;
        self.supervisor
            .stop(self.process)
            .map(drop)
            .map_err(|e| format!("stopping the order service: {e}"))
    }

    fn start(&mut self) -> Result<(), String> {
        if !self.down {
            return Ok(());
        }
        let mut process = self
            .supervisor
            .launch(self.target, self.launch)
            .map_err(|e| format!("starting the order service again: {e}"))?;
        let ready = self.supervisor.wait_ready(self.target, &mut process);
        // Kept even when not ready, so that the lifecycle stops it at the end.
        *self.process = process;
        self.pid.set(Some(self.process.pid()));
        self.down = false;
        ready
            .map(drop)
            .map_err(|e| format!("the order service did not come back: {e}"))
    }
}

/// Where a chain's two services run, user service first: with two or more server CPUs
/// each gets a half of its own (so each is measured on its own CPUs, as on two hosts);
/// with one they share it, as a single-host deployment would.
pub fn service_cpus(server: &CpuList) -> (CpuList, CpuList) {
    server.split_halves()
}

/// The run's settings as the user service of a chain sees them: "the server" is the
/// user service, pinned to, told and judged against its own CPUs (all of the server's
/// when there is one, so nothing changes then).
pub fn user_settings(settings: &RunSettings) -> RunSettings {
    RunSettings {
        server_cpus: service_cpus(&settings.server_cpus).0,
        ..settings.clone()
    }
}

/// The path of the request a scenario request sends, as the contract names the
/// endpoints that call the order service.
fn calls_downstream(request: &RequestSpec) -> bool {
    let path = request.path_text.split('?').next().unwrap_or("");
    let Some(rest) = path.strip_prefix("/api/users/") else {
        return false;
    };
    match request.method.as_str() {
        "GET" => rest.ends_with("/summary"),
        "POST" => rest.ends_with("/orders"),
        _ => false,
    }
}

/// The share of the mix (by weight) that calls the order service once per request:
/// what downstream calls per end-to-end request should come to.
pub fn expected_downstream_share(scenario: &Scenario) -> Option<f64> {
    let total: u64 = scenario.requests.iter().map(|r| r.weight).sum();
    let calling: u64 = scenario
        .requests
        .iter()
        .filter(|r| calls_downstream(r))
        .map(|r| r.weight)
        .sum();
    (total > 0).then(|| calling as f64 / total as f64)
}

/// The scenario of the client tax's baseline load: the chain's plain request alone.
pub fn baseline_scenario(scenario: &Scenario) -> Scenario {
    let chain = scenario
        .chain
        .as_ref()
        .expect("a baseline is measured for chain scenarios only");
    Scenario {
        requests: vec![RequestSpec {
            name: "baseline".to_string(),
            weight: 1,
            method: "GET".to_string(),
            path: chain.baseline.clone(),
            path_text: chain.baseline_text.clone(),
            body: None,
            body_text: None,
            headers: Vec::new(),
            expect_status: Some(200),
        }],
        ..scenario.clone()
    }
}

/// Starts `user`'s order service (and, unless the run's chain is direct, the proxy in
/// front of it), then
/// runs `use_` with what the user service must be given (`ORDERS_URL`) and the
/// components beside it (`components` plus the order service and the proxy); stops the
/// proxy and the order service afterwards, whatever happened. The user service's launches
/// and session all happen inside `use_`, so it never runs without its order service.
pub fn with_chain<T>(
    settings: &RunSettings,
    stop: &AtomicBool,
    order: &OrderSide,
    observer: &mut dyn RunObserver,
    user: &str,
    components: Components,
    use_: impl FnOnce(&mut dyn RunObserver, ChainHandles, Components) -> T,
) -> Result<T, Failure> {
    let chain = settings
        .chain
        .as_ref()
        .ok_or_else(|| Failure::new("not a chain run".to_string()))?;
    let port = free_loopback_port().map_err(|e| Failure::new(format!("order service: {e}")))?;
    observer.phase(
        user,
        &format!("starting the order service ({})", order.target.name()),
    );
    let mut processes = run_processes(settings);
    processes.cpus = Some(order.cpus.clone());
    processes.workers = order.cpus.len();
    let launch = Launch {
        port,
        env: order.env,
    };
    let ran = launch_and_use(
        &mut processes,
        &mut Silent,
        order.target,
        &launch,
        Some(stop),
        |supervisor, process, _| {
            let name = format!("orders:{}", order.target.name());
            let pid = ServicePid::new(process.pid());
            let mut downstream = ServiceComponent::following(
                name,
                Role::Downstream,
                pid.clone(),
                Some(order.cpus.clone()),
            );
            let upstream = process.addr();
            let mut proxy = match chain.proxy {
                true => Some(start_proxy(settings, chain, upstream, observer, user)?),
                false => None,
            };
            let orders_addr = proxy.as_ref().map_or(upstream, |p| p.addr());
            let proxy_control = proxy.as_ref().map(|p| p.control_addr());
            let env = vec![("ORDERS_URL".to_string(), format!("http://{orders_addr}"))];
            let mut components = components;
            components.push(&mut downstream as &mut (dyn Component + 'static));
            if let Some(proxy) = proxy.as_mut() {
                components.push(proxy as &mut (dyn Component + 'static));
            }
            let mut switch = OrderSwitch {
                supervisor,
                process,
                target: order.target,
                launch: &launch,
                pid,
                down: false,
            };
            let handles = ChainHandles {
                env,
                proxy_control,
                downstream: &mut switch,
            };
            let used = use_(observer, handles, components);
            // A fault that ended badly leaves the order service down; the lifecycle stops
            // what it holds either way, so it is only started again when the run goes on.
            if !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let _ = switch.start();
            }
            if let Some(proxy) = proxy {
                proxy.stop();
            }
            Ok(used)
        },
    );
    ran.map(|ran| ran.used).map_err(|error| Failure {
        reason: format!("order service {}: {error}", order.target.name()),
        stderr_tail: error.stderr_tail().to_vec(),
    })
}

/// The harness's proxy in front of the order service at `upstream`, on the generator's
/// CPUs.
fn start_proxy(
    settings: &RunSettings,
    chain: &RunChain,
    upstream: SocketAddr,
    observer: &mut dyn RunObserver,
    user: &str,
) -> Result<ProxyProcess, String> {
    observer.phase(user, "starting the proxy");
    let cpus = settings.generator_cpus.clone();
    ProxyProcess::start(&chain.proxy_bin, upstream, Some(cpus)).map_err(|e| format!("proxy: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(text: &str) -> Scenario {
        Scenario::parse(text, "chain.toml").unwrap()
    }

    #[test]
    fn the_expected_share_counts_the_requests_that_call_the_order_service() {
        let s = scenario(
            r#"
name = "c"
duration = "1s"
connections = [1]
[chain]
[[request]]
name = "summary"
weight = 6
path = "/api/users/{rand:1..1000}/summary"
[[request]]
name = "post"
weight = 2
method = "POST"
path = "/api/users/{rand:1..1000}/orders"
body = '{"items":[]}'
[[request]]
name = "health"
weight = 2
path = "/health"
[[request]]
name = "orders-list"
weight = 10
path = "/api/users/{rand:1..1000}/orders"
"#,
        );
        assert_eq!(expected_downstream_share(&s), Some(8.0 / 20.0));
        let baseline = baseline_scenario(&s);
        assert_eq!(baseline.requests.len(), 1);
        assert_eq!(
            baseline.requests[0].path_text,
            "/api/users/{rand:1..1000000}"
        );
    }
}
