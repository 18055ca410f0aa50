//! The report's "Database" section, in database mode only: which server the targets
//! used and how it was set up (a relaxed durability is said, not hidden), and per level
//! the service's and the database's share of the CPUs, the verdict on which of them was
//! the bottleneck, and the database's memory beside the target's. The database is the
//! target's component with the database role.

use super::table::Table;
use super::view::{grouped, ReportView};
use crate::results::{Role, RunResults};
use crate::store::Durability;

/// The section's paragraph and table; `None` in memory mode.
pub fn section(view: &ReportView, r: &RunResults) -> Option<(String, Table)> {
    let store = r.store.as_ref()?;
    let version = store.version.split(" on ").next().unwrap_or(&store.version);
    let durability = match store.durability {
        Durability::Relaxed => "RELAXED durability (fsync, synchronous_commit or full_page_writes off: not what a production server runs)".to_string(),
        Durability::Durable => "durable commits (the defaults)".to_string(),
    };
    let place = match &store.cpus {
        Some(cpus) => format!("pinned to CPUs {cpus}"),
        None => "not pinned by lanebench".to_string(),
    };
    let mut table = Table::new(
        &[
            "Framework",
            "Connections",
            "QPS",
            "Service CPU",
            "Database CPU",
            "Bottleneck",
            "Database memory",
        ],
        &[false, true, true, true, true, false, true],
    );
    for t in &view.ranked {
        let database = t.components_with(Role::Database).next();
        let memory = database
            .and_then(|d| d.memory_mb.as_ref())
            .map_or("-".to_string(), |m| {
                format!("{:.0}-{:.0} MiB", m.idle, m.peak)
            });
        for level in &t.levels {
            let database_share = database.and_then(|d| level.component_utilisation(&d.name));
            let share =
                |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.0}%", v * 100.0));
            table.push_for(
                &t.name,
                vec![
                    t.framework.clone(),
                    level.connections.to_string(),
                    grouped(level.success_rps.median),
                    share(Some(level.server_cpu_utilisation)),
                    share(database_share),
                    level.saturation.label().to_string(),
                    memory.clone(),
                ],
            );
        }
    }
    let paragraph = format!(
        "Store: PostgreSQL ({}; {version}), {durability}, {place}; one database per target, a copy of targets/schema.sql. CPU shares are of the CPUs each was pinned to; where the database shares the service's CPUs the two together are the system under test, and the bottleneck is the one that used more.",
        store.server
    );
    Some((paragraph, table))
}
