//! [`PgStore`]: the server (ours or external) plus the databases made on it.
//!
//! `targets/schema.sql` is applied once, to a template database, followed by
//! `VACUUM ANALYZE`; each target then gets `CREATE DATABASE ... TEMPLATE`, a copy of
//! it. Every target so starts from the same rows, the same planner statistics and the
//! same visibility map (no target pays for autovacuum catching up after the seed), and
//! seeding a million users is paid once instead of once per target.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::binaries::{PgBinaries, SearchPath};
use super::psql::Psql;
use super::server::PgServer;
use super::settings::{Durability, PgSettings};
use super::url::DatabaseUrl;
use super::StoreError;

/// The settings always recorded, whatever their source.
const RECORDED_SETTINGS: &[&str] = &[
    "server_version",
    "fsync",
    "synchronous_commit",
    "full_page_writes",
    "wal_level",
    "wal_sync_method",
    "data_checksums",
    "shared_buffers",
    "effective_cache_size",
    "work_mem",
    "maintenance_work_mem",
    "max_connections",
    "max_wal_size",
    "checkpoint_timeout",
    "random_page_cost",
    "jit",
    "huge_pages",
    "max_worker_processes",
    "max_parallel_workers_per_gather",
    "autovacuum",
    "listen_addresses",
    "port",
    "lc_collate",
    "server_encoding",
];

/// Distinguishes stores made by one harness process (database name prefixes).
static SEQUENCE: AtomicU32 = AtomicU32::new(0);

/// Which server to use.
#[derive(Debug, Clone)]
pub enum StoreSource {
    /// Start one with these settings.
    Harness(PgSettings),
    /// Use a running server; `url` names the database to connect to for creating and
    /// dropping ours (the user needs `CREATEDB`).
    External {
        url: DatabaseUrl,
        search: SearchPath,
    },
}

/// What the results say about the database (see docs/metrics.md): written into
/// results.json as `store` and read back typed by the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreRecord {
    /// Always `postgres`.
    pub store: String,
    /// `harness` (started for this run) or `external` (`--database-url`).
    pub server: String,
    /// The server, password hidden.
    pub url: String,
    /// `SELECT version()`.
    pub version: String,
    /// Read back from the server: `relaxed` if any of fsync, synchronous_commit or
    /// full_page_writes is off, else `durable`.
    pub durability: Durability,
    /// CPUs the harness pinned the server to (`harness` only).
    #[serde(default)]
    pub cpus: Option<String>,
    /// [`RECORDED_SETTINGS`] as `SHOW` reports them.
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// Every setting not at its built-in default, `value (source)`: initdb's
    /// configuration file, the harness's command-line options, an external server's
    /// own configuration.
    #[serde(default)]
    pub changed_settings: BTreeMap<String, String>,
    /// The schema file applied.
    pub schema: PathBuf,
    /// Seconds `initdb` took (`harness` only).
    #[serde(default)]
    pub initdb_s: Option<f64>,
    /// Seconds from spawn to accepting connections (`harness` only).
    #[serde(default)]
    pub start_s: Option<f64>,
    /// Seconds to make the template: schema.sql, then VACUUM ANALYZE (after the first
    /// database is created).
    #[serde(default)]
    pub template_s: Option<f64>,
}

/// An order as stored in the database: its id and how many item rows it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredOrder {
    pub id: u64,
    pub items: u64,
}

#[derive(Debug, Default)]
struct Made {
    template: Option<String>,
    databases: Vec<String>,
    template_s: Option<f64>,
}

/// A PostgreSQL server with the databases the harness made on it.
#[derive(Debug)]
pub struct PgStore {
    server: Option<PgServer>,
    admin: DatabaseUrl,
    psql: Psql,
    schema: PathBuf,
    prefix: String,
    stop: Option<Arc<AtomicBool>>,
    made: Mutex<Made>,
    record: StoreRecord,
}

