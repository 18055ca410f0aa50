//! lanebench: a load generator and web-framework benchmark harness.
//!
//! Data flows one way: scenario + targets -> system under test -> load engine ->
//! results -> report / compare / export. Layers, lowest first; each may use only the
//! layers below it (docs/architecture.md is the map, with where to add what):
//!
//! 1. `load`: the engine, its own crate (`crates/load`), so the compiler keeps it free
//!    of everything here: schedule, recorder, histograms, results, the protocol seam
//!    with HTTP/1.1's one parser, CPU lists, input bounds, request templates.
//! 2. Foundation: `stats`, `sample`, `atomic_file`, `json_file`, `output_path`,
//!    `escape`, `toml_error`, `limits`, `socket`; and `proxy`, the harness's own HTTP/1.1
//!    proxy between two services (it uses only the engine and `socket`).
//! 3. Inputs: `scenario`, `targets` (manifests, discovery, build, one process's launch,
//!    readiness and stop), `store` (PostgreSQL).
//! 4. `results`: the typed records (and their upgrade from older versions), the one
//!    table of figures and the derived figures; besides the engine's `LoadResult` and
//!    the foundation it uses only the records it keeps of a scenario, a manifest and
//!    the store.
//! 5. `system`: the system under test, its components with roles and the one lifecycle
//!    (build, database, launch, ready, use, stop, release) behind a `Supervisor` trait.
//! 6. Measurement: `run`, `verify`, `cost`. They start and stop processes only through
//!    `system` and report progress through observers.
//! 7. Presentation: `report`, `compare`, `export`. They read `results`, never `run`,
//!    and of the inputs only what a results folder needs (the repository's claims file
//!    and manifests' colours, the store's durability).
//! 8. `cli`: flags and validation; the only module that prints.

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
pub mod proxy;
pub mod report;
pub mod results;
pub mod run;
pub mod sample;
pub mod scenario;
pub mod socket;
pub mod stats;
pub mod store;
pub mod system;
pub mod targets;
pub mod toml_error;
pub mod verify;
