//! `lanebench run`: the whole comparison, carried out as a plan of rounds. Each target is
//! built, then measured in rounds: some fresh launches (startup, cold start), then one
//! session on a fresh measured process (idle memory, each level of the ladder warmed up
//! until steady and measured, memory sampled throughout). Without interleaving a target
//! has one round holding all its repeats, and targets follow each other; with it
//! (`interleave`), every round visits every target with one repeat per level, so slow
//! drift of the machine hits every target alike. results.json is rewritten after every
//! target (or round), so an interrupted run keeps what finished.
//!
//! The harness's own threads (this one, the memory samplers) are pinned to the
//! generator's CPUs, so nothing of ours runs beside the server. Measurement never
//! prints: progress goes through [`RunObserver`], which the CLI implements.
//!
//! Layers inside: `measure` (a target across rounds) -> `launches`, `session` ->
//! `drive` (one load: warm-up or measured repeat) -> `steady`; `summary` and `memory`
//! turn what was measured into results (`saturation` judges which side or component
//! limited a level); `outcome` holds what a session measured.
//! Processes are built, launched and stopped through the lifecycle (`crate::system`),
//! and the database is one of the components beside the service. With `cost` set,
//! each target's instructions per request are counted (`crate::cost`) after its last
//! round.

pub mod capacity;
mod capacity_run;
pub mod chain;
pub mod cold_start;
mod drive;
pub mod environment;
mod episode;
mod episodes;
mod failure;
mod launches;
mod measure;
mod memory;
pub mod noise;
mod outcome;
mod process;
pub mod saturation;
mod session;
pub mod steady;
pub mod summary;
mod watch;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use crate::load::cpus::CpuList;
use crate::load::protocol::{ClientProtocol, ProtocolName, TlsSettings, TlsTrust, TlsVersions};
use crate::load::LiveStatus;
use crate::results::{self, RunResults, TargetResult, SCHEMA_VERSION};
use crate::scenario::Scenario;
use crate::targets::{Target, TlsCert, TlsCertError};
use measure::TargetRun;
use session::SessionPlan;

use crate::store::PgStore;
use crate::system::Shared;

/// Database mode: the server to start or use, and the schema every target's database
/// is made from.
#[derive(Debug, Clone)]
pub struct RunStore {
    pub source: crate::store::StoreSource,
    pub schema: PathBuf,
}

/// `run --cost`: how every timed target is counted afterwards, and the record of it.
#[derive(Debug, Clone)]
pub struct RunCost {
    pub settings: crate::cost::CostSettings,
    pub counting: crate::results::cost::Counting,
}

/// Validated settings of one run.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// `None` in memory mode.
    pub store: Option<RunStore>,
    /// `None` unless the run counts instructions too (`--cost`).
    pub cost: Option<RunCost>,
    pub scenario: Scenario,
    /// Targets to run, in order (skipped ones included: they are reported as skipped).
    pub targets: Vec<Target>,
    /// The run's own folder (results.json, summary.csv, build logs).
    pub out_dir: PathBuf,
    pub run_id: String,
    pub server_cpus: CpuList,
    pub generator_cpus: CpuList,
    /// The repository (for the git revision).
    pub repo_dir: PathBuf,
    /// A service chain (scenarios with `[chain]`): how each target's is set up.
    pub chain: Option<chain::RunChain>,
    /// How many times an attempt with caveats (noise on any side's CPUs, or a closed-loop
    /// level that saturated neither side) is measured again after a pause.
    pub retry_noisy: u32,
    /// The run's throwaway certificate ([`throwaway_certificate`]): given to every
    /// target started on a TLS protocol (`TLS_CERT`, `TLS_KEY`), trusted by the
    /// readiness probe, and the CA file of the load engine ([`TlsCert::cert_path`]).
    pub tls: Option<TlsCert>,
    /// The protocol the targets are launched on and the generator speaks; a scenario
    /// naming several runs each target once per protocol ([`RunSettings::on`]).
    pub protocol: ProtocolName,
}

