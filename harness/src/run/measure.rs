//! One target through a run: checked and built once, then one or more rounds (each some
//! fresh launches for startup and one measured session), then summarized. Any failure
//! ends the target as `failed` with its reason and the server's last stderr lines;
//! what was measured before it is kept.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use super::chain::{
    service_cpus, user_settings, with_chain, DownstreamSwitch, OrderSide, RunChain,
};
use super::environment::runtime_version;
use super::episodes::FaultTools;
use super::failure::{check_stop, Failure};
use super::launches::{launch_figures, time_fresh_launch, LaunchSample};
use super::outcome::SessionOutcome;
use super::process::run_processes;
use super::session::{run_session, SessionContext, SessionPlan};
use super::{RunObserver, RunSettings};
use crate::cost::count_target;
use crate::results::capacity::{CapacityTarget, LoadAt};
use crate::results::chain::ChainTarget;
use crate::results::cost::TargetCost;
use crate::results::resilience::{BreakerSetting, ResilienceTarget};
use crate::results::{TargetResult, TargetStatus};
use crate::scenario::resilience::ResilienceSpec;
use crate::scenario::MIN_STARTUP_SAMPLES;
use crate::store::DatabaseUrl;
use crate::system::{prepare, release, Components, LifecycleObserver, Prepared, Shared, Step};
use crate::targets::Target;

/// A target's measurement in progress.
pub struct TargetRun<'a> {
    target: &'a Target,
    /// The manifest facts, status and failure so far.
    base: TargetResult,
    launches: Vec<LaunchSample>,
    sessions: Vec<SessionOutcome>,
    /// Set when the launch budget cut the launches short.
    budget_note: Option<String>,
    /// Built, with its own database in database mode (and what its processes are
    /// given to reach it); taken when released.
    prepared: Option<Prepared<DatabaseUrl>>,
    /// `run --cost`: the instruction count, once taken.
    cost: Option<TargetCost>,
    /// A service chain's order service: built, with its own database in database mode.
    order: Option<OrderService<'a>>,
    /// A capacity run: whose capacity, and what fraction of it, the equal load was.
    equal_of: Option<(String, f64)>,
}

/// The order service of a target's chain, ready to launch.
struct OrderService<'a> {
    target: &'a Target,
    /// Its own database, in database mode (dropped on release).
    database: Option<DatabaseUrl>,
    env: Vec<(String, String)>,
}

