//! The harness's own PostgreSQL against the machine's real binaries: started,
//! reached, stopped with nothing left; killed under it; and each start-up fault as a
//! one-line error. Servers listen on 127.0.0.1 on ephemeral ports only.

mod pg_support;

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use lanebench::store::{
    DatabaseUrl, PgServer, PgSettings, PgStore, SearchPath, StopKind, StoreError, StoreSource,
};
use pg_support::{fake_bin_dir, open_dir, pg_processes_in, repo_schema, wait_until};

fn settings(parent: &Path) -> PgSettings {
    PgSettings::new(parent)
}

#[test]
fn lifecycle_starts_answers_and_stops_leaving_nothing() {
    let parent = open_dir();
    let mut server = PgServer::start(&settings(parent.path()), None).unwrap();
    let data_dir = server.data_dir();
    assert!(data_dir.join("PG_VERSION").exists());
    let pid = server.pid();
    let processes = pg_processes_in(&data_dir);
    assert!(
        processes.contains(&pid),
        "postmaster {pid} not among {processes:?}"
    );
    assert!(
        processes.len() >= 3,
        "postmaster plus its background processes: {processes:?}"
    );
    if unsafe { libc::geteuid() } == 0 {
        let owner = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap()
            .lines()
            .find(|l| l.starts_with("Uid:"))
            .unwrap()
            .to_string();
        assert!(
            !owner.split_whitespace().skip(1).any(|uid| uid == "0"),
            "runs as root: {owner}"
        );
    }
    let psql = lanebench::store::psql::Psql::new(server.binaries().psql.clone());
    let url = server.url("postgres");
    assert_eq!(
        psql.query(&url, "SELECT 40 + 2", None).unwrap().trim(),
        "42"
    );
    assert_eq!(
        psql.query(&url, "SHOW listen_addresses", None)
            .unwrap()
            .trim(),
        "127.0.0.1"
    );
    let usage = server.usage();
    // The tree holds the backends too, though each left the postmaster's process group.
    assert!(usage.rss_bytes > 0 && usage.processes >= 3, "{usage:?}");
    // Where the machine gives targets a cgroup, the server gets one too, holding all of it.
    if lanebench::sample::TargetCgroup::create("probe").is_ok() {
        let cgroup = server.cgroup().expect("a cgroup for the server");
        let members = cgroup.pids();
        assert!(members.contains(&pid) && members.len() >= 3, "{members:?}");
        assert!(cgroup.memory_current_bytes().is_some_and(|bytes| bytes > 0));
    }
    server.check_running().unwrap();

    assert_eq!(server.stop(), StopKind::Fast);
    assert!(wait_until(Duration::from_secs(5), || pg_processes_in(
        &data_dir
    )
    .is_empty()));
    assert!(!server.instance_dir().exists(), "the folder is removed");
    assert!(
        psql.query(&url, "SELECT 1", None).is_err(),
        "nothing listens any more"
    );
}

#[test]
fn dropping_the_server_stops_it_and_removes_its_folder() {
    let parent = open_dir();
    let server = PgServer::start(&settings(parent.path()), None).unwrap();
    let (data_dir, instance) = (server.data_dir(), server.instance_dir().to_path_buf());
    drop(server);
    assert!(pg_processes_in(&data_dir).is_empty());
    assert!(!instance.exists());
}

#[test]
fn a_server_killed_under_the_harness_is_reported_and_cleaned_up_without_a_hang() {
    let parent = open_dir();
    let mut server = PgServer::start(&settings(parent.path()), None).unwrap();
    let psql = lanebench::store::psql::Psql::new(server.binaries().psql.clone());
    let url = server.url("postgres");
    psql.query(&url, "SELECT 1", None).unwrap();
    let data_dir = server.data_dir();
    unsafe { libc::kill(server.pid() as i32, libc::SIGKILL) };
    let error = loop_until_died(&mut server);
    let text = error.to_string();
    assert!(
        text.contains("PostgreSQL died") && text.contains("SIGKILL"),
        "{text}"
    );
    assert!(!text.contains('\n'), "{text}");
    let started = Instant::now();
    let refused = psql.query(&url, "SELECT 1", None).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "psql took {:?}",
        started.elapsed()
    );
    assert!(
        refused.to_string().starts_with("psql SELECT 1: "),
        "{refused}"
    );
    assert_eq!(server.stop(), StopKind::AlreadyExited);
    // Backends notice their postmaster's death and exit on their own.
    assert!(
        wait_until(Duration::from_secs(10), || pg_processes_in(&data_dir)
            .is_empty()),
        "left behind: {:?}",
        pg_processes_in(&data_dir)
    );
    assert!(!server.instance_dir().exists());
}

fn loop_until_died(server: &mut PgServer) -> StoreError {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match server.check_running() {
            Err(error) => return error,
            Ok(()) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(()) => panic!("the killed server still counts as running"),
        }
    }
}

#[test]
fn a_busy_port_is_refused_by_number() {
    let parent = open_dir();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut settings = settings(parent.path());
    settings.port = Some(port);
    let error = PgServer::start(&settings, None).unwrap_err();
    assert!(matches!(error, StoreError::Port(_)), "{error}");
    assert!(error.to_string().contains(&port.to_string()), "{error}");
    assert_no_instance_left(parent.path());
}