impl PgStore {
    /// Starts (or reaches) the server and reads its settings. `schema` must be a
    /// readable file. A set `stop` interrupts any step with [`StoreError::Interrupted`].
    pub fn start(
        source: StoreSource,
        schema: &Path,
        stop: Option<Arc<AtomicBool>>,
    ) -> Result<PgStore, StoreError> {
        if let Err(error) = std::fs::metadata(schema).and_then(|m| {
            m.is_file()
                .then_some(())
                .ok_or_else(|| std::io::Error::other("not a file"))
        }) {
            return Err(StoreError::Schema {
                path: schema.to_path_buf(),
                problem: format!("cannot read the schema: {error}"),
            });
        }
        let (server, admin, psql, origin) = match source {
            StoreSource::Harness(settings) => {
                let server = PgServer::start(&settings, stop.as_deref())?;
                let psql = Psql::new(server.binaries().psql.clone());
                let admin = server.url("postgres");
                (Some(server), admin, psql, "harness")
            }
            StoreSource::External { url, search } => {
                let psql = Psql::new(PgBinaries::find_psql(&search)?);
                (None, url, psql, "external")
            }
        };
        let prefix = format!(
            "lanebench_{}_{}",
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        );
        let mut store = PgStore {
            record: StoreRecord {
                store: "postgres".to_string(),
                server: origin.to_string(),
                url: admin
                    .with_database("")
                    .to_string()
                    .trim_end_matches('/')
                    .to_string(),
                version: String::new(),
                durability: Durability::Durable,
                cpus: server
                    .as_ref()
                    .and_then(|s| s.cpus())
                    .map(ToString::to_string),
                settings: BTreeMap::new(),
                changed_settings: BTreeMap::new(),
                schema: schema.to_path_buf(),
                initdb_s: server.as_ref().map(|s| s.timings().0.as_secs_f64()),
                start_s: server.as_ref().map(|s| s.timings().1.as_secs_f64()),
                template_s: None,
            },
            server,
            admin,
            psql,
            schema: schema.to_path_buf(),
            prefix,
            stop,
            made: Mutex::new(Made::default()),
        };
        store.read_settings()?;
        Ok(store)
    }

    /// What the results record about the server.
    pub fn record(&self) -> StoreRecord {
        let mut record = self.record.clone();
        record.template_s = self.made().template_s;
        record
    }

    /// The server the harness runs, if it is one (for its pid, cgroup and state).
    pub fn server(&self) -> Option<&PgServer> {
        self.server.as_ref()
    }

    /// Mutable access to the harness's server (to check it is still running).
    pub fn server_mut(&mut self) -> Option<&mut PgServer> {
        self.server.as_mut()
    }

    /// `Ok` while the server runs (always for an external server; a dead external
    /// server shows up as failing `psql` calls).
    pub fn check_running(&mut self) -> Result<(), StoreError> {
        match &mut self.server {
            Some(server) => server.check_running(),
            None => Ok(()),
        }
    }

    /// Makes a database for `target`, a copy of the schema template (made first if
    /// needed), and returns its URL for `DATABASE_URL`.
    pub fn create_database(&self, target: &str) -> Result<DatabaseUrl, StoreError> {
        let template = self.template()?;
        let name = self.database_name(target);
        self.admin_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
        self.admin_sql(&format!("CREATE DATABASE {name} TEMPLATE {template}"))?;
        self.made().databases.push(name.clone());
        Ok(self.admin.with_database(&name))
    }

    /// Drops a database this store made, terminating its connections. Any other
    /// database (or one already dropped) is left alone.
    pub fn drop_database(&self, url: &DatabaseUrl) -> Result<(), StoreError> {
        let name = url.database().to_string();
        if !self.made().databases.contains(&name) {
            return Ok(());
        }
        self.admin_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
        self.made().databases.retain(|made| *made != name);
        Ok(())
    }

    /// Applies the schema file to database `url` (`psql -v ON_ERROR_STOP=1 -f`).
    pub fn apply_schema(&self, url: &DatabaseUrl) -> Result<(), StoreError> {
        self.psql
            .apply_file(url, &self.schema, self.stop.as_deref())
    }

    /// Runs `sql` in database `url`; rows one a line, fields tab-separated.
    pub fn query(&self, url: &DatabaseUrl, sql: &str) -> Result<String, StoreError> {
        self.psql.query(url, sql, self.stop.as_deref())
    }

