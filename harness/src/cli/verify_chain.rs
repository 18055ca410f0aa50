//! `lanebench verify --chain`: a target checked as a user service, in four parts, each
//! through the one lifecycle:
//!
//! 1. end to end: the order service (`--orders-target`, default the target itself) is
//!    started as any target, then, inside its scope, the user service with
//!    `ORDERS_URL` at it;
//! 2. faults: the user service alone, with `ORDERS_URL` at the harness's fake order
//!    service, a short `DOWNSTREAM_TIMEOUT_MS` and its circuit breaker off;
//! 3. the circuit breaker: the user service as one process with a short breaker
//!    against a fake of its own, then once more with the breaker off;
//! 4. bad environments: the user service started with each value it must refuse.
//!
//! In database mode each service gets its own database, made before the first launch
//! and dropped after the last, whatever happened.

use std::time::Instant;

use anyhow::Context as _;

use super::store::TargetDatabase;
use super::verify_context::{build_log_path, Context, Progress, STOP_GRACE};
use crate::store::DatabaseUrl;
use crate::system::{
    launch_and_use, prepare, release, Launch, LifecycleError, Prepared, Processes, Step, Supervisor,
};
use crate::targets::{describe_status, ReadyError, Target};
use crate::verify::chain::{
    env_rule, verify_breaker, verify_breaker_off, verify_chain_end_to_end, verify_chain_faults,
    ChainDatabases, BAD_ENVIRONMENTS, BREAKER_DOWNSTREAM_TIMEOUT_MS, CHECKED_FAILURES,
    CHECKED_OPEN_MS, FAULT_DOWNSTREAM_TIMEOUT_MS,
};
use crate::verify::fake_orders::FakeOrders;
use crate::verify::{OrderDatabase, RuleOutcome, VerifyReport};

/// Suffix of the user service's database: the order service's keeps the plain name.
const USER_DATABASE_SUFFIX: &str = "users";

/// The two targets of a chain and what preparing them gave.
struct Chain<'t> {
    user: &'t Target,
    orders: &'t Target,
    user_env: Vec<(String, String)>,
    orders_env: Vec<(String, String)>,
    user_database: Option<DatabaseUrl>,
    orders_database: Option<DatabaseUrl>,
}

/// What the parts share of the verify context (not its database, lent to the
/// supervisor).
struct Settings<'c> {
    workers: usize,
    options: &'c crate::verify::VerifyOptions,
    stop: &'c std::sync::atomic::AtomicBool,
}

/// Builds both services, gives each its database, runs the three parts and drops the
/// databases.
pub(super) fn check_chain(
    user: &Target,
    orders: &Target,
    context: &mut Context,
) -> anyhow::Result<VerifyReport> {
    let log_path = build_log_path(user);
    let logs = log_path
        .parent()
        .map(|p| p.to_path_buf())
        .unwrap_or_default();
    let mut processes = Processes::new(logs, context.workers, STOP_GRACE);
    processes.interrupt = Some(&context.stop);
    processes.store = context.store.as_mut();
    let stop = Some(&*context.stop);
    let mut progress = Progress::new(log_path, context.workers);
    let prepared_orders = prepare(&mut processes, &mut progress, orders, stop)?;
    processes.database_suffix = Some(USER_DATABASE_SUFFIX);
    let prepared_user = prepare(&mut processes, &mut progress, user, stop);
    processes.database_suffix = None;
    let prepared_user = match prepared_user {
        Ok(prepared) => prepared,
        Err(error) => {
            let _ = release(&mut processes, prepared_orders);
            return Err(error.into());
        }
    };
    let chain = Chain {
        user,
        orders,
        user_env: prepared_user.env.clone(),
        orders_env: prepared_orders.env.clone(),
        user_database: prepared_user.database.clone(),
        orders_database: prepared_orders.database.clone(),
    };
    let settings = Settings {
        workers: context.workers,
        options: &context.options,
        stop: &context.stop,
    };
    let checked = run_parts(&mut processes, &chain, &settings);
    let released = [prepared_user, prepared_orders]
        .into_iter()
        .map(|prepared: Prepared<DatabaseUrl>| release(&mut processes, prepared))
        .collect::<Result<Vec<()>, LifecycleError>>();
    let report = checked?;
    released.context("dropping the chain's databases")?;
    Ok(report)
}

