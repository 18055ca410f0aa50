//! Presentation of a [`Comparison`]: the plain-text table for the terminal and the
//! GitHub-flavoured markdown for a pull-request comment or job summary. Both lead with
//! the deterministic figures (instruction counts), then the timed ones with how noisy
//! their values were (the coefficient of variation of each side). Names, notes and paths
//! come from the compared files, so the markdown escapes every text it writes.

use super::bootstrap::Contrast;
use super::{Comparison, Figure, Method, Row, Verdict};
use crate::escape::{markdown as escape, Place};

const HEADER: [&str; 9] = [
    "target",
    "figure",
    "baseline",
    "candidate",
    "change",
    "interval",
    "cv base/cand",
    "method",
    "verdict",
];

/// The cells of one row, formatted.
fn cells(row: &Row) -> [String; 9] {
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
        Method::Range if row.figure.is_deterministic() => {
            format!("range {}v{}", row.baseline_n, row.candidate_n)
        }
        Method::Range => "range".to_string(),
        Method::ThresholdOnly => "threshold only".to_string(),
    };
    let verdict = match row.verdict {
        Verdict::Improved => "improved",
        Verdict::Regressed if row.gates => "REGRESSED",
        Verdict::Regressed => "regressed (not gating)",
        Verdict::Unchanged => "unchanged",
        Verdict::NotComparable => "n/a",
        Verdict::Reference => "reference",
    };
    [
        row_name(row),
        format!("{} ({})", row.figure.key(), row.unit),
        format_value(row, row.baseline),
        format_value(row, row.candidate),
        change,
        interval,
        format_cvs(row),
        method,
        verdict.to_string(),
    ]
}

/// `axum/64c` for a level, `axum [user]` for a counted request, `axum` otherwise.
fn row_name(row: &Row) -> String {
    match (&row.level, &row.request) {
        (Some(level), _) => format!("{}/{level}", row.target),
        (None, Some(request)) => format!("{} [{request}]", row.target),
        (None, None) => row.target.clone(),
    }
}

fn format_value(row: &Row, value: f64) -> String {
    match row.unit.as_str() {
        "%" => format!("{:.3}", value * 100.0),
        "req/s" | "instr/req" => format!("{value:.0}"),
        "MiB" => format!("{value:.1}"),
        _ if value >= 100.0 => format!("{value:.1}"),
        _ => format!("{value:.3}"),
    }
}

fn format_change(row: &Row, change: f64) -> String {
    match (row.figure.contrast(), row.figure.is_deterministic()) {
        (Contrast::Ratio, true) => format!("{:+.2}%", change * 100.0),
        (Contrast::Ratio, false) => format!("{:+.1}%", change * 100.0),
        (Contrast::Difference, _) => format!("{:+.2}pp", change * 100.0),
    }
}

fn format_cvs(row: &Row) -> String {
    let digits = if row.figure.is_deterministic() { 3 } else { 1 };
    let cv = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.digits$}%", v * 100.0));
    format!("{}/{}", cv(row.baseline_cv), cv(row.candidate_cv))
}

/// How the verdicts were reached, in a few sentences.
fn method_note(c: &Comparison) -> String {
    let mut note = format!(
        "Verdicts: a figure regressed only when its median change is beyond the threshold \
         (default {:.1}%, error rate {:.1} percentage points, instructions {:.1}%) and, with at least two values per side, \
         the whole {:.0}% bootstrap interval of the change of medians ({} resamples, seed {:#x}) is beyond it too \
         and a one-sided exact Mann-Whitney test gives p <= 0.05 (needs at least 3 values per side). \
         Instruction counts are deterministic: the interval is the one the extremes of the two sides' counts allow, with no rank test.",
        c.thresholds.default * 100.0,
        c.thresholds.of(Figure::Errors) * 100.0,
        c.thresholds.of(Figure::Instructions) * 100.0,
        c.confidence * 100.0,
        c.resamples,
        c.seed
    );
    if c.any_threshold_only() {
        note.push_str(
            " Rows marked \"threshold only\" had one value on a side: no statistics, the threshold alone decided.",
        );
    }
    if let Some(reference) = &c.reference {
        let chain = c.rows.iter().any(|r| r.figure.only_when_present());
        note.push_str(&reference_note(reference, chain));
    }
    let gating: Vec<&str> = c.fail_on.iter().map(|f| f.key()).collect();
    note.push_str(&format!(
        " Figures that fail the job (--fail-on): {}.",
        gating.join(", ")
    ));
    note
}

