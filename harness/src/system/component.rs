//! A component of the system under test that runs beside the service: where its
//! processes are (for memory sampling), which CPUs it has (for its noise), how much
//! CPU it used, and whether it is still running. The database is one kind; a downstream
//! service or a proxy would be another implementation, not a new parameter of `run`.

use std::time::Duration;

use super::Role;
use crate::load::cpus::CpuList;
use crate::sample::TargetCgroup;
use crate::store::PgStore;

/// A running component measured beside the service.
pub trait Component {
    /// Its name in progress lines and results ("postgres").
    fn name(&self) -> &str;
    /// What it is for.
    fn role(&self) -> Role;
    /// The root of its process tree, when it is a process of ours.
    fn pid(&self) -> Option<u32>;
    /// The CPUs it is pinned to, if any.
    fn cpus(&self) -> Option<&CpuList>;
    /// Its own cgroup, if it has one.
    fn cgroup(&self) -> Option<&TargetCgroup>;
    /// Its CPU time so far (exact from its cgroup where it has one), when it is ours.
    fn cpu_time(&self) -> Option<Duration>;
    /// Fails with the reason when it has died.
    fn check_running(&mut self) -> Result<(), String>;
    /// A measured window opens: a component that measures something of its own (the
    /// proxy between two services times the hop) starts afresh. Nothing by default.
    fn window_opened(&mut self) {}
    /// The window closed: what the component measured of the hop in it, if anything.
    fn window_closed(&mut self) -> Option<crate::results::chain::HopRecord> {
        None
    }
}

impl Component for PgStore {
    fn name(&self) -> &str {
        "postgres"
    }

    fn role(&self) -> Role {
        Role::Database
    }

    fn pid(&self) -> Option<u32> {
        self.server().map(|s| s.pid())
    }

    fn cpus(&self) -> Option<&CpuList> {
        self.server()?.cpus()
    }

    fn cgroup(&self) -> Option<&TargetCgroup> {
        self.server()?.cgroup()
    }

    fn cpu_time(&self) -> Option<Duration> {
        let server = self.server()?;
        Some(
            server
                .cgroup()
                .and_then(|c| c.cpu_usage())
                .unwrap_or_else(|| server.usage().cpu),
        )
    }

    fn check_running(&mut self) -> Result<(), String> {
        PgStore::check_running(self).map_err(|e| e.to_string())
    }
}

/// The components beside the service, borrowed for one step of a run. (Owned
/// components: borrowing them for shorter than their life stays possible.)
pub type Components<'a> = Vec<&'a mut (dyn Component + 'static)>;

/// The components of a run's system besides the service: the database, in database
/// mode.
fn beside_service(store: Option<&mut PgStore>) -> Components<'_> {
    store
        .map(|s| s as &mut (dyn Component + 'static))
        .into_iter()
        .collect()
}

/// The components a run starts beside the services it measures, for its whole length:
/// today the database in database mode. Each target's service is launched and stopped
/// by the lifecycle; these outlive it.
#[derive(Default)]
pub struct Shared {
    database: Option<PgStore>,
}

impl Shared {
    /// A system with no component beside the service (memory mode).
    pub fn none() -> Shared {
        Shared::default()
    }

    /// A system whose services keep their data in `database`.
    pub fn with_database(database: PgStore) -> Shared {
        Shared {
            database: Some(database),
        }
    }

    /// The components beside the service, to measure and watch.
    pub fn components(&mut self) -> Components<'_> {
        beside_service(self.database.as_mut())
    }

    /// The database component, which the lifecycle gives each target a database in.
    pub fn database(&mut self) -> Option<&mut PgStore> {
        self.database.as_mut()
    }

    /// The database component's record for results.json.
    pub fn database_record(&self) -> Option<crate::store::StoreRecord> {
        self.database.as_ref().map(PgStore::record)
    }

    /// Stops what the harness started, and removes its data.
    pub fn close(self) {
        if let Some(database) = self.database {
            let _ = database.close();
        }
    }
}
