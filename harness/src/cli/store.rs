//! The database flags shared by `verify` (and, flattened the same way, `run`):
//! `--store`, `--database-url`, `--allow-remote`, `--db-cpus`, `--db-port`,
//! `--db-relaxed-durability`, `--pg-bin`; their validation into a [`StoreSource`]; and
//! what a target in database mode is given.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use clap::ValueEnum;

use crate::load::cpus::CpuList;
use crate::store::{
    DatabaseUrl, Durability, PgSettings, PgStore, SearchPath, StoreRecord, StoreSource, StoredOrder,
};
use crate::verify::OrderDatabase;

/// Where targets keep their orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    /// In process memory (the contract's default).
    Memory,
    /// In PostgreSQL: one the harness starts, or `--database-url`.
    Postgres,
}

/// Database flags.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// Where targets keep orders: `memory`, or `postgres` (a PostgreSQL that lanebench starts from the machine's binaries, one database per target made from targets/schema.sql; or --database-url).
    #[arg(long, value_enum, default_value_t = StoreKind::Memory)]
    pub store: StoreKind,
    /// With --store postgres: use this running server instead of starting one, postgres://USER[:PASSWORD]@HOST[:PORT]/DBNAME (the user needs CREATEDB; lanebench creates and drops its own databases there). Leave the password out and set PGPASSWORD to keep it off the command line.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Accept a --database-url host that is not loopback.
    #[arg(long)]
    pub allow_remote: bool,
    /// CPUs to pin the PostgreSQL that lanebench starts to [verify: not pinned].
    #[arg(long, value_name = "LIST")]
    pub db_cpus: Option<CpuList>,
    /// Port for the PostgreSQL that lanebench starts [default: a free loopback port].
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub db_port: Option<u16>,
    /// Start PostgreSQL with fsync, synchronous_commit and full_page_writes off (not durable; recorded with the results).
    #[arg(long)]
    pub db_relaxed_durability: bool,
    /// Folder holding initdb, postgres and psql [default: PATH, then /usr/lib/postgresql/*/bin, highest version].
    #[arg(long, value_name = "DIR")]
    pub pg_bin: Option<PathBuf>,
}

impl StoreArgs {
    /// True in database mode.
    pub fn is_postgres(&self) -> bool {
        self.store == StoreKind::Postgres
    }

    /// Checks the flags fit together: a one-line error naming the flag, or the server
    /// to use (`None` in memory mode). A started server's folder goes below
    /// `data_parent`; `default_cpus` pins it when `--db-cpus` is not given.
    pub fn source(
        &self,
        data_parent: &Path,
        default_cpus: Option<CpuList>,
    ) -> Result<Option<StoreSource>, String> {
        let local_flags = [
            ("--db-cpus", self.db_cpus.is_some()),
            ("--db-port", self.db_port.is_some()),
            ("--db-relaxed-durability", self.db_relaxed_durability),
        ];
        if !self.is_postgres() {
            let server_flags = [
                ("--database-url", self.database_url.is_some()),
                ("--pg-bin", self.pg_bin.is_some()),
                ("--allow-remote", self.allow_remote),
            ];
            let given = local_flags
                .iter()
                .chain(&server_flags)
                .find(|(_, given)| *given);
            return match given {
                Some((flag, _)) => Err(format!("{flag}: needs --store postgres")),
                None => Ok(None),
            };
        }
        let search = SearchPath::system(self.pg_bin.as_deref());
        if let Some(url) = &self.database_url {
            if let Some((flag, _)) = local_flags.iter().find(|(_, given)| *given) {
                return Err(format!(
                    "{flag}: only for the PostgreSQL lanebench starts, not with --database-url"
                ));
            }
            let url = DatabaseUrl::parse(url, self.allow_remote)
                .map_err(|error| format!("--database-url: {error}"))?;
            let url = password_from_env(url, std::env::var_os("PGPASSWORD"));
            return Ok(Some(StoreSource::External { url, search }));
        }
        if self.allow_remote {
            return Err("--allow-remote: only for --database-url".to_string());
        }
        let cpus = self.db_cpus.clone().or(default_cpus);
        if let Some(cpus) = &cpus {
            if cpus.is_empty() {
                return Err("--db-cpus: the CPU list is empty".to_string());
            }
            cpus.check_allowed()
                .map_err(|error| format!("--db-cpus {error}"))?;
        }
        let mut settings = PgSettings::new(data_parent);
        settings.cpus = cpus;
        settings.port = self.db_port;
        settings.search = search;
        if self.db_relaxed_durability {
            settings.durability = Durability::Relaxed;
        }
        Ok(Some(StoreSource::Harness(settings)))
    }
}