/// How `--reference` turned figures into ratios, as a sentence of the method note.
fn reference_note(reference: &str, chain: bool) -> String {
    // A chain's figures are named only where the comparison holds them.
    let named = || {
        Figure::ALL
            .into_iter()
            .filter(move |f| chain || !f.only_when_present())
    };
    let ratios: Vec<&str> = named()
        .filter(|f| f.scales_with_machine())
        .map(|f| f.key())
        .collect();
    let absolute: Vec<&str> = named()
        .filter(|f| !f.scales_with_machine())
        .map(|f| f.key())
        .collect();
    format!(
        " With --reference {reference}, {} of every other target are ratios (unit \"x {reference}\"): \
         each repeat's value (startup and cold start: each run's) over {reference}'s median of the same figure \
         at the same level in the same run, so a faster, slower or busier machine cancels out; \
         {} stay absolute, and {reference}'s own ratio figures are shown, not judged (\"reference\").",
        ratios.join(", "),
        absolute.join(", ")
    )
}

/// The line saying what the ratios are taken to, when they are.
fn reference_line(c: &Comparison) -> Option<String> {
    let reference = c.reference.as_ref()?;
    Some(format!(
        "reference: {reference} (figures in \"x {reference}\" are ratios to {reference}'s in the same run)"
    ))
}

/// The headline: what fails the job (regressed, failed, missing), and what regressed
/// without gating.
fn summary(c: &Comparison) -> String {
    let describe = |r: &Row| format!("{} {}", row_name(r), r.figure.key());
    let mut failing: Vec<String> = c.regressions().filter(|r| r.gates).map(describe).collect();
    failing.extend(
        c.failed_in_candidate
            .iter()
            .map(|t| format!("{t} (failed)")),
    );
    let flagged: Vec<String> = c.regressions().filter(|r| !r.gates).map(describe).collect();
    let missing: Vec<String> = c.missing.iter().map(|m| m.label()).collect();
    let mut parts = Vec::new();
    if !failing.is_empty() {
        parts.push(format!(
            "{} regressed: {}",
            failing.len(),
            failing.join(", ")
        ));
    }
    if !missing.is_empty() {
        parts.push(format!(
            "{} missing in the candidate (measured in the baseline): {}",
            missing.len(),
            missing.join(", ")
        ));
    }
    let mut out = if parts.is_empty() {
        "No regression.".to_string()
    } else {
        parts.join("; ")
    };
    if !flagged.is_empty() {
        out.push_str(&format!(
            " Flagged but not failing the job (see --fail-on): {}.",
            flagged.join(", ")
        ));
    }
    out
}

/// The noisiest timed figure of the comparison, as a sentence, if any has repeats.
fn noise_note(c: &Comparison) -> Option<String> {
    let worst = c
        .rows
        .iter()
        .filter(|r| !r.figure.is_deterministic())
        .filter_map(|r| Some((r, r.baseline_cv?.max(r.candidate_cv?))))
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    let (row, _) = worst;
    Some(format!(
        "Timed figures are noisy on a shared machine; in this comparison the noisiest was {} {}: cv {} (baseline/candidate) over {} and {} values.",
        row_name(row),
        row.figure.key(),
        format_cvs(row),
        row.baseline_n,
        row.candidate_n
    ))
}

/// `3 runs, 2 counts`: what a side is made of.
fn side_size(runs: usize, counts: usize) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    match (runs, counts) {
        (_, 0) => plural(runs, "run"),
        (0, _) => plural(counts, "count"),
        _ => format!("{}, {}", plural(runs, "run"), plural(counts, "count")),
    }
}

