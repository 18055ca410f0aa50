//! Targets: their manifests, discovery, builds and running processes.
//!
//! Everything `verify` and `run` need to turn a `targets/<name>/` folder into a
//! listening server and back: parse the manifest, check its tools, build, launch on a
//! loopback port (optionally pinned to CPUs), wait for readiness, stop. A target is
//! launched on one protocol (`PROTOCOL`; over TLS with the run's throwaway certificate,
//! `tls_cert`) and reached on it (`connect`: probes and `verify`).

pub mod build;
pub mod colour;
pub mod connect;
pub mod discovery;
mod h2_connection;
pub mod manifest;
pub mod output_tail;
pub mod port;
pub mod process;
pub mod ready;
pub mod tls_cert;

pub use build::{build_target, BuildError, BuildOutcome};
pub use colour::{BadColour, Colour};
pub use connect::{Connector, ConnectorError, H1Stream, H2Connection, H2Error, H2Response};
pub use discovery::{find_targets_dir, first_missing_tool, list_targets, DiscoveryError, Target};
pub use manifest::{CostManifest, Manifest, ManifestError, Support, UNDECLARED, WRAP_VARIABLE};
pub use port::{ensure_port_free, free_loopback_port, PortError};
pub use process::{
    describe_status, LaunchError, LaunchOptions, ReadyError, StopOutcome, TargetProcess,
};
pub use ready::ReadinessProbe;
pub use tls_cert::{TlsCert, TlsCertError};