#[test]
fn missing_binaries_name_the_package() {
    let parent = open_dir();
    let empty = parent.path().join("no-postgres-here");
    std::fs::create_dir(&empty).unwrap();
    let mut settings = settings(parent.path());
    settings.search = SearchPath::system(Some(&empty));
    let error = PgServer::start(&settings, None).unwrap_err();
    let text = error.to_string();
    assert!(
        matches!(error, StoreError::BinariesMissing { .. }),
        "{text}"
    );
    assert!(
        text.contains("initdb") && text.contains("apt-get install postgresql"),
        "{text}"
    );
    assert!(
        text.contains(&empty.display().to_string()) && !text.contains('\n'),
        "{text}"
    );
}

#[test]
fn a_failing_initdb_is_reported_with_its_output_and_leaves_no_folder() {
    let parent = open_dir();
    let bin = fake_bin_dir(
        parent.path(),
        "echo 'initdb: error: invalid locale settings; check LANG and LC_* environment variables' >&2; exit 1",
        "exit 0",
    );
    let mut settings = settings(parent.path());
    settings.search = SearchPath::system(Some(&bin));
    let error = PgServer::start(&settings, None).unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, StoreError::InitdbFailed { .. }), "{text}");
    assert!(
        text.contains("exit code 1") && text.contains("invalid locale settings"),
        "{text}"
    );
    assert!(!text.contains('\n'), "{text}");
    assert_no_instance_left(parent.path());
}

#[test]
fn a_server_that_exits_at_start_is_reported_with_its_log() {
    let parent = open_dir();
    let bin = fake_bin_dir(
        parent.path(),
        "mkdir -p \"$2\"; exit 0",
        "echo 'FATAL:  could not map anonymous shared memory: Cannot allocate memory' >&2; exit 1",
    );
    let mut settings = settings(parent.path());
    settings.search = SearchPath::system(Some(&bin));
    let error = PgServer::start(&settings, None).unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, StoreError::StartFailed { .. }), "{text}");
    assert!(
        text.contains("exit code 1") && text.contains("could not map anonymous shared memory"),
        "{text}"
    );
    assert_no_instance_left(parent.path());
}

#[test]
fn an_external_server_gets_only_our_databases_and_they_are_dropped() {
    let parent = open_dir();
    let server = PgServer::start(&settings(parent.path()), None).unwrap();
    let admin = server.url("postgres");
    let schema = parent.path().join("tiny.sql");
    std::fs::write(
        &schema,
        "CREATE TABLE IF NOT EXISTS orders (id bigserial PRIMARY KEY, user_id bigint NOT NULL);\n\
         CREATE TABLE IF NOT EXISTS order_items (order_id bigint NOT NULL, position int NOT NULL);\n",
    )
    .unwrap();
    let url = DatabaseUrl::parse(&admin.secret_string(), false).unwrap();
    let source = StoreSource::External {
        url,
        search: SearchPath::system(None),
    };
    let store = PgStore::start(source, &schema, None).unwrap();
    let record = store.record();
    assert_eq!(record.server, "external");
    assert!(record.version.starts_with("PostgreSQL "), "{record:?}");
    let db = store.create_database("node-http").unwrap();
    assert!(db.database().ends_with("_node_http"), "{db}");
    store
        .query(&db, "INSERT INTO orders (user_id) VALUES (7), (7), (8)")
        .unwrap();
    store
        .query(&db, "INSERT INTO order_items VALUES (1, 0), (1, 1), (2, 0)")
        .unwrap();
    let stored = store.stored_orders(&db, 7).unwrap();
    assert_eq!(
        stored.iter().map(|o| (o.id, o.items)).collect::<Vec<_>>(),
        [(1, 2), (2, 1)]
    );
    let ours = |store_url: &DatabaseUrl| {
        let psql = lanebench::store::psql::Psql::new(server.binaries().psql.clone());
        psql.query(
            store_url,
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'lanebench\\_%'",
            None,
        )
        .unwrap()
        .trim()
        .to_string()
    };
    assert_eq!(ours(&admin), "2", "the template and the target's database");
    store.close().unwrap();
    assert_eq!(ours(&admin), "0", "everything we made is dropped");
}

/// `targets/schema.sql` creates and seeds everything and can be applied again.
#[test]
fn schema_sql_applied_twice_is_a_no_op() {
    let parent = open_dir();
    let store = PgStore::start(
        StoreSource::Harness(settings(parent.path())),
        &repo_schema(),
        None,
    )
    .unwrap();
    let db = store.create_database("schema-twice").unwrap();
    let counts = |store: &PgStore| {
        store
            .query(
                &db,
                "SELECT (SELECT count(*) FROM users), (SELECT min(id) FROM users), \
                 (SELECT max(id) FROM users), (SELECT count(*) FROM orders), \
                 (SELECT count(*) FROM order_items)",
            )
            .unwrap()
    };
    let first = counts(&store);
    assert_eq!(first.trim(), "1000000\t1\t1000000\t0\t0");
    store
        .query(
            &db,
            "INSERT INTO orders (user_id, total, status, created_at) VALUES (5, 1.5, 'created', 0)",
        )
        .unwrap();
    let before = counts(&store);
    store.apply_schema(&db).unwrap();
    assert_eq!(counts(&store), before, "a second apply changes nothing");
    let user = store
        .query(&db, "SELECT id, name, email FROM users WHERE id = 42")
        .unwrap();
    assert_eq!(user.trim(), "42\tUser 42\tuser42@example.com");
}

fn assert_no_instance_left(parent: &Path) {
    let left: Vec<_> = std::fs::read_dir(parent)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("lanebench-pg-"))
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "server folders left: {left:?}");
}
