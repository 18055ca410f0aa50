//! Presentation of a [`Comparison`]: the plain-text table for the terminal and the
//! GitHub-flavoured markdown for a pull-request comment. Both show the same columns.

use super::bootstrap::Contrast;
use super::{Comparison, Method, Row, Verdict};

const HEADER: [&str; 8] = [
    "target",
    "figure",
    "baseline",
    "candidate",
    "change",
    "interval",
    "method",
    "verdict",
];

/// The cells of one row, formatted.
fn cells(row: &Row) -> [String; 8] {
    let name = match &row.level {
        Some(level) => format!("{}/{level}", row.target),
        None => row.target.clone(),
    };
    let change = row
        .change
        .map_or("n/a".to_string(), |c| format_change(row, c));
    let interval = row.interval.map_or("-".to_string(), |(low, high)| {
        format!(
            "[{}, {}]",
            format_change(row, low),
            format_change(row, high)
        )
    });
    let method = match row.method {
        Method::Bootstrap => format!(
            "bootstrap {}v{} p={}",
            row.baseline_n,
            row.candidate_n,
            row.p_value.map_or("-".to_string(), |p| format!("{p:.3}"))
        ),
        Method::Range => "range".to_string(),
        Method::ThresholdOnly => "threshold only".to_string(),
    };
    let verdict = match row.verdict {
        Verdict::Improved => "improved",
        Verdict::Regressed => "REGRESSED",
        Verdict::Unchanged => "unchanged",
        Verdict::NotComparable => "n/a",
    };
    [
        name,
        format!("{} ({})", row.figure.key(), row.unit),
        format_value(row, row.baseline),
        format_value(row, row.candidate),
        change,
        interval,
        method,
        verdict.to_string(),
    ]
}

fn format_value(row: &Row, value: f64) -> String {
    match row.unit {
        "%" => format!("{:.3}", value * 100.0),
        "req/s" => format!("{value:.0}"),
        "MiB" => format!("{value:.1}"),
        _ if value >= 100.0 => format!("{value:.1}"),
        _ => format!("{value:.3}"),
    }
}

fn format_change(row: &Row, change: f64) -> String {
    match row.figure.contrast() {
        Contrast::Ratio => format!("{:+.1}%", change * 100.0),
        Contrast::Difference => format!("{:+.2}pp", change * 100.0),
    }
}

/// How the verdicts were reached, in one or two sentences.
fn method_note(c: &Comparison) -> String {
    let mut note = format!(
        "Verdicts: a figure regressed only when its median change is beyond the threshold \
         (default {:.1}%, error rate {:.1} percentage points) and, with at least two values per side, \
         the whole {:.0}% bootstrap interval of the change of medians ({} resamples, seed {:#x}) is beyond it too \
         and a one-sided exact Mann-Whitney test gives p <= 0.05 (needs at least 3 values per side).",
        c.thresholds.default * 100.0,
        c.thresholds.of(super::Figure::Errors) * 100.0,
        c.confidence * 100.0,
        c.resamples,
        c.seed
    );
    if c.any_threshold_only() {
        note.push_str(
            " Rows marked \"threshold only\" had one value on a side: no statistics, the threshold alone decided.",
        );
    }
    note
}

fn summary(c: &Comparison) -> String {
    let mut regressed: Vec<String> = c
        .regressions()
        .map(|r| cells(r)[0].clone() + " " + r.figure.key())
        .collect();
    regressed.extend(
        c.failed_in_candidate
            .iter()
            .map(|t| format!("{t} (failed)")),
    );
    if regressed.is_empty() {
        "No regression.".to_string()
    } else {
        format!("{} regressed: {}", regressed.len(), regressed.join(", "))
    }
}

/// The terminal table, with the sides, the method note and the notes.
pub fn table(c: &Comparison) -> String {
    let rows: Vec<[String; 8]> = c.rows.iter().map(cells).collect();
    let mut widths = HEADER.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            // Names left-aligned, numbers right-aligned.
            if i <= 1 || i >= 6 {
                out.push_str(&format!("{cell:<w$}  "));
            } else {
                out.push_str(&format!("{cell:>w$}  "));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = format!(
        "baseline:  {} ({} run{})\ncandidate: {} ({} run{})\n\n",
        c.baseline,
        c.baseline_runs,
        if c.baseline_runs == 1 { "" } else { "s" },
        c.candidate,
        c.candidate_runs,
        if c.candidate_runs == 1 { "" } else { "s" },
    );
    if c.rows.iter().all(|r| r.method == Method::ThresholdOnly) {
        out.push_str("statistics: none (one run per side): the threshold alone decides; use --repeats or rounds for intervals\n\n");
    }
    out.push_str(&line(&HEADER.map(String::from)));
    for row in &rows {
        out.push_str(&line(row));
    }
    out.push('\n');
    out.push_str(&method_note(c));
    out.push('\n');
    for note in &c.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    out.push_str(&summary(c));
    out.push('\n');
    out
}

/// The pull-request comment.
pub fn markdown(c: &Comparison) -> String {
    let headline = if c.regressed() {
        format!(":x: **{}**", summary(c))
    } else {
        ":white_check_mark: **No regression.**".to_string()
    };
    let mut out = format!(
        "### lanebench compare\n\n{headline}\n\nBaseline: `{}` ({} run(s)) · Candidate: `{}` ({} run(s))\n\n",
        c.baseline, c.baseline_runs, c.candidate, c.candidate_runs
    );
    out.push_str(&format!("| {} |\n", HEADER.join(" | ")));
    out.push_str("|---|---|--:|--:|--:|--:|---|---|\n");
    for row in &c.rows {
        let mut cells = cells(row);
        if row.verdict == Verdict::Regressed {
            cells[7] = "**regressed**".to_string();
        }
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out.push('\n');
    out.push_str(&method_note(c));
    out.push('\n');
    for note in &c.notes {
        out.push_str(&format!("\n- {note}"));
    }
    if !c.notes.is_empty() {
        out.push('\n');
    }
    out
}