fn run_parts(
    processes: &mut Processes,
    chain: &Chain,
    context: &Settings,
) -> anyhow::Result<VerifyReport> {
    let mut report = end_to_end(processes, chain, context)?;
    let mut fake = FakeOrders::start().context("starting the fake order service")?;
    report
        .rules
        .extend(faults(processes, chain, context, &mut fake)?);
    report.rules.extend(breaker(processes, chain, context)?);
    for (rule, variable, value) in BAD_ENVIRONMENTS {
        report.rules.push(bad_environment(
            processes,
            chain,
            context,
            &fake,
            (rule, variable, value),
        )?);
    }
    Ok(report)
}

/// The order service, and inside its scope the user service calling it.
fn end_to_end(
    processes: &mut Processes,
    chain: &Chain,
    context: &Settings,
) -> anyhow::Result<VerifyReport> {
    let stop = Some(context.stop);
    // One store per worker process in memory mode: with one worker, the order the user
    // service posted is in the store its next call reads, whichever connection it takes.
    let orders_workers = match chain.orders_database {
        Some(_) => context.workers,
        None => 1,
    };
    processes.workers = orders_workers;
    let mut orders_progress = Progress::new(build_log_path(chain.orders), orders_workers);
    orders_progress.role = Some("order service");
    let port = processes.free_port().map_err(|e| anyhow::anyhow!(e))?;
    let launch = Launch {
        port,
        env: &chain.orders_env,
    };
    let ran = launch_and_use(
        processes,
        &mut orders_progress,
        chain.orders,
        &launch,
        stop,
        |processes, order_service, _| {
            let orders_addr = order_service.addr();
            processes.workers = context.workers;
            let mut env = chain.user_env.clone();
            env.push(("ORDERS_URL".into(), format!("http://{orders_addr}")));
            let mut user_progress = Progress::new(build_log_path(chain.user), context.workers);
            user_progress.role = Some("user service");
            let launch = Launch {
                port: processes.free_port()?,
                env: &env,
            };
            let ran = launch_and_use(
                processes,
                &mut user_progress,
                chain.user,
                &launch,
                stop,
                |processes, user_service, _| {
                    let store = processes.store();
                    let probe = |url: &Option<DatabaseUrl>| {
                        store
                            .zip(url.clone())
                            .map(|(store, url)| TargetDatabase { store, url })
                    };
                    let (users, orders) =
                        (probe(&chain.user_database), probe(&chain.orders_database));
                    let databases =
                        users
                            .as_ref()
                            .zip(orders.as_ref())
                            .map(|(users, orders)| ChainDatabases {
                                users: users as &dyn OrderDatabase,
                                orders: orders as &dyn OrderDatabase,
                            });
                    Ok(verify_chain_end_to_end(
                        user_service.addr(),
                        orders_addr,
                        context.options,
                        databases.as_ref(),
                    ))
                },
            )?;
            Ok(ran.used)
        },
    );
    processes.workers = context.workers;
    Ok(ran?.used)
}

/// The user service calling the fake, which fails in every way in turn.
fn faults(
    processes: &mut Processes,
    chain: &Chain,
    context: &Settings,
    fake: &mut FakeOrders,
) -> anyhow::Result<Vec<RuleOutcome>> {
    let env = fault_env(chain, fake);
    let role = "user service, fake order service";
    on_fake(
        processes,
        chain,
        context,
        (&env, role),
        |addr, still_running| verify_chain_faults(addr, fake, context.options, still_running),
    )
}

/// The circuit breaker rules: one process with a short breaker, then one with none,
/// each calling a fake of their own (the fault part's may hold stalled calls).
fn breaker(
    processes: &mut Processes,
    chain: &Chain,
    context: &Settings,
) -> anyhow::Result<Vec<RuleOutcome>> {
    let mut fake = FakeOrders::start().context("starting the fake order service")?;
    let env = |failures: u64| {
        let mut env = fake_env(chain, &fake, BREAKER_DOWNSTREAM_TIMEOUT_MS);
        env.push(("BREAKER_FAILURES".into(), failures.to_string()));
        env.push(("BREAKER_OPEN_MS".into(), CHECKED_OPEN_MS.to_string()));
        env
    };
    let (on, off) = (env(CHECKED_FAILURES), env(0));
    // One breaker per process: calls counted across several would judge none of them.
    processes.workers = 1;
    let role = "user service, circuit breaker";
    let mut rules = on_fake(processes, chain, context, (&on, role), |addr, _| {
        verify_breaker(addr, &mut fake, context.options)
    });
    if rules.is_ok() {
        let role = "user service, circuit breaker off";
        let off_rules = on_fake(processes, chain, context, (&off, role), |addr, _| {
            verify_breaker_off(addr, &mut fake, context.options)
        });
        rules = rules.and_then(|mut rules| {
            rules.extend(off_rules?);
            Ok(rules)
        });
    }
    processes.workers = context.workers;
    rules
}

