//! The system under test: the components a benchmark starts, measures and stops, and
//! the one lifecycle that takes them from build to stop.
//!
//! A system is a small graph of components, each with a [`Role`]: the service under
//! test, a downstream service it calls, a database, a proxy between them. The
//! [`lifecycle`] is the only path from "build" to "stopped": `run`, `verify` and `cost`
//! all go through it, so a failure or a stop signal at any step stops what was started
//! and drops what was created, the same way everywhere. The per-process mechanics stay
//! in `crate::targets` (build, launch, readiness, stop) and `crate::store` (PostgreSQL);
//! [`processes`] binds them to the lifecycle's [`Supervisor`] trait, and [`component`]
//! says what a run measures and watches of every component beside the service.
//!
//! [`proxy`] runs the harness's proxy between two services as a component.
//!
//! May use: `targets`, `store`, `sample`, `load::cpus`, `proxy`, and `results::Role` (the role
//! is recorded in results, so its type lives there). Never prints: progress goes
//! through a [`LifecycleObserver`].

pub mod component;
pub mod lifecycle;
pub mod processes;
pub mod proxy;
pub mod service;

pub use component::{Component, Components, Shared};
pub use lifecycle::{
    launch_and_use, prepare, release, run_once, BoxError, DatabaseHandle, Launch, LifecycleError,
    LifecycleObserver, Prepared, Ran, Silent, Step, Supervisor,
};
pub use processes::Processes;
pub use proxy::{ProxyOptions, ProxyProcess};
pub use service::{ServiceComponent, ServicePid};

/// What a component is for; its record lives with the results, which name it.
pub use crate::results::Role;
