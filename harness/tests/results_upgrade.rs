//! A results.json of an older layout reads into this one with the same figures: a
//! version-2 database-mode run (`fixtures/database-v2`, its database figures in
//! database-only fields) becomes the database component's entries, and its report
//! prints the same database table before and after it is written in the new layout.

use std::path::{Path, PathBuf};

use lanebench::results::{Role, RunResults, Saturation, Side, SCHEMA_VERSION};
use serde_json::Value;

mod report_support;
use report_support::stdout_of;

fn fixture_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/database-v2/results.json")
}

fn raw() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture_file()).unwrap()).unwrap()
}

/// report.md of the results in `file`, as `lanebench report` prints it.
fn report_md(file: &Path) -> String {
    stdout_of(&["report", file.to_str().unwrap(), "--format", "md"])
}

/// The report's "Database" section, up to the next section.
fn database_section(md: &str) -> String {
    let start = md.find("## Database").expect("a database section");
    let rest = &md[start + 2..];
    let end = rest.find("\n## ").map_or(rest.len(), |i| i + 1);
    md[start..start + 2 + end].to_string()
}

#[test]
fn a_version_2_database_run_reads_as_the_database_components_entries() {
    let old = raw();
    assert_eq!(old["schema_version"], 2, "the fixture is of the old layout");
    let results = RunResults::load(&fixture_file()).unwrap();
    assert_eq!(results.schema_version, SCHEMA_VERSION);
    let postgres = Saturation::Component {
        name: "postgres".to_string(),
        role: Role::Database,
    };
    for (target, old) in results
        .targets
        .iter()
        .zip(old["targets"].as_array().unwrap())
    {
        let database: Vec<_> = target.components_with(Role::Database).collect();
        assert_eq!(database.len(), 1, "{}", target.name);
        let database = database[0];
        assert_eq!(database.name, "postgres");
        assert_eq!(database.cpus, vec![0], "from the store's record");
        let memory = serde_json::to_value(&database.memory_mb).unwrap();
        assert_eq!(memory, old["database_memory_mb"]);
        assert!(memory["peak"].as_f64().unwrap() > 0.0);
        for (level, old) in target.levels.iter().zip(old["levels"].as_array().unwrap()) {
            let share = level.component_utilisation("postgres");
            assert_eq!(share, old["database_cpu_utilisation"].as_f64());
            assert!(share.is_some());
            assert_eq!(old["saturation"], "database");
            assert_eq!(level.saturation, postgres);
            assert_eq!(level.saturation.label(), "database");
            for (repeat, old) in level.repeats.iter().zip(old["repeats"].as_array().unwrap()) {
                assert_eq!(repeat.components.len(), 1);
                assert_eq!(repeat.components[0].name, "postgres");
                assert_eq!(
                    Some(repeat.components[0].cpu_s),
                    old["database_cpu_s"].as_f64()
                );
            }
        }
    }
}

#[test]
fn the_new_layout_has_no_database_fields_and_names_the_component() {
    let results = RunResults::load(&fixture_file()).unwrap();
    let written = serde_json::to_value(&results).unwrap();
    let target = &written["targets"][0];
    let level = &target["levels"][0];
    assert!(target.get("database_memory_mb").is_none(), "{target}");
    assert!(level.get("database_cpu_utilisation").is_none());
    assert!(level["repeats"][0].get("database_cpu_s").is_none());
    assert_eq!(
        level["saturation"],
        serde_json::json!({"component": {"name": "postgres", "role": "database"}})
    );
    assert_eq!(target["components"][0]["role"], "database");
    // A noise reading on a component's own CPUs is named by its role, as before.
    let side: Side = serde_json::from_value(Value::from("database")).unwrap();
    assert_eq!(side, Side::Component(Role::Database));
    assert_eq!(serde_json::to_value(side).unwrap(), "database");
    assert!(serde_json::from_value::<Side>(Value::from("cache")).is_err());
}

#[test]
fn the_database_table_is_the_same_for_the_old_file_and_its_rewrite() {
    let old_md = report_md(&fixture_file());
    let dir = tempfile::tempdir().unwrap();
    let rewritten = dir.path().join("results.json");
    let results = RunResults::load(&fixture_file()).unwrap();
    std::fs::write(&rewritten, serde_json::to_vec_pretty(&results).unwrap()).unwrap();
    let new_md = report_md(&rewritten);
    let section = database_section(&old_md);
    assert_eq!(section, database_section(&new_md));
    for row in [
        "| hyperlane | 16 | 2,282 | 12% | 87% | database | 30-142 MiB |",
        "| Gin | 64 | 1,506 | 25% | 75% | database | 147-172 MiB |",
    ] {
        assert!(section.contains(row), "{row} not in {section}");
    }
    assert_eq!(old_md, new_md, "the whole report reads the same");
}