impl<'a> TargetRun<'a> {
    /// Checks the target's tools and builds it (with every CPU of the run: the
    /// measurement's own pinning is not for builds).
    pub fn prepare(
        target: &'a Target,
        settings: &'a RunSettings,
        observer: &mut dyn RunObserver,
        shared: &mut Shared,
    ) -> TargetRun<'a> {
        let mut run = TargetRun {
            target,
            base: TargetResult::bare(&target.manifest, TargetStatus::Ok, None),
            launches: Vec::new(),
            sessions: Vec::new(),
            budget_note: None,
            prepared: None,
            cost: None,
            order: None,
            equal_of: None,
        };
        if let Some(tool) = target.missing_tool() {
            run.base.status = TargetStatus::Skipped;
            run.base.reason = Some(format!("{tool} not found"));
            return run;
        }
        run.base.runtime_version = target
            .manifest
            .runtime_version
            .as_deref()
            .and_then(|c| runtime_version(c, &target.dir));
        let mut processes = run_processes(settings);
        processes.store = shared.database();
        let mut phases = Phases {
            observer,
            built: None,
        };
        let prepared = prepare(&mut processes, &mut phases, target, None);
        // A build that worked counts even when the database step then failed.
        run.base.build_s = phases.built.map(|d| d.as_secs_f64());
        match prepared {
            Ok(prepared) => run.prepared = Some(prepared),
            Err(error) => return run.failed(error.into()),
        }
        if let Some(chain) = &settings.chain {
            match prepare_order_service(target, chain, settings, observer, shared) {
                Ok(order) => run.order = Some(order),
                Err(failure) => run.fail(failure),
            }
        }
        run
    }

    fn failed(mut self, failure: Failure) -> Self {
        self.fail(failure);
        self
    }

    /// Drops the target's database (between targets, as each service owns its data).
    pub fn release(&mut self, settings: &RunSettings, shared: &mut Shared) {
        if let Some(database) = self.order.take().and_then(|o| o.database) {
            if let Some(store) = shared.database() {
                let _ = store.drop_database(&database);
            }
        }
        if let Some(prepared) = self.prepared.take() {
            let mut processes = run_processes(settings);
            processes.store = shared.database();
            let _ = release(&mut processes, prepared);
        }
    }

    /// A capacity run: the equal load about to be measured is `fraction` of the capacity
    /// of target `slowest`.
    pub fn equal_load_of(&mut self, slowest: &str, fraction: f64) {
        self.equal_of = Some((slowest.to_string(), fraction));
    }

    /// The target can still be measured (not skipped, not failed).
    pub fn is_active(&self) -> bool {
        self.base.status == TargetStatus::Ok
    }

    pub fn name(&self) -> &str {
        self.target.name()
    }

    /// One round: `launches` fresh launches timed, then one session of `plan`; in a
    /// chain, all of it with the target's order service running; in a resilience run, a
    /// session for each breaker setting, each with its episodes.
    pub fn round(
        &mut self,
        settings: &RunSettings,
        observer: &mut dyn RunObserver,
        stop: &Arc<AtomicBool>,
        launches: usize,
        plan: SessionPlan,
        components: Components,
    ) {
        if !self.is_active() {
            return;
        }
        let mut env = self.env().to_vec();
        let Some(order) = &self.order else {
            let round = Round::plain(launches, plan, &env, components);
            return self.round_with(settings, observer, stop, round);
        };
        let order_env = order.env.clone();
        let side = OrderSide {
            target: order.target,
            env: &order_env,
            cpus: service_cpus(&settings.server_cpus).1,
        };
        let user_settings = user_settings(settings);
        let name = self.target.name().to_string();
        let ran = with_chain(
            settings,
            stop,
            &side,
            observer,
            &name,
            components,
            |observer, handles, components| {
                env.extend(handles.env);
                let round = Round::plain(launches, plan, &env, components);
                match &settings.scenario.resilience {
                    None => self.round_with(&user_settings, observer, stop, round),
                    Some(spec) => {
                        let faults = (handles.proxy_control, handles.downstream, spec);
                        self.resilience_rounds(&user_settings, observer, stop, round, faults);
                    }
                }
            },
        );
        if let Err(failure) = ran {
            self.fail(failure);
        }
    }

    /// A resilience round: a session for each breaker setting, each on a user service
    /// launched with its breaker's environment, the launches timed only before the first.
    fn resilience_rounds(
        &mut self,
        settings: &RunSettings,
        observer: &mut dyn RunObserver,
        stop: &Arc<AtomicBool>,
        mut round: Round,
        (proxy_control, downstream, spec): (
            Option<std::net::SocketAddr>,
            &mut dyn DownstreamSwitch,
            &ResilienceSpec,
        ),
    ) {
        for (i, breaker) in breaker_settings(spec).into_iter().enumerate() {
            let (variant_env, failures) = breaker_env(round.env, spec, breaker);
            let faults = FaultTools {
                proxy_control,
                downstream: &mut *downstream,
                breaker,
                breaker_failures: failures,
            };
            let variant = Round {
                launches: if i == 0 { round.launches } else { 0 },
                plan: round.plan,
                env: &variant_env,
                components: round.components.iter_mut().map(|c| &mut **c).collect(),
                faults: Some(faults),
            };
            self.round_with(settings, observer, stop, variant);
            if !self.is_active() {
                break;
            }
        }
    }

    /// The launches and the session of a round.
    fn round_with(
        &mut self,
        settings: &RunSettings,
        observer: &mut dyn RunObserver,
        stop: &Arc<AtomicBool>,
        round: Round,
    ) {
        let Round {
            launches,
            plan,
            env,
            mut components,
            faults,
        } = round;
        let scenario = &settings.scenario;
        let total = scenario.startup_samples as usize;
        // This round's share of the launch budget (the rounds split it like the launches).
        let budget = scenario
            .startup_budget
            .mul_f64(launches as f64 / total.max(1) as f64);
        let minimum = (MIN_STARTUP_SAMPLES as usize * launches).div_ceil(total.max(1));
        let started = std::time::Instant::now();
        for taken_here in 0..launches {
            if let Err(failure) = check_stop(stop) {
                return self.fail(failure);
            }
            if taken_here >= minimum && started.elapsed() >= budget {
                self.budget_note = Some(format!(
                    "launching stopped early: the {} launch budget was used (a slow starter)",
                    humantime::format_duration(scenario.startup_budget)
                ));
                break;
            }
            let taken = self.launches.len() + 1;
            observer.phase(self.name(), &format!("startup {taken}/{total}"));
            match time_fresh_launch(self.target, settings, env) {
                Ok(sample) => self.launches.push(sample),
                Err(failure) => return self.fail(failure),
            }
        }
        for component in components.iter_mut() {
            if let Err(e) = component.check_running() {
                let role = component.role().label();
                return self.fail(Failure::new(format!("{role}: {e}")));
            }
        }
        let context = SessionContext {
            target: self.target,
            settings,
            stop,
            env,
            components,
            faults,
        };
        let mut session = run_session(context, observer, plan);
        let failure = session.failure.take();
        self.sessions.push(session);
        if let Some(failure) = failure {
            self.fail(failure);
        }
    }

    /// `run --cost`: counts instructions per request under callgrind, after the timed
    /// rounds (a target that failed them is not counted). A failed count is the count's
    /// status, not the target's: the timed figures stand.
    pub fn count(
        &mut self,
        settings: &RunSettings,
        observer: &mut dyn RunObserver,
        stop: &AtomicBool,
    ) {
        let Some(cost) = &settings.cost else {
            return;
        };
        if !self.is_active() || check_stop(stop).is_err() {
            return;
        }
        observer.phase(self.name(), "instruction count under callgrind");
        // Timing does not matter here, only the count: every CPU keeps it short.
        let all = settings.server_cpus.union(&settings.generator_cpus);
        let counted = all.while_pinned(|| count_target(self.target, &cost.settings, stop));
        self.cost = Some(counted);
    }

    /// What the target's processes are given (its database's address).
    fn env(&self) -> &[(String, String)] {
        self.prepared.as_ref().map_or(&[], |p| p.env.as_slice())
    }

    fn fail(&mut self, failure: Failure) {
        self.base.status = TargetStatus::Failed;
        self.base.reason = Some(failure.reason);
        self.base.stderr_tail = failure.stderr_tail;
    }

    /// The target's result from what has been measured so far.
    pub fn result(&self, settings: &RunSettings) -> TargetResult {
        let mut result = self.base.clone();
        if result.status != TargetStatus::Skipped {
            let mut launches = launch_figures(&self.launches);
            if let Some(note) = &self.budget_note {
                let taken = self.launches.len();
                launches.notes.push(format!(
                    "{note}: {taken} of {} launches",
                    settings.scenario.startup_samples
                ));
            }
            // A chain's levels are judged as they were measured: against the user service's CPUs.
            let judged_by = match self.order {
                Some(_) => std::borrow::Cow::Owned(user_settings(settings)),
                None => std::borrow::Cow::Borrowed(settings),
            };
            result = super::summary::complete(result, launches, &self.sessions, &judged_by);
        }
        result.cost = self.cost.clone();
        let episodes: Vec<_> = self
            .sessions
            .iter()
            .flat_map(|s| s.episodes.clone())
            .collect();
        if settings.scenario.resilience.is_some() {
            result.resilience = Some(ResilienceTarget { episodes });
        }
        if let Some(spec) = &settings.scenario.capacity {
            result.capacity = Some(self.capacity_record(spec, settings));
        }
        if let (Some(chain), Some(spec)) = (&settings.chain, &settings.scenario.chain) {
            result.chain = Some(ChainTarget {
                order_service: chain
                    .fixed_order
                    .as_ref()
                    .map_or(self.target.name(), |t| t.name())
                    .to_string(),
                via_proxy: chain.proxy,
                baseline: spec.baseline_text.clone(),
            });
        }
        result
    }
}

