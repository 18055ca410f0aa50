//! The report's content as a list of blocks (headings, tables, lists, charts), built
//! once and drawn by both the Markdown and the HTML renderer.

use super::charts::ChartKind;
use super::table::Table;
use super::verdicts;
use super::view::{
    display_name, duration_spread, grouped, headline_level, one_line, or_dash, with_protocol,
    ReportView, HIGH_VARIATION_CV,
};
use super::RenderInput;
use crate::results::caveat::describe_all;
use crate::results::metrics::Metric;
use crate::results::{LevelResult, RunResults, TargetResult, TargetStatus};

/// Where the metric definitions live, relative to a results folder under `results/<run-id>/`.
const METRICS_DOC: &str = "../../docs/metrics.md";

/// One piece of a report. Text is plain (names and reasons from results files inside it
/// are not trusted): each renderer escapes it for its format.
#[derive(Debug, Clone)]
pub enum Block {
    Heading(u8, String),
    Paragraph(String),
    Table(Table),
    List(Vec<String>),
    /// Preformatted text (the scenario).
    Code(String),
    /// A chart from `charts/`, with its title and caption.
    Chart {
        kind: ChartKind,
        title: String,
        caption: String,
    },
    /// `lead [text](href).`: a link of ours, kept apart from the escaped text so that no
    /// string from a file can form one.
    Reference {
        lead: &'static str,
        text: &'static str,
        href: &'static str,
    },
}

/// Builds the whole report.
pub fn build(input: &RenderInput) -> Vec<Block> {
    let (view, r) = (&input.view, input.results);
    let mut out = vec![
        Block::Heading(1, format!("lanebench report: {}", r.run_id)),
        Block::Paragraph(run_line(r)),
    ];
    if super::resilience::resilience_only(view) {
        out.push(Block::Paragraph(RESILIENCE_ONLY.to_string()));
    } else if super::capacity::capacity_only(view) {
        out.extend(capacity_claims(input));
    } else {
        out.extend(ladder_blocks(input));
    }
    after_ladder(input, out)
}

const RESILIENCE_ONLY: &str = "A resilience run: each target was measured through episodes of a steady open-loop load with a fault in the middle, not on a load ladder, so there is no comparison of throughput, latency per level or published claims here. See \"Resilience\" below.";

const CAPACITY_ONLY: &str = "A capacity run: each target was measured by open-loop probes searching for the highest rate that meets a latency objective, not on a load ladder, so there is no comparison of peak throughput or latency per level here";

/// A capacity run's opening: what it is, and the published claims held against
/// capacity when its scenario asked for that (`[capacity] claims = true`).
fn capacity_claims(input: &RenderInput) -> Vec<Block> {
    let Some(claims) = super::capacity_claims::section(input.claims, &input.view) else {
        let text = format!("{CAPACITY_ONLY}, nor published claims (the scenario did not ask to hold them against capacity). See \"Capacity\" below.");
        return vec![Block::Paragraph(text)];
    };
    vec![
        Block::Paragraph(format!("{CAPACITY_ONLY}. See \"Capacity\" below.")),
        Block::Heading(2, claims.heading),
        Block::Table(claims.table),
        Block::List(claims.notes),
    ]
}

/// The sections of a run measured on a load ladder: comparison, published claims,
/// latency, throughput, memory and startup.
fn ladder_blocks(input: &RenderInput) -> Vec<Block> {
    let view = &input.view;
    let mut out = vec![
        Block::Heading(2, "Comparison".to_string()),
        Block::Table(comparison_table(view)),
        Block::Paragraph(comparison_note(view).to_string()),
        chart(input, ChartKind::Qps),
    ];
    if let Some(section) = super::protocols::section(view) {
        out.extend([
            Block::Heading(2, "By protocol".to_string()),
            Block::Paragraph(section.intro),
            Block::Table(section.table),
            chart(input, ChartKind::Protocols),
        ]);
    }
    out.extend([
        Block::Heading(2, "Published vs measured".to_string()),
        Block::Table(claims_table(input)),
        Block::List(verdicts::notes(input.claims, view)),
        chart(input, ChartKind::Claims),
        Block::Heading(2, "Latency at the headline level".to_string()),
        Block::Table(latency_table(view)),
        chart(input, ChartKind::Latency),
        Block::Heading(2, "Throughput per level".to_string()),
        Block::Table(throughput_table(view)),
        chart(input, ChartKind::Ladder),
        chart(input, ChartKind::Timeline),
        chart(input, ChartKind::Warmup),
        chart(input, ChartKind::Cost),
        Block::Heading(2, "Memory, startup and cold start".to_string()),
        chart(input, ChartKind::Memory),
        chart(input, ChartKind::Startup),
    ]);
    out
}