/// The terminal table, with the sides, the method note and the notes.
pub fn table(c: &Comparison) -> String {
    let rows: Vec<[String; 9]> = c.rows.iter().map(cells).collect();
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
            if i <= 1 || i >= 7 {
                out.push_str(&format!("{cell:<w$}  "));
            } else {
                out.push_str(&format!("{cell:>w$}  "));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = format!(
        "baseline:  {} ({})\ncandidate: {} ({})\n\n",
        c.baseline,
        side_size(c.baseline_runs, c.baseline_counts),
        c.candidate,
        side_size(c.candidate_runs, c.candidate_counts),
    );
    if let Some(line) = reference_line(c) {
        out.insert_str(out.len() - 1, &format!("{line}\n"));
    }
    if c.rows.iter().all(|r| r.method == Method::ThresholdOnly) {
        out.push_str("statistics: none (one run per side): the threshold alone decides; use --repeats or rounds for intervals\n\n");
    }
    out.push_str(&line(&HEADER.map(String::from)));
    for cells in &rows {
        out.push_str(&line(cells));
    }
    out.push('\n');
    out.push_str(&method_note(c));
    out.push('\n');
    if let Some(noise) = noise_note(c) {
        out.push_str(&noise);
        out.push('\n');
    }
    for note in &c.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    for missing in &c.missing {
        out.push_str(&format!(
            "missing: {} (in the baseline, not in the candidate)\n",
            missing.label()
        ));
    }
    out.push_str(&summary(c));
    out.push('\n');
    out
}

/// One markdown table of `rows`, every cell escaped.
fn markdown_table(rows: &[&Row]) -> String {
    let mut out = format!("| {} |\n", HEADER.join(" | "));
    out.push_str("|---|---|--:|--:|--:|--:|--:|---|---|\n");
    for row in rows {
        let mut cells = cells(row).map(|cell| escape(&cell, Place::Cell));
        if row.verdict == Verdict::Regressed && row.gates {
            cells[8] = "**regressed**".to_string();
        }
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}

/// The pull-request comment: deterministic figures first, then the timed ones.
pub fn markdown(c: &Comparison) -> String {
    let mark = if c.regressed() {
        ":x:"
    } else {
        ":white_check_mark:"
    };
    let headline = format!("{mark} **{}**", escape(&summary(c), Place::Block));
    // The paths are the user's, but a folder name may hold anything: no code span, which
    // no escape could protect.
    let sides = format!(
        "Baseline: {} ({}) · Candidate: {} ({})",
        c.baseline,
        side_size(c.baseline_runs, c.baseline_counts),
        c.candidate,
        side_size(c.candidate_runs, c.candidate_counts)
    );
    let mut out = format!(
        "### lanebench compare\n\n{headline}\n\n{}\n\n",
        escape(&sides, Place::Block)
    );
    if let Some(line) = reference_line(c) {
        out.push_str(&escape(&line, Place::Block));
        out.push_str("\n\n");
    }
    if !c.missing.is_empty() {
        out.push_str("#### Missing in the candidate (measured in the baseline)\n\n");
        for missing in &c.missing {
            out.push_str(&format!("- {}\n", escape(&missing.label(), Place::Block)));
        }
        out.push('\n');
    }
    let (counts, timed): (Vec<&Row>, Vec<&Row>) =
        c.rows.iter().partition(|r| r.figure.is_deterministic());
    if !counts.is_empty() {
        out.push_str("#### Instructions per request (deterministic, counted under callgrind)\n\n");
        out.push_str(&markdown_table(&counts));
        out.push('\n');
    }
    if !timed.is_empty() {
        out.push_str("#### Timed figures (noisy on a shared machine; cv = coefficient of variation of each side's rounds)\n\n");
        if let Some(noise) = noise_note(c) {
            out.push_str(&escape(&noise, Place::Block));
            out.push_str("\n\n");
        }
        out.push_str(&markdown_table(&timed));
        out.push('\n');
    }
    out.push_str(&escape(&method_note(c), Place::Block));
    out.push('\n');
    for note in &c.notes {
        out.push_str(&format!("\n- {}", escape(note, Place::Block)));
    }
    if !c.notes.is_empty() {
        out.push('\n');
    }
    out
}