impl RunSettings {
    /// These settings for one of the scenario's protocols.
    pub fn on(&self, protocol: ProtocolName) -> RunSettings {
        RunSettings {
            protocol,
            ..self.clone()
        }
    }

    /// What the generator speaks to a target launched on this run's protocol: the
    /// scenario's pipeline depth (HTTP/1.1) or streams (HTTP/2), over TLS trusting the
    /// run's certificate.
    pub fn client_protocol(&self) -> ClientProtocol {
        let scenario = &self.scenario;
        let http2 = self.protocol.http2();
        ClientProtocol {
            http2,
            tls: self
                .tls
                .as_ref()
                .filter(|_| self.protocol.tls())
                .map(|cert| TlsSettings {
                    server_name: "127.0.0.1".to_string(),
                    trust: TlsTrust::CaFile(cert.cert_path().to_path_buf()),
                    versions: TlsVersions::Both,
                }),
            depth: if http2 {
                scenario.streams
            } else {
                scenario.pipeline
            },
            reconnect_every: None,
        }
    }
}

/// Makes the run's throwaway certificate in a folder of its own under `out_dir`
/// (created if needed), removed when the returned folder is dropped, so that the key
/// never stays among the results.
pub fn throwaway_certificate(
    out_dir: &std::path::Path,
) -> Result<(tempfile::TempDir, TlsCert), TlsCertError> {
    let folder = std::fs::create_dir_all(out_dir).and_then(|()| {
        tempfile::Builder::new()
            .prefix("lanebench-tls-")
            .tempdir_in(out_dir)
    });
    let folder = folder.map_err(|source| TlsCertError::Write {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let cert = TlsCert::create(folder.path())?;
    Ok((folder, cert))
}

/// Receives progress; the measurement code never prints.
pub trait RunObserver {
    /// Target `index` of `total` begins.
    fn target_started(&mut self, index: usize, total: usize, name: &str);
    /// A new phase of the current target (build, startup 2/3, idle memory, load 64c r1 ...).
    fn phase(&mut self, name: &str, phase: &str);
    /// Live totals of the load in progress.
    fn live(&mut self, name: &str, phase: &str, status: &LiveStatus);
    /// A warm-up is still going, and why (e.g. "not steady yet: the last 5 s vary by 18%").
    fn warming(&mut self, name: &str, phase: &str, note: &str);
    /// A measured attempt had caveats and is measured again, `how` ("after a pause",
    /// "after more warm-up"), and why.
    fn retrying(&mut self, name: &str, phase: &str, how: &str, why: &str);
    /// A capacity probe was judged: `outcome` says what it showed ("meets: p99 0.82 ms").
    fn probed(&mut self, _name: &str, _phase: &str, _outcome: &str) {}
    /// A target is done (ok, skipped or failed).
    fn target_finished(&mut self, result: &TargetResult);
}

/// Runs every target and returns the results (also written to `out_dir`). A set `stop`
/// flag ends the run after stopping the current target's processes.
pub fn run_all(
    settings: &RunSettings,
    observer: &mut dyn RunObserver,
    stop: &Arc<AtomicBool>,
) -> anyhow::Result<RunResults> {
    std::fs::create_dir_all(&settings.out_dir)
        .map_err(|e| anyhow::anyhow!("{}: {e}", settings.out_dir.display()))?;
    let mut results = RunResults {
        schema_version: SCHEMA_VERSION,
        run_id: settings.run_id.clone(),
        started_at: now_rfc3339(),
        finished_at: None,
        interrupted: false,
        scenario: crate::results::scenario::ScenarioRecord::of(&settings.scenario)?,
        environment: environment::capture(
            &settings.repo_dir,
            &settings.server_cpus,
            &settings.generator_cpus,
        ),
        store: None,
        cost: settings.cost.as_ref().map(|c| c.counting.clone()),
        targets: Vec::new(),
    };
    results.write(&settings.out_dir)?;
    let mut shared = match start_shared(settings, observer, stop) {
        Ok(shared) => shared,
        Err(reason) => {
            // No database, no database-mode measurement: every target says why.
            results.targets = settings
                .targets
                .iter()
                .map(|t| {
                    let mut result = TargetResult::bare(
                        &t.manifest,
                        results::TargetStatus::Failed,
                        Some(reason.clone()),
                    );
                    result.sessions = 0;
                    result
                })
                .collect();
            results.finished_at = Some(now_rfc3339());
            results.write(&settings.out_dir)?;
            return Ok(results);
        }
    };
    results.store = shared.database_record();
    // Nothing of the harness runs beside the server: this thread (and the samplers it
    // starts) keeps to the generator's CPUs. Builds widen it again while they run.
    let _ = settings.generator_cpus.pin_current_thread();
    let mut results = if settings.scenario.capacity.is_some() {
        capacity_run::run_capacity(settings, observer, stop, results, &mut shared)?
    } else if settings.scenario.interleave {
        run_interleaved(settings, observer, stop, results, &mut shared)?
    } else {
        run_in_turn(settings, observer, stop, results, &mut shared)?
    };
    // Stops the database server the harness started and removes its data (also on
    // Drop, which an error above reaches).
    shared.close();
    results.interrupted = stop.load(Ordering::SeqCst);
    if !results.interrupted {
        results.finished_at = Some(now_rfc3339());
    }
    results.write(&settings.out_dir)?;
    Ok(results)
}

/// Starts the components beside the services (database mode: starts or reaches the
/// database); the error is the reason every target fails with.
fn start_shared(
    settings: &RunSettings,
    observer: &mut dyn RunObserver,
    stop: &Arc<AtomicBool>,
) -> Result<Shared, String> {
    let Some(store) = &settings.store else {
        return Ok(Shared::none());
    };
    observer.phase("postgres", "starting the database");
    PgStore::start(store.source.clone(), &store.schema, Some(Arc::clone(stop)))
        .map(Shared::with_database)
        .map_err(|e| format!("database: {e}"))
}

/// Every target in turn (on each of the scenario's protocols), each with one round
/// holding all its repeats; returns `results` with them added.
fn run_in_turn(
    settings: &RunSettings,
    observer: &mut dyn RunObserver,
    stop: &Arc<AtomicBool>,
    mut results: RunResults,
    shared: &mut Shared,
) -> anyhow::Result<RunResults> {
    let total = settings.targets.len();
    let scenario = &settings.scenario;
    for (index, target) in settings.targets.iter().enumerate() {
        for protocol in scenario.protocols.iter().copied() {
            if stop.load(Ordering::SeqCst) {
                return Ok(results);
            }
            observer.target_started(index, total, target.name());
            let on = settings.on(protocol);
            let result = match unsupported(target, &on) {
                Some(result) => result,
                None => {
                    let mut run = TargetRun::prepare(target, &on, observer, shared);
                    let plan = SessionPlan {
                        round: 1,
                        repeats: scenario.repeats.max(1),
                        capacity: None,
                    };
                    let launches = scenario.startup_samples as usize;
                    run.round(&on, observer, stop, launches, plan, shared.components());
                    run.count(&on, observer, stop);
                    run.release(&on, shared);
                    if stop.load(Ordering::SeqCst) {
                        // The target was cut short: what it has is not a finished result.
                        return Ok(results);
                    }
                    labelled(run.result(&on), &on)
                }
            };
            observer.target_finished(&result);
            results.targets.push(result);
            results.write(&settings.out_dir)?;
        }
    }
    Ok(results)
}

/// The entry of a target that does not serve the run's protocol: reported, with the
/// manifest's reason, never a silent gap. `None` when it serves it.
fn unsupported(target: &Target, settings: &RunSettings) -> Option<TargetResult> {
    let support = target.manifest.protocol_support(settings.protocol);
    let reason = support.reason()?;
    let status = results::TargetStatus::Skipped;
    let why = format!("{} unsupported: {reason}", settings.protocol);
    Some(labelled(
        TargetResult::bare(&target.manifest, status, Some(why)),
        settings,
    ))
}

/// Marks an entry with its protocol when the scenario names protocols.
fn labelled(mut result: TargetResult, settings: &RunSettings) -> TargetResult {
    if settings.scenario.protocols != [ProtocolName::H1] {
        result.protocol = Some(settings.protocol);
    }
    result
}

/// Every target built first, then `repeats` rounds over the targets (each on each of
/// the scenario's protocols), each a fresh process with one repeat per level; the
/// startup launches are spread over the rounds.
fn run_interleaved(
    settings: &RunSettings,
    observer: &mut dyn RunObserver,
    stop: &Arc<AtomicBool>,
    mut results: RunResults,
    shared: &mut Shared,
) -> anyhow::Result<RunResults> {
    let total = settings.targets.len();
    let variants: Vec<RunSettings> = settings
        .scenario
        .protocols
        .iter()
        .map(|&p| settings.on(p))
        .collect();
    // Each entry: the target's index, its settings on one protocol, and its run (or
    // the entry of a protocol it does not serve).
    let mut runs: Vec<(usize, &RunSettings, Result<TargetRun, TargetResult>)> = Vec::new();
    for (index, target) in settings.targets.iter().enumerate() {
        for on in &variants {
            if stop.load(Ordering::SeqCst) {
                return Ok(results);
            }
            observer.target_started(index, total, target.name());
            let run = match unsupported(target, on) {
                Some(result) => Err(result),
                None => Ok(TargetRun::prepare(target, on, observer, shared)),
            };
            runs.push((index, on, run));
        }
    }
    let rounds = settings.scenario.repeats.max(1) as usize;
    let samples = settings.scenario.startup_samples as usize;
    let entries = |runs: &[(usize, &RunSettings, Result<TargetRun, TargetResult>)]| {
        runs.iter()
            .map(|(_, on, run)| match run {
                Ok(run) => labelled(run.result(on), on),
                Err(result) => result.clone(),
            })
            .collect::<Vec<_>>()
    };
    for round in 0..rounds {
        for (index, on, run) in runs.iter_mut() {
            let Ok(run) = run else { continue };
            if stop.load(Ordering::SeqCst) {
                return Ok(results);
            }
            observer.target_started(*index, total, run.name());
            let launches = crate::load::share(samples, rounds, round).len();
            let plan = SessionPlan {
                round: round + 1,
                repeats: 1,
                capacity: None,
            };
            run.round(on, observer, stop, launches, plan, shared.components());
        }
        if stop.load(Ordering::SeqCst) {
            break;
        }
        results.targets = entries(&runs);
        results.write(&settings.out_dir)?;
    }
    if settings.cost.is_some() {
        // Counted after every round, so the counts never run between two rounds' loads.
        for (index, on, run) in runs.iter_mut() {
            let Ok(run) = run else { continue };
            if stop.load(Ordering::SeqCst) {
                return Ok(results);
            }
            observer.target_started(*index, total, run.name());
            run.count(on, observer, stop);
        }
        results.targets = entries(&runs);
        results.write(&settings.out_dir)?;
    }
    for (_, on, run) in runs.iter_mut() {
        if let Ok(run) = run {
            run.release(on, shared);
        }
    }
    if stop.load(Ordering::SeqCst) {
        return Ok(results);
    }
    finished(settings, observer, &results.targets);
    Ok(results)
}

/// Reports `results` finished, each under its own target's position: results reported
/// together at the end (rounds, a capacity run's equal load) once all carried the last
/// target's.
fn finished(settings: &RunSettings, observer: &mut dyn RunObserver, results: &[TargetResult]) {
    let total = settings.targets.len();
    for result in results {
        let index = settings
            .targets
            .iter()
            .position(|t| t.name() == result.name)
            .unwrap_or(0);
        observer.target_started(index, total, &result.name);
        observer.target_finished(result);
    }
}

/// The current time as RFC 3339 UTC, to the second.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// A run id from the current time and the scenario name: `20261130-041500-mixed`.
pub fn new_run_id(scenario: &str) -> String {
    let stamp = now_rfc3339()
        .replace(['-', ':'], "")
        .replace('T', "-")
        .trim_end_matches('Z')
        .to_string();
    format!("{stamp}-{scenario}")
}
