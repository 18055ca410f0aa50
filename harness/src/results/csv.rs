//! summary.csv: one row per target and level (targets without levels get one row). Its
//! figure columns come from the metric table: the per-target ones in the file's order
//! ([`CSV_TARGET_COLUMNS`]), the per-level ones in the table's order.

use crate::results::metrics::{Metric, Stat, CSV_TARGET_COLUMNS, METRICS};
use crate::results::RunResults;
use crate::stats::Spread;

/// A figure column: its name, its row and which statistic of the figure it holds.
type Column = (&'static str, &'static Metric, Stat);

fn target_columns() -> Vec<Column> {
    columns(
        CSV_TARGET_COLUMNS
            .iter()
            .filter_map(|key| Metric::find(key)),
    )
}

fn level_columns() -> Vec<Column> {
    columns(METRICS.iter().filter(|m| m.is_per_level()))
}

/// Every CSV column of `metrics`, in order: a figure may fill several (one per statistic).
fn columns(metrics: impl Iterator<Item = &'static Metric>) -> Vec<Column> {
    metrics
        .flat_map(|m| {
            m.labels
                .csv
                .iter()
                .map(move |(name, stat)| (*name, m, *stat))
        })
        .collect()
}

/// The value of a column as the CSV writes it: three decimals, empty when absent.
fn cell(spread: Option<Spread>, stat: Stat) -> String {
    spread
        .and_then(|s| stat.of(&s))
        .map(|v| format!("{v:.3}"))
        .unwrap_or_default()
}

fn lowercase<T: serde::Serialize>(value: T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

impl RunResults {
    /// One CSV row per target and level (targets without levels get one row).
    pub fn summary_csv(&self) -> std::io::Result<Vec<u8>> {
        let (per_target, per_level) = (target_columns(), level_columns());
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut header = vec!["target", "framework", "language", "version", "status"];
        header.extend(per_target.iter().map(|c| c.0));
        header.extend(["connections", "rate"]);
        header.extend(per_level.iter().map(|c| c.0));
        header.extend(["saturation", "reason"]);
        w.write_record(&header)?;
        for t in &self.targets {
            let mut head = vec![
                t.name.clone(),
                t.framework.clone(),
                t.language.clone(),
                t.version.clone(),
                lowercase(t.status),
            ];
            head.extend(
                per_target
                    .iter()
                    .map(|(_, metric, stat)| cell(metric.of_target(t), *stat)),
            );
            let reason = t.reason.clone().unwrap_or_default();
            if t.levels.is_empty() {
                let mut row = head.clone();
                row.extend(std::iter::repeat_n(String::new(), per_level.len() + 3));
                row.push(reason.clone());
                w.write_record(&row)?;
            }
            for level in &t.levels {
                let mut row = head.clone();
                row.push(level.connections.to_string());
                row.push(level.rate.map(|v| format!("{v:.3}")).unwrap_or_default());
                row.extend(
                    per_level
                        .iter()
                        .map(|(_, metric, stat)| cell(metric.of_level(level), *stat)),
                );
                row.push(level.saturation.label().to_string());
                row.push(reason.clone());
                w.write_record(&row)?;
            }
        }
        w.into_inner()
            .map_err(|e| std::io::Error::other(e.to_string()))
    }
}