/// Every section after the ladder's, appended to `out`.
fn after_ladder(input: &RenderInput, mut out: Vec<Block>) -> Vec<Block> {
    let (view, r) = (&input.view, input.results);
    if let Some(capacity) = super::capacity::section(view) {
        out.extend([
            Block::Heading(2, "Capacity".to_string()),
            Block::Paragraph(capacity.intro),
            Block::Table(capacity.table),
        ]);
        if !capacity.notes.is_empty() {
            out.push(Block::List(capacity.notes));
        }
        out.extend(ChartKind::CAPACITY.map(|kind| chart(input, kind)));
    }
    if let Some((text, table)) = super::database::section(view, r) {
        out.extend([
            Block::Heading(2, "Database".to_string()),
            Block::Paragraph(text),
            Block::Table(table),
        ]);
    }
    if let Some(chain) = super::chain::section(view) {
        out.extend([
            Block::Heading(2, "Service chain".to_string()),
            Block::Paragraph(chain.intro),
            Block::List(chain.set_up),
            Block::Table(chain.table),
        ]);
        out.extend(ChartKind::CHAIN.map(|kind| chart(input, kind)));
    }
    if let Some(resilience) = super::resilience::section(view) {
        out.extend([
            Block::Heading(2, "Resilience".to_string()),
            Block::Paragraph(resilience.intro),
            Block::Table(resilience.table),
            Block::Paragraph(
                "Verdicts, from each framework's episodes with the breaker on:".to_string(),
            ),
            Block::List(resilience.verdicts),
        ]);
        out.extend(
            ChartKind::faults(view)
                .into_iter()
                .map(|kind| chart(input, kind)),
        );
    }
    out.push(Block::Heading(2, "Flags".to_string()));
    out.extend(flags(view));
    out.push(Block::Heading(2, "Skipped and failed targets".to_string()));
    out.push(not_measured(view));
    out.push(Block::Heading(2, "Environment".to_string()));
    out.push(Block::Table(environment_table(r)));
    out.push(Block::Heading(2, "Scenario".to_string()));
    out.push(Block::Code(
        serde_json::to_string_pretty(&r.scenario).unwrap_or_default(),
    ));
    out.push(Block::Heading(2, "Footnotes".to_string()));
    out.push(Block::Reference {
        lead: "Definitions in full:",
        text: "docs/metrics.md",
        href: METRICS_DOC,
    });
    out.push(Block::List(footnotes(view)));
    out
}

/// A chart block with the words that name the report's references.
fn chart(input: &RenderInput, kind: ChartKind) -> Block {
    let (view, published) = (&input.view, &input.claims.reference);
    Block::Chart {
        kind,
        title: kind.title_in(view),
        caption: kind.caption_in(view, published),
    }
}

fn comparison_note(view: &ReportView) -> &'static str {
    if view.by_protocol() {
        return "Grouped by protocol, each group sorted by QPS; ratios are to the reference on the same protocol. Memory is idle-peak of the whole process tree; times are medians (min-max over fresh launches). Definitions: see the footnotes.";
    }
    "Sorted by QPS. Memory is idle-peak of the whole process tree; times are medians \
     (min-max over fresh launches). Definitions: see the footnotes."
}

/// The published-vs-measured table, each row keyed by the target its claim names.
fn claims_table(input: &RenderInput) -> Table {
    let mut table = verdicts::table(&input.checks);
    table.keys = table
        .rows
        .iter()
        .map(|row| {
            let claim = input.claims.claims.iter().find(|c| c.framework == row[0]);
            claim.map(|c| c.target.clone())
        })
        .collect();
    table
}

fn run_line(r: &RunResults) -> String {
    let mut line = format!(
        "Run {} started {}, finished {}.",
        r.run_id,
        r.started_at,
        r.finished_at.as_deref().unwrap_or("never (incomplete)")
    );
    if r.interrupted {
        line.push_str(" The run was interrupted: only the targets that finished are shown.");
    }
    line
}

