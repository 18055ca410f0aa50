//! report.html in a real browser: renders the report fixture, opens it from disk in
//! headless Chromium driven over WebDriver (Debian's chromium + chromium-driver), and
//! checks what a reader does with it: no console errors, every chart drawn, sorting by a
//! column, hiding a framework, and a tooltip with an exact value. Saves a screenshot
//! under Cargo's temp directory for integration tests.
//!
//! Skipped (saying so) only when Chromium or its driver is not installed; `scripts/test.sh`
//! installs both, and `.ci/run` sets LANEBENCH_REQUIRE_BROWSER=1, which turns a missing browser
//! into a failure.

use std::io::Write;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, MouseActions, PointerAction};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// The fixture's hyperlane QPS as the comparison table prints it.
const HYPERLANE_QPS: &str = "32,674 req/s";

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.is_file())
}

/// chromedriver and the browser it starts; both die with this guard, panics included.
struct Driver {
    child: Child,
    port: u16,
    /// Unique to this test: finds any browser process left behind.
    profile: tempfile::TempDir,
}

impl Driver {
    fn start(driver: &Path) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let child = Command::new(driver)
            .args([
                format!("--port={port}"),
                "--allowed-ips=127.0.0.1".to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver {
            child,
            port,
            profile: tempfile::tempdir().unwrap(),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The browser runs in chromedriver's process group; anything that left it is
        // found by the profile folder on its command line.
        unsafe { libc::kill(-(self.child.id() as i32), libc::SIGKILL) };
        let _ = self.child.wait();
        let marker = self.profile.path().to_string_lossy().into_owned();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&marker) {
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

/// chromedriver's browser log (console messages and uncaught errors).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

async fn severe_messages(client: &Client) -> Vec<String> {
    let log = client.issue_cmd(BrowserLog).await.unwrap();
    log.as_array()
        .unwrap_or_else(|| panic!("browser log is not a list: {log}"))
        .iter()
        .filter(|e| e["level"] == "SEVERE")
        .map(|e| e["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn run(client: &Client, page: &Path) -> Vec<u8> {
    client
        .goto(&format!("file://{}", page.display()))
        .await
        .unwrap();
    let ready = "return document.documentElement.getAttribute('data-ready') === 'true'";
    client
        .wait()
        .for_element(Locator::Css("html[data-ready=true]"))
        .await
        .unwrap_or_else(|e| panic!("the page script never finished: {e}"));
    assert_eq!(client.execute(ready, vec![]).await.unwrap(), json!(true));

    // No console errors; and the log does report one when there is one.
    assert_eq!(severe_messages(client).await, Vec::<String>::new());
    client
        .execute("console.error('lanebench-probe')", vec![])
        .await
        .unwrap();
    let probe = severe_messages(client).await;
    assert!(
        probe.iter().any(|m| m.contains("lanebench-probe")),
        "{probe:?}"
    );

    // Every chart has a size.
    let sizes = client
        .execute(
            "return Array.from(document.querySelectorAll('figure.chart svg')).map(s => { const r = s.getBoundingClientRect(); return [s.parentNode.id, r.width, r.height]; })",
            vec![],
        )
        .await
        .unwrap();
    let sizes = sizes.as_array().unwrap();
    assert_eq!(sizes.len(), 9, "{sizes:?}");
    for size in sizes {
        assert!(
            size[1].as_f64().unwrap() > 100.0 && size[2].as_f64().unwrap() > 50.0,
            "{size}"
        );
    }

    sorting(client).await;
    filtering(client).await;
    tooltip(client).await;
    client.screenshot().await.unwrap()
}

/// The first column of the comparison table, top to bottom.
async fn first_column(client: &Client) -> Vec<Value> {
    let rows = client
        .execute(
            "return Array.from(document.querySelector('table.sortable').tBodies[0].rows).map(r => [r.cells[0].textContent, parseFloat(r.cells[1].dataset.sort)])",
            vec![],
        )
        .await
        .unwrap();
    rows.as_array().unwrap().clone()
}

async fn sorting(client: &Client) {
    let before = first_column(client).await;
    let qps = |rows: &[Value]| {
        rows.iter()
            .map(|r| r[1].as_f64().unwrap())
            .collect::<Vec<_>>()
    };
    assert!(qps(&before).windows(2).all(|w| w[0] >= w[1]), "{before:?}");
    let header = client
        .find(Locator::Css("table.sortable thead th:nth-child(2)"))
        .await
        .unwrap();
    header.click().await.unwrap();
    let after = first_column(client).await;
    assert_ne!(before, after, "clicking QPS did not reorder the rows");
    assert!(qps(&after).windows(2).all(|w| w[0] <= w[1]), "{after:?}");
    header.click().await.unwrap();
    assert_eq!(
        first_column(client).await,
        before,
        "a second click sorts descending"
    );
}

async fn filtering(client: &Client) {
    let count_shown = "return [arguments[0], Array.from(document.querySelectorAll(arguments[0])).filter(e => getComputedStyle(e).display !== 'none').length]";
    let shown = |selector: &str| {
        let selector = selector.to_string();
        async move {
            let v = client
                .execute(count_shown, vec![json!(selector)])
                .await
                .unwrap();
            v[1].as_u64().unwrap()
        }
    };
    let gin_rows = "tr[data-fw=gin]";
    let gin_marks = "figure.chart g.mark[data-fw=gin]";
    let (rows, marks) = (shown(gin_rows).await, shown(gin_marks).await);
    assert!(rows >= 4 && marks >= 8, "gin rows {rows}, marks {marks}");
    let others = shown("figure.chart g.mark[data-fw=hyperlane]").await;
    let row = client.find(Locator::Css(gin_rows)).await.unwrap();
    assert!(row.is_displayed().await.unwrap());
    let toggle = client
        .find(Locator::Css("input.fw-toggle[value=gin]"))
        .await
        .unwrap();
    toggle.click().await.unwrap();
    assert!(!row.is_displayed().await.unwrap(), "gin's row still shows");
    assert_eq!(shown(gin_rows).await, 0);
    assert_eq!(shown(gin_marks).await, 0);
    assert_eq!(
        shown("figure.chart g.mark[data-fw=hyperlane]").await,
        others
    );
    toggle.click().await.unwrap();
    assert_eq!(
        shown(gin_marks).await,
        marks,
        "ticking gin again shows its marks"
    );
}

async fn tooltip(client: &Client) {
    let tip = client.find(Locator::Id("tooltip")).await.unwrap();
    assert!(!tip.is_displayed().await.unwrap());
    let bar = client
        .find(Locator::Css("#chart-qps g.mark[data-fw=hyperlane] rect"))
        .await
        .unwrap();
    bar.click().await.ok(); // scrolls it into view
    let mouse = MouseActions::new("mouse".to_string()).then(PointerAction::MoveToElement {
        element: bar,
        duration: None,
        x: 0.0,
        y: 0.0,
    });
    client.perform_actions(mouse).await.unwrap();
    assert!(tip.is_displayed().await.unwrap(), "no tooltip over the bar");
    let text = tip.text().await.unwrap();
    assert!(
        text.starts_with(&format!("hyperlane: {HYPERLANE_QPS}")),
        "{text:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_html_works_in_chromium() {
    let (Some(browser), Some(driver)) = (on_path("chromium"), on_path("chromedriver")) else {
        let required = std::env::var_os("LANEBENCH_REQUIRE_BROWSER").is_some();
        assert!(
            !required,
            "LANEBENCH_REQUIRE_BROWSER is set but chromium or chromedriver is not on PATH"
        );
        // Straight to stderr: the test harness would swallow println! from a passing test.
        let _ = std::io::stderr().write_all(
            b"report_browser: SKIPPED: chromium and chromedriver are not on PATH (apt-get install chromium chromium-driver)\n",
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report/results.json");
    std::fs::copy(&fixture, dir.path().join("results.json")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lanebench"))
        .args(["report", dir.path().to_str().unwrap(), "--format", "html"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = dir.path().join("report.html");
    std::fs::write(&page, &out.stdout).unwrap();

    let driver = Driver::start(&driver);
    let profile = driver.profile.path().display().to_string();
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": browser,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=1280,900", format!("--user-data-dir={profile}")],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("WebDriver session");
    let screenshot = run(&client, &page).await;
    client.close().await.unwrap();

    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report_browser");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join("report.png");
    std::fs::write(&shot, &screenshot).unwrap();
    assert_eq!(&screenshot[..4], b"\x89PNG");
    let _ = writeln!(
        std::io::stderr(),
        "report_browser: screenshot {}",
        shot.display()
    );
    drop(driver);
}