    /// The orders of `user_id` in database `url` with their item counts, by id.
    pub fn stored_orders(
        &self,
        url: &DatabaseUrl,
        user_id: u64,
    ) -> Result<Vec<StoredOrder>, StoreError> {
        let sql = format!(
            "SELECT o.id, count(i.order_id) FROM orders o \
             LEFT JOIN order_items i ON i.order_id = o.id \
             WHERE o.user_id = {user_id} GROUP BY o.id ORDER BY o.id"
        );
        let rows = self.query(url, &sql)?;
        rows.lines()
            .filter(|line| !line.is_empty())
            .map(|line| {
                let (id, items) = line.split_once('\t').unwrap_or((line, ""));
                match (id.parse(), items.parse()) {
                    (Ok(id), Ok(items)) => Ok(StoredOrder { id, items }),
                    _ => Err(StoreError::Psql {
                        what: "SELECT orders".to_string(),
                        message: format!("unexpected row {line:?}"),
                    }),
                }
            })
            .collect()
    }

    /// Drops every database this store made (external server) and stops the server
    /// (harness). Also done on drop; this form reports the first failure.
    pub fn close(mut self) -> Result<(), StoreError> {
        let result = self.drop_made();
        if let Some(mut server) = self.server.take() {
            server.stop();
        }
        result
    }

    fn drop_made(&mut self) -> Result<(), StoreError> {
        let made = std::mem::take(&mut *self.made());
        if self.server.is_some() {
            // The whole cluster is about to be removed.
            return Ok(());
        }
        let mut first_error = None;
        for name in made.databases.iter().chain(made.template.iter()) {
            // No stop flag: cleaning up must run even after an interrupt.
            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            if let Err(error) = self.psql.query(&self.admin, &sql, None) {
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn template(&self) -> Result<String, StoreError> {
        if let Some(name) = &self.made().template {
            return Ok(name.clone());
        }
        let started = Instant::now();
        let name = format!("{}_template", self.prefix);
        self.admin_sql(&format!("CREATE DATABASE {name}"))?;
        self.made().template = Some(name.clone());
        let url = self.admin.with_database(&name);
        self.apply_schema(&url)?;
        self.query(&url, "VACUUM ANALYZE")?;
        self.made().template_s = Some(started.elapsed().as_secs_f64());
        Ok(name)
    }

    /// `<prefix>_<target>`: lower-case letters, digits and `_`, at most 63 bytes.
    fn database_name(&self, target: &str) -> String {
        let clean: String = target
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        let mut name = format!("{}_{clean}", self.prefix);
        name.truncate(63);
        name
    }

    fn admin_sql(&self, sql: &str) -> Result<String, StoreError> {
        self.query(&self.admin, sql)
    }

    fn read_settings(&mut self) -> Result<(), StoreError> {
        let names: Vec<String> = RECORDED_SETTINGS.iter().map(|n| format!("'{n}'")).collect();
        let sql = format!(
            "SELECT name, current_setting(name), source FROM pg_settings \
             WHERE name IN ({}) OR source NOT IN ('default', 'override', 'client', 'session') \
             UNION ALL SELECT 'version()', version(), 'server' ORDER BY 1",
            names.join(", ")
        );
        let rows = self.admin_sql(&sql)?;
        for line in rows.lines() {
            let mut fields = line.splitn(3, '\t');
            let (Some(name), Some(value), Some(source)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            if name == "version()" {
                self.record.version = value.to_string();
                continue;
            }
            if RECORDED_SETTINGS.contains(&name) {
                self.record
                    .settings
                    .insert(name.to_string(), value.to_string());
            }
            if source != "default" && source != "override" {
                self.record
                    .changed_settings
                    .insert(name.to_string(), format!("{value} ({source})"));
            }
        }
        let off = |name: &str| self.record.settings.get(name).is_some_and(|v| v == "off");
        self.record.durability =
            if off("fsync") || off("synchronous_commit") || off("full_page_writes") {
                Durability::Relaxed
            } else {
                Durability::Durable
            };
        Ok(())
    }

    fn made(&self) -> MutexGuard<'_, Made> {
        self.made
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        let _ = self.drop_made();
        // The server (if ours) stops in its own Drop.
    }
}