/// The published layout plus the ratio to the reference, sorted by QPS.
pub fn comparison_table(view: &ReportView) -> Table {
    let vs = format!("vs {}", view.reference);
    let mut t = Table::new(
        &[
            "Framework",
            "QPS",
            "Memory",
            "Startup Time",
            "Cold Start",
            &vs,
        ],
        &[false, true, true, true, true, true],
    );
    for target in &view.ranked {
        t.push_for(
            &target.name,
            vec![
                with_protocol(&display_name(target), target),
                headline_qps(target),
                or_dash(
                    target
                        .memory_mb
                        .as_ref()
                        .map(|m| format!("{:.1}-{:.1} MiB", m.idle, m.peak)),
                ),
                or_dash(target.startup_ms.as_ref().map(duration_spread)),
                or_dash(target.cold_start_ms.as_ref().map(duration_spread)),
                or_dash(view.ratio(target).map(|r| format!("{r:.2}x"))),
            ],
        );
    }
    t
}

/// The headline QPS; one that no level measured cleanly is in parentheses with why.
fn headline_qps(target: &TargetResult) -> String {
    let qps = grouped(target.throughput().unwrap_or(0.0));
    match &target.qps_caveat {
        None => qps,
        Some(why) => format!("({qps}) not a result: {why}"),
    }
}

/// p50/p90/p99/p99.9 at each target's headline level (medians over repeats).
pub fn latency_table(view: &ReportView) -> Table {
    const FIGURES: [&str; 4] = ["p50", "p90", "p99", "p999"];
    let mut headings = vec!["Framework", "Connections"];
    headings.extend(FIGURES.map(heading));
    let mut t = Table::new(&headings, &[false, true, true, true, true, true]);
    for target in &view.ranked {
        let Some(level) = headline_level(target) else {
            continue;
        };
        t.push_for(
            &target.name,
            vec![
                with_protocol(&target.framework, target),
                level.connections.to_string(),
            ]
            .into_iter()
            .chain(FIGURES.map(|key| or_dash(level_figure(key, level))))
            .collect(),
        );
    }
    t
}

/// Every level of every measured target.
pub fn throughput_table(view: &ReportView) -> Table {
    const FIGURES: [&str; 4] = [
        "error_rate",
        "server_cpu_utilisation",
        "cpu_per_success",
        "generator_cpu_utilisation",
    ];
    let mut headings = vec![
        "Framework",
        "Connections",
        heading("throughput"),
        "min-max",
        "cv",
    ];
    headings.extend(FIGURES.map(heading));
    headings.push("limited by");
    let mut t = Table::new(
        &headings,
        &[false, true, true, true, true, true, true, true, true, false],
    );
    for target in &view.ranked {
        for level in &target.levels {
            let cv = level.throughput().cv.map(|cv| {
                let flag = if cv > HIGH_VARIATION_CV { " (!)" } else { "" };
                format!("{cv:.3}{flag}")
            });
            let limited = level.saturation.label().to_string();
            let mut bound = if level.generator_bound {
                " (generator-bound)".to_string()
            } else {
                String::new()
            };
            if !level.caveats.is_empty() {
                bound.push_str(&format!("; {}", describe_all(&level.caveats)));
            }
            let throughput = level.throughput();
            let mut row = vec![
                with_protocol(&target.framework, target),
                level.connections.to_string(),
                grouped(throughput.median),
                format!("{}-{}", grouped(throughput.min), grouped(throughput.max)),
                or_dash(cv),
            ];
            row.extend(FIGURES.map(|key| or_dash(level_figure(key, level))));
            row.push(format!("{limited}{bound}"));
            t.push_for(&target.name, row);
        }
    }
    t
}

/// The report's heading of a metric-table row.
fn heading(key: &str) -> &'static str {
    let metric = Metric::find(key).expect("the report names rows of the metric table");
    metric.labels.report.unwrap_or(metric.key)
}

/// A level's figure (its median over the repeats) as the metric table prints it.
fn level_figure(key: &str, level: &LevelResult) -> Option<String> {
    let metric = Metric::find(key)?;
    metric.of_level(level).map(|s| metric.print(s.median))
}

fn flags(view: &ReportView) -> Vec<Block> {
    let bound = view.generator_bound();
    let varied = view.high_variation();
    let caveats = view.caveats();
    let mut out = vec![Block::Paragraph(
        "Levels that did not cleanly measure the server (busy CPUs on any side, or neither side saturated):"
            .to_string(),
    )];
    out.push(if caveats.is_empty() {
        Block::Paragraph("none.".to_string())
    } else {
        Block::List(caveats)
    });
    out.push(Block::Paragraph("Generator-bound levels:".to_string()));
    out.push(if bound.is_empty() {
        Block::Paragraph("none.".to_string())
    } else {
        Block::List(bound)
    });
    out.push(Block::Paragraph(format!(
        "High-variation figures (cv > {HIGH_VARIATION_CV:.2}):"
    )));
    out.push(if varied.is_empty() {
        Block::Paragraph("none.".to_string())
    } else {
        Block::List(varied)
    });
    out
}

