//! lanebench: a load generator and web-framework benchmark harness.
//!
//! Data flows one way: scenario + targets -> plan -> load/supervision -> results ->
//! report / charts / compare. Nothing upstream knows about presentation; the `cli`
//! module is the only place that prints.
//!
//! Supervision is `system`: the one lifecycle of a system under test (build, database,
//! launch, ready, use, stop, drop) and its components with their roles; `run`, `verify`
//! and `cost` start and stop processes only through it.

pub mod atomic_file;
pub mod cli;
pub mod compare;
pub mod cost;
pub mod escape;
pub mod export;
pub mod json_file;
/// The load engine, its own crate (`crates/load`): it may use nothing of the harness.
pub use lanebench_load as load;
pub mod limits;
pub mod output_path;
pub mod report;
pub mod results;
pub mod run;
pub mod sample;
pub mod scenario;
pub mod stats;
pub mod store;
pub mod system;
pub mod targets;
pub mod toml_error;
pub mod verify;