/// The user service started alone with `env`, checked by `check` with its address and
/// a way to see whether it is still running.
fn on_fake(
    processes: &mut Processes,
    chain: &Chain,
    context: &Settings,
    (env, role): (&[(String, String)], &'static str),
    check: impl FnOnce(std::net::SocketAddr, &mut dyn FnMut() -> Result<(), String>) -> VerifyReport,
) -> anyhow::Result<Vec<RuleOutcome>> {
    let mut progress = Progress::new(build_log_path(chain.user), processes.workers);
    progress.role = Some(role);
    let launch = Launch {
        port: processes.free_port().map_err(|e| anyhow::anyhow!(e))?,
        env,
    };
    let ran = launch_and_use(
        processes,
        &mut progress,
        chain.user,
        &launch,
        Some(context.stop),
        |_, user_service, _| {
            let addr = user_service.addr();
            let mut still_running = || match user_service.try_exit_status() {
                None => Ok(()),
                Some(status) => Err(describe_status(status)),
            };
            Ok(check(addr, &mut still_running))
        },
    )?;
    Ok(ran.used.rules)
}

/// The user service's environment for the fault part, pointed at the fake, with its
/// circuit breaker off so that every call reaches the fake.
fn fault_env(chain: &Chain, fake: &FakeOrders) -> Vec<(String, String)> {
    let mut env = fake_env(chain, fake, FAULT_DOWNSTREAM_TIMEOUT_MS);
    env.push(("BREAKER_FAILURES".into(), "0".into()));
    env
}

/// The user service's environment pointed at `fake`, with `timeout_ms` as its
/// `DOWNSTREAM_TIMEOUT_MS`.
fn fake_env(chain: &Chain, fake: &FakeOrders, timeout_ms: u64) -> Vec<(String, String)> {
    let mut env = chain.user_env.clone();
    env.push(("ORDERS_URL".into(), format!("http://{}", fake.addr())));
    env.push(("DOWNSTREAM_TIMEOUT_MS".into(), timeout_ms.to_string()));
    env
}

/// The user service started with one bad setting: it must exit with code 2 and one
/// line on stderr, before it is ever ready.
fn bad_environment(
    processes: &mut Processes,
    chain: &Chain,
    context: &Settings,
    fake: &FakeOrders,
    (rule, variable, value): (&str, &str, &str),
) -> anyhow::Result<RuleOutcome> {
    // The breaker left at its defaults (on), so that its settings are read for sure.
    let mut env: Vec<(String, String)> = fake_env(chain, fake, FAULT_DOWNSTREAM_TIMEOUT_MS)
        .into_iter()
        .filter(|(name, _)| name != variable)
        .collect();
    env.push((variable.to_string(), value.to_string()));
    let mut progress = Progress::new(build_log_path(chain.user), context.workers);
    progress.role = Some("user service, bad environment");
    let launch = Launch {
        port: processes.free_port().map_err(|e| anyhow::anyhow!(e))?,
        env: &env,
    };
    let started = Instant::now();
    let ran = launch_and_use(
        processes,
        &mut progress,
        chain.user,
        &launch,
        Some(context.stop),
        |_, _, _| Ok(()),
    );
    let took = started.elapsed();
    let error = match ran {
        Ok(_) => return Ok(env_rule(rule, variable, value, None, took)),
        Err(error) => error,
    };
    let cause = error.cause().and_then(|c| c.downcast_ref::<ReadyError>());
    match (error.step(), cause) {
        (
            Step::Ready,
            Some(ReadyError::Exited {
                status,
                stderr_tail,
                ..
            }),
        ) => Ok(env_rule(
            rule,
            variable,
            value,
            Some((status, stderr_tail)),
            took,
        )),
        (Step::Ready, Some(ReadyError::Timeout { timeout, .. })) => Ok(RuleOutcome {
            rule: rule.to_string(),
            passed: false,
            observed: format!(
                "{variable}={value}: neither exited nor ready within {} s",
                timeout.as_secs()
            ),
        }),
        _ => Err(error.into()),
    }
}