impl TargetRun<'_> {
    /// A capacity run's record from the sessions so far.
    fn capacity_record(
        &self,
        spec: &crate::scenario::capacity::CapacitySpec,
        settings: &RunSettings,
    ) -> CapacityTarget {
        let sessions = || self.sessions.iter().filter_map(|s| s.capacity.as_ref());
        let equal_load = sessions().find_map(|s| s.equal_load.clone());
        CapacityTarget {
            objective: spec.objective,
            server_cpus: settings.server_cpus.len(),
            searches: sessions().flat_map(|s| s.searches.clone()).collect(),
            own_load: sessions().find_map(|s| s.own_load.clone()),
            equal_load: equal_load.map(|probe| {
                let (of, fraction) = self.equal_of.clone().unwrap_or_default();
                LoadAt {
                    fraction,
                    of,
                    probe,
                }
            }),
        }
    }
}

/// The order service of `user`'s chain: the scenario's fixed one (built here when it is
/// another target) or `user` itself, with a database of its own in database mode.
fn prepare_order_service<'a>(
    user: &'a Target,
    chain: &'a RunChain,
    settings: &RunSettings,
    observer: &mut dyn RunObserver,
    shared: &mut Shared,
) -> Result<OrderService<'a>, Failure> {
    let target = chain.fixed_order.as_ref().unwrap_or(user);
    if target.name() != user.name() {
        if let Some(tool) = target.missing_tool() {
            return Err(Failure::new(format!(
                "order service {}: {tool} not found",
                target.name()
            )));
        }
        let mut processes = run_processes(settings);
        let mut phases = Phases {
            observer,
            built: None,
        };
        prepare(&mut processes, &mut phases, target, None)
            .map_err(|e| Failure::new(format!("order service {}: {e}", target.name())))?;
    }
    let mut order = OrderService {
        target,
        database: None,
        env: Vec::new(),
    };
    if let Some(store) = shared.database() {
        // The design's database per service: the user service's is the target's own.
        let name = format!("{}-orders", user.name());
        let url = store
            .create_database(&name)
            .map_err(|e| Failure::new(format!("database: order service: {e}")))?;
        order.env = crate::store::target_env(&url);
        order.database = Some(url);
    }
    Ok(order)
}

