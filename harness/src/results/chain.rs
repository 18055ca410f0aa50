//! The figures of a service chain (a scenario with `[chain]`): what the hop between the
//! user service and its order service did in each measured window, the per-level figures
//! made from it (downstream latency, downstream calls per request, CPU per end-to-end
//! success for each service and in total) and the client tax: the user service's CPU per
//! request in the chain minus its CPU per request serving a plain local request, measured
//! on the same process at the same concurrency (docs/metrics.md, "Service chain").

use serde::{Deserialize, Serialize};

use crate::load::result::LatencySummary;

/// What the proxy between the services counted and timed in one measured window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HopRecord {
    /// The proxy component's name.
    pub component: String,
    /// Requests forwarded to the order service.
    pub requests: u64,
    /// Complete answers relayed back.
    pub responses: u64,
    /// Calls that got no complete answer from the order service (refused, timed out
    /// connecting, closed or reset, malformed).
    pub failures: u64,
    /// Calls the user service gave up before the answer came (its deadline, or its own
    /// client went away).
    #[serde(default)]
    pub abandoned: u64,
    /// Downstream latency: from the whole request read at the proxy to the whole answer
    /// read from the order service (ms).
    pub latency_ms: LatencySummary,
    /// The latency histogram (base64 of its V2+deflate serialization), for exact merges.
    #[serde(default)]
    pub latency_hdr: Option<String>,
    /// Length of the proxy's window (s): from the reset at the window's start to the read
    /// after the load ended (answers still in flight included).
    pub window_s: f64,
}

/// A level's chain figures, each the median over the level's repeats.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChainLevel {
    /// Downstream latency percentiles (ms), from the proxy; absent when the services were
    /// connected directly.
    #[serde(default)]
    pub downstream_p50_ms: Option<f64>,
    #[serde(default)]
    pub downstream_p99_ms: Option<f64>,
    /// Downstream calls per end-to-end response (the mix's share of requests that call
    /// the order service, when every such request calls it once).
    #[serde(default)]
    pub downstream_per_request: Option<f64>,
    /// The mix's expected share of requests that call the order service (its weights).
    #[serde(default)]
    pub expected_per_request: Option<f64>,
    /// CPU µs per end-to-end success of the user service (the measured process).
    #[serde(default)]
    pub user_cpu_us_per_success: Option<f64>,
    /// CPU µs per end-to-end success of the order service.
    #[serde(default)]
    pub order_cpu_us_per_success: Option<f64>,
    /// The two services together (the proxy is the harness's, not counted).
    #[serde(default)]
    pub total_cpu_us_per_success: Option<f64>,
    /// CPU µs per success of the proxy itself, so that what it costs is visible.
    #[serde(default)]
    pub proxy_cpu_us_per_success: Option<f64>,
    /// The user service's CPU µs per success serving the plain baseline request at this
    /// concurrency, on the same process.
    #[serde(default)]
    pub baseline_cpu_us_per_success: Option<f64>,
    /// Successes per second of that baseline load.
    #[serde(default)]
    pub baseline_success_rps: Option<f64>,
    /// `user_cpu_us_per_success - baseline_cpu_us_per_success`: what the chain's client
    /// side (pool, call, decoding and encoding again) costs the user service per request.
    #[serde(default)]
    pub client_tax_us: Option<f64>,
}

/// A target's chain: who served the orders, and how the services were connected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainTarget {
    /// The order service's target name.
    pub order_service: String,
    /// Through the harness's proxy (per-hop figures) or straight.
    pub via_proxy: bool,
    /// The baseline request the client tax is measured against.
    pub baseline: String,
}

impl ChainLevel {
    /// A level's chain figures from its repeats, its baseline load, the system's
    /// components (whose roles say which CPU time is the order service's and which the
    /// proxy's) and the mix's expected share of requests that call the order service.
    pub fn of(
        repeats: &[super::RepeatResult],
        baseline: Option<&super::RepeatResult>,
        components: &[super::ComponentFigures],
        expected_per_request: Option<f64>,
    ) -> ChainLevel {
        let role_cpu_us =
            |repeat: &super::RepeatResult, role| role_cpu_us_per_success(repeat, components, role);
        let med = |values: Vec<Option<f64>>| -> Option<f64> {
            let present: Vec<f64> = values.into_iter().flatten().collect();
            crate::stats::median(&present)
        };
        let user: Vec<Option<f64>> = repeats.iter().map(|r| r.cpu_us_per_success()).collect();
        let order: Vec<Option<f64>> = repeats
            .iter()
            .map(|r| role_cpu_us(r, super::Role::Downstream))
            .collect();
        let total = user
            .iter()
            .zip(&order)
            .map(|(u, o)| Some((*u)? + (*o)?))
            .collect();
        let hop = |f: &dyn Fn(&HopRecord, &super::RepeatResult) -> Option<f64>| {
            med(repeats
                .iter()
                .map(|r| r.hop.as_ref().and_then(|h| f(h, r)))
                .collect())
        };
        let user_cpu = med(user);
        let baseline_cpu = baseline.and_then(|b| b.cpu_us_per_success());
        ChainLevel {
            downstream_p50_ms: hop(&|h, _| (h.responses > 0).then_some(h.latency_ms.p50)),
            downstream_p99_ms: hop(&|h, _| (h.responses > 0).then_some(h.latency_ms.p99)),
            downstream_per_request: hop(&|h, r| {
                (r.load.requests > 0).then(|| h.requests as f64 / r.load.requests as f64)
            }),
            expected_per_request,
            order_cpu_us_per_success: med(order),
            total_cpu_us_per_success: med(total),
            proxy_cpu_us_per_success: med(repeats
                .iter()
                .map(|r| role_cpu_us(r, super::Role::Proxy))
                .collect()),
            baseline_cpu_us_per_success: baseline_cpu,
            baseline_success_rps: baseline.map(|b| b.load.success_rps),
            client_tax_us: user_cpu.zip(baseline_cpu).map(|(u, b)| u - b),
            user_cpu_us_per_success: user_cpu,
        }
    }
}

/// CPU µs per end-to-end success, in one repeat, of the components with `role` (the
/// order service: `Downstream`; the proxy: `Proxy`); `None` when the repeat holds no CPU
/// time of such a component. The roles are the target's (`components`): a repeat names
/// its components' CPU times only by name.
pub fn role_cpu_us_per_success(
    repeat: &super::RepeatResult,
    components: &[super::ComponentFigures],
    role: super::Role,
) -> Option<f64> {
    let named: Vec<&str> = components
        .iter()
        .filter(|c| c.role == role)
        .map(|c| c.name.as_str())
        .collect();
    let times: Vec<f64> = repeat
        .components
        .iter()
        .filter(|t| named.contains(&t.name.as_str()))
        .map(|t| t.cpu_s)
        .collect();
    if times.is_empty() {
        return None;
    }
    super::derived::cpu_us_per_success(times.iter().sum(), repeat.load.successes)
}