fn not_measured(view: &ReportView) -> Block {
    let lines: Vec<String> = view
        .not_measured()
        .map(|t| {
            let status = if t.status == TargetStatus::Skipped {
                "skipped"
            } else {
                "failed"
            };
            let reason = t.reason.as_deref().unwrap_or("no reason recorded");
            let name = with_protocol(&display_name(t), t);
            let mut line = format!("{name}: {status}: {}", one_line(reason));
            if let Some(last) = t.stderr_tail.iter().rev().find(|l| !l.trim().is_empty()) {
                line.push_str(&format!(" (last stderr line: {})", last.trim()));
            }
            line
        })
        .collect();
    if lines.is_empty() {
        Block::Paragraph("None: every target was measured.".to_string())
    } else {
        Block::List(lines)
    }
}

fn environment_table(r: &RunResults) -> Table {
    let e = &r.environment;
    let list = |cpus: &[usize]| {
        cpus.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut placement = format!(
        "servers on CPUs {}, generator on CPUs {}",
        list(&e.server_cpus),
        list(&e.generator_cpus)
    );
    if e.cpus_shared {
        placement.push_str(" (shared: no saturation verdicts)");
    }
    let mut t = Table::new(&["Item", "Value"], &[false, false]);
    t.push(vec!["CPU".into(), e.cpu_model.clone()]);
    t.push(vec!["Cores".into(), e.cores.to_string()]);
    t.push(vec!["CPU placement".into(), placement]);
    t.push(vec!["Memory".into(), format!("{} MiB", e.memory_mb)]);
    t.push(vec!["OS".into(), format!("{} (kernel {})", e.os, e.kernel)]);
    t.push(vec![
        "lanebench".into(),
        format!(
            "{} ({})",
            e.lanebench_version,
            e.git_revision.as_deref().unwrap_or("revision unknown")
        ),
    ]);
    // A target run on several protocols is one program: it is listed once.
    let mut listed: Vec<&str> = Vec::new();
    for target in &r.targets {
        if listed.contains(&target.name.as_str()) {
            continue;
        }
        listed.push(&target.name);
        t.push_for(
            &target.name,
            vec![
                target.framework.clone(),
                format!(
                    "{} {} ({})",
                    target.language,
                    target.version,
                    target
                        .runtime_version
                        .as_deref()
                        .unwrap_or("runtime version unknown")
                ),
            ],
        );
    }
    t
}

fn footnotes(view: &ReportView) -> Vec<String> {
    let reference = &view.reference;
    let same_protocol = if view.by_protocol() {
        " on the same protocol"
    } else {
        ""
    };
    vec![
        "QPS: the best median rate of successful responses (expected status) over the levels whose error rate is within the scenario's max_error_rate (median over repeats of each level).".to_string(),
        format!("vs {reference}: the framework's QPS divided by {reference}'s QPS{same_protocol} in this run."),
        "Memory: idle (after startup, before load) to peak (the highest 200 ms sample), of the whole process tree, in MiB; PSS where available. Where the target ran in a cgroup, the kernel's exact peak is in results.json as cgroup_peak: it also counts page cache and kernel memory the target caused and catches spikes between samples, so it is usually above the sampled peak.".to_string(),
        "Startup Time: process spawn to the first 200 from the health endpoint, over fresh launches.".to_string(),
        "Cold Start: process spawn to the first correct response of every scenario request on a fresh process.".to_string(),
        "Latency percentiles: from the headline level, median over repeats; measured from the intended send time in open-loop runs.".to_string(),
        "CPU µs/success: server CPU time (user + system of the whole process tree) in the measured window divided by the responses with the expected status, median over repeats.".to_string(),
        "Not a result: no level of the target measured the server cleanly (steal or other processes' CPU above 2% / 5% on the server's, generator's or database's CPUs, or a closed-loop level where neither side was saturated, even after measuring again); the figure is in parentheses with why, ranked after the plain figures and left out of ratios and verdicts.".to_string(),
        "Generator-bound: the load generator's CPUs were busy while the server's were not, so the figure understates the server.".to_string(),
        format!("High variation: coefficient of variation (stdev/mean) above {HIGH_VARIATION_CV:.2} over repeats or launches."),
    ]
}