/// One round's launches and session: how many launches, the session's plan, what the
/// processes are given, the components beside them and, in a resilience run, the faults.
struct Round<'e, 'c, 'f> {
    launches: usize,
    plan: SessionPlan,
    env: &'e [(String, String)],
    components: Components<'c>,
    faults: Option<FaultTools<'f>>,
}

impl<'e, 'c> Round<'e, 'c, '_> {
    /// A round without faults.
    fn plain(
        launches: usize,
        plan: SessionPlan,
        env: &'e [(String, String)],
        components: Components<'c>,
    ) -> Self {
        Round {
            launches,
            plan,
            env,
            components,
            faults: None,
        }
    }
}

/// The breaker settings a resilience run measures: the target's breaker, and with
/// `breaker_off` the same episodes without one.
fn breaker_settings(spec: &ResilienceSpec) -> Vec<BreakerSetting> {
    let mut settings = vec![BreakerSetting::On];
    if spec.breaker_off {
        settings.push(BreakerSetting::Off);
    }
    settings
}

/// The user service's environment for `breaker`, and the `BREAKER_FAILURES` it sets.
fn breaker_env(
    env: &[(String, String)],
    spec: &ResilienceSpec,
    breaker: BreakerSetting,
) -> (Vec<(String, String)>, Option<u64>) {
    let failures = match breaker {
        BreakerSetting::On => spec.breaker_failures,
        BreakerSetting::Off => Some(0),
    };
    let mut env = env.to_vec();
    if let Some(n) = failures {
        env.push(("BREAKER_FAILURES".to_string(), n.to_string()));
    }
    if let Some(ms) = spec.breaker_open_ms {
        env.push(("BREAKER_OPEN_MS".to_string(), ms.to_string()));
    }
    (env, failures)
}

/// The run's phases for the lifecycle's build and database steps, and the build's
/// time.
struct Phases<'o> {
    observer: &'o mut dyn RunObserver,
    built: Option<Duration>,
}

impl LifecycleObserver for Phases<'_> {
    fn step(&mut self, target: &Target, step: Step) {
        match step {
            Step::Build => self.observer.phase(target.name(), "build"),
            Step::Database => self.observer.phase(target.name(), "database"),
            _ => {}
        }
    }

    fn built(&mut self, _: &Target, took: Duration) {
        self.built = Some(took);
    }
}