/// One line describing the server, for stderr.
pub fn describe(record: &StoreRecord, store: &PgStore) -> String {
    let version = record
        .settings
        .get("server_version")
        .map_or(record.version.as_str(), String::as_str);
    let durability = match record.durability {
        Durability::Durable => "durable commits",
        Durability::Relaxed => "RELAXED durability (fsync/synchronous_commit/full_page_writes off)",
    };
    match store.server() {
        Some(server) => {
            let (initdb, start) = server.timings();
            format!(
                "PostgreSQL {version} started on 127.0.0.1:{} (pid {}, {durability}, CPUs {}); data in {}; initdb {:.1} s, ready in {:.1} s",
                server.port(),
                server.pid(),
                server.cpus().map_or("not pinned".to_string(), ToString::to_string),
                server.data_dir().display(),
                initdb.as_secs_f64(),
                start.as_secs_f64()
            )
        }
        None => format!("PostgreSQL {version} at {} ({durability})", record.url),
    }
}

/// A target's database as the verify rules see it.
pub struct TargetDatabase<'a> {
    pub store: &'a PgStore,
    pub url: DatabaseUrl,
}

impl OrderDatabase for TargetDatabase<'_> {
    fn stored_orders(&self, user_id: u64) -> Result<Vec<StoredOrder>, String> {
        self.store
            .stored_orders(&self.url, user_id)
            .map_err(|error| format!("reading the database: {error}"))
    }

    fn take_away(&self) -> Result<(), String> {
        self.store
            .drop_database(&self.url)
            .map_err(|error| format!("dropping the database: {error}"))
    }
}

/// A URL without a password takes `PGPASSWORD`'s, as `psql` would: the password can
/// then stay off the command line, which every user of the machine can read.
fn password_from_env(url: DatabaseUrl, env: Option<OsString>) -> DatabaseUrl {
    match env.filter(|p| !p.is_empty()) {
        Some(password) if url.password().is_none() => url.with_password(password.into_vec()),
        _ => url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        store: StoreArgs,
    }

    fn source(args: &[&str]) -> Result<Option<StoreSource>, String> {
        let flags = Flags::try_parse_from(std::iter::once("x").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        flags.store.source(Path::new("/tmp"), None)
    }

    #[test]
    fn memory_mode_refuses_database_flags() {
        assert!(source(&[]).unwrap().is_none());
        for (flag, value) in [
            ("--database-url", Some("postgres://u@127.0.0.1/x")),
            ("--db-port", Some("5432")),
            ("--db-relaxed-durability", None),
            ("--pg-bin", Some("/usr/bin")),
        ] {
            let mut args = vec![flag];
            args.extend(value);
            let error = source(&args).unwrap_err();
            assert_eq!(error, format!("{flag}: needs --store postgres"));
        }
    }

    #[test]
    fn an_external_url_excludes_the_local_server_flags() {
        let url = "postgres://u@127.0.0.1:5432/x";
        let ok = source(&["--store", "postgres", "--database-url", url]).unwrap();
        assert!(matches!(ok, Some(StoreSource::External { .. })));
        let error = source(&[
            "--store",
            "postgres",
            "--database-url",
            url,
            "--db-port",
            "7",
        ])
        .unwrap_err();
        assert!(
            error.starts_with("--db-port: only for the PostgreSQL lanebench starts"),
            "{error}"
        );
        let remote = source(&[
            "--store",
            "postgres",
            "--database-url",
            "postgres://u@10.0.0.9/x",
        ])
        .unwrap_err();
        assert!(
            remote.starts_with("--database-url: ") && remote.contains("--allow-remote"),
            "{remote}"
        );
    }

    #[test]
    fn a_local_server_takes_its_settings_from_the_flags() {
        let Some(StoreSource::Harness(settings)) = source(&[
            "--store",
            "postgres",
            "--db-port",
            "6001",
            "--db-relaxed-durability",
        ])
        .unwrap() else {
            panic!("expected a local server");
        };
        assert_eq!(settings.port, Some(6001));
        assert_eq!(settings.durability, Durability::Relaxed);
        assert_eq!(settings.parent_dir, Path::new("/tmp"));
        let error = source(&["--store", "postgres", "--db-cpus", "1000"]).unwrap_err();
        assert!(error.starts_with("--db-cpus "), "{error}");
    }

    #[test]
    fn pgpassword_fills_a_url_without_a_password_only() {
        let bare = DatabaseUrl::parse("postgres://u@127.0.0.1/x", false).unwrap();
        let filled = password_from_env(bare.clone(), Some("pa/ss".into()));
        assert_eq!(filled.password(), Some(&b"pa/ss"[..]));
        assert_eq!(filled.to_string(), "postgres://u:***@127.0.0.1:5432/x");
        assert_eq!(password_from_env(bare.clone(), Some("".into())), bare);
        let given = DatabaseUrl::parse("postgres://u:mine@127.0.0.1/x", false).unwrap();
        let kept = password_from_env(given, Some("env".into()));
        assert_eq!(kept.password(), Some(&b"mine"[..]));
    }
}
