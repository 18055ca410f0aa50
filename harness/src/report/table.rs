//! A plain table (headers, rows, per-column alignment) that the Markdown and HTML
//! renderers both draw, so every report format shows the same figures. In HTML each
//! row carries the target it is about (for the framework filter) and each number cell
//! a sort key (for sorting by a column).

use crate::escape::{markdown, Place};

/// One table of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Right-aligned columns (numbers); the rest are left-aligned.
    pub numeric: Vec<bool>,
    /// The target each row is about, when it is about one.
    pub keys: Vec<Option<String>>,
}

impl Table {
    /// A table with these headers; `numeric` marks the right-aligned columns.
    pub fn new(headers: &[&str], numeric: &[bool]) -> Table {
        Table {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
            numeric: numeric.to_vec(),
            keys: Vec::new(),
        }
    }

    /// Appends a row; short rows are padded with empty cells.
    pub fn push(&mut self, mut row: Vec<String>) {
        row.resize(self.headers.len(), String::new());
        self.rows.push(row);
        self.keys.resize(self.rows.len() - 1, None);
        self.keys.push(None);
    }

    /// Appends a row about `target`.
    pub fn push_for(&mut self, target: &str, row: Vec<String>) {
        self.push(row);
        if let Some(key) = self.keys.last_mut() {
            *key = Some(target.to_string());
        }
    }

    /// GitHub-flavoured Markdown; every cell is escaped (cells hold names and reasons
    /// from results files).
    pub fn to_markdown(&self) -> String {
        let escape = |s: &str| markdown(s, Place::Cell);
        let mut out = format!(
            "| {} |\n|",
            self.headers
                .iter()
                .map(|h| escape(h))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        for i in 0..self.headers.len() {
            let right = self.numeric.get(i).copied().unwrap_or(false);
            out.push_str(if right { "---:|" } else { "---|" });
        }
        out.push('\n');
        for row in &self.rows {
            let cells: Vec<String> = row.iter().map(|c| escape(c)).collect();
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
        out
    }

    /// An HTML `<table>` with escaped text; rows about a target carry `data-fw`, number
    /// cells a `data-sort` key.
    pub fn to_html(&self) -> String {
        let numeric = |i: usize| self.numeric.get(i).copied().unwrap_or(false);
        let mut out = String::from("<table class=\"sortable\">\n<thead><tr>");
        for (i, h) in self.headers.iter().enumerate() {
            let class = if numeric(i) { " class=\"num\"" } else { "" };
            out.push_str(&format!(
                "<th{class} tabindex=\"0\" title=\"Sort by this column\">{}</th>",
                escape_html(h)
            ));
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for (r, row) in self.rows.iter().enumerate() {
            match self.keys.get(r).cloned().flatten() {
                Some(key) => out.push_str(&format!("<tr data-fw=\"{}\">", escape_html(&key))),
                None => out.push_str("<tr>"),
            }
            for (i, cell) in row.iter().enumerate() {
                let sort = match sort_key(cell) {
                    Some(key) if numeric(i) => format!(" class=\"num\" data-sort=\"{key}\""),
                    _ if numeric(i) => " class=\"num\"".to_string(),
                    _ => String::new(),
                };
                out.push_str(&format!("<td{sort}>{}</td>", escape_html(cell)));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table>\n");
        out
    }
}

/// The number a cell sorts by: its first number, thousands separators dropped, in the
/// cell's unit scaled to a common one (s to ms, K to thousands).
pub fn sort_key(cell: &str) -> Option<f64> {
    let start = cell.find(|c: char| c.is_ascii_digit())?;
    let rest = &cell[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
        .unwrap_or(rest.len());
    let mut value: f64 = rest[..end].replace(',', "").parse().ok()?;
    let unit = rest[end..].trim_start();
    let word = unit
        .split(|c: char| !c.is_alphanumeric() && c != 'µ')
        .next()
        .unwrap_or("");
    match word {
        "s" | "K" => value *= 1000.0,
        "µs" => value /= 1000.0,
        _ => {}
    }
    Some(value)
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_aligns_numbers_and_escapes_pipes() {
        let mut t = Table::new(&["name", "qps"], &[false, true]);
        t.push(vec!["a|b".into(), "1".into()]);
        assert_eq!(
            t.to_markdown(),
            "| name | qps |\n|---|---:|\n| a\\|b | 1 |\n"
        );
    }

    #[test]
    fn sort_keys_compare_cells_in_one_unit() {
        assert_eq!(sort_key("48,123"), Some(48_123.0));
        assert_eq!(sort_key("850 ms"), Some(850.0));
        assert_eq!(sort_key("1.25 s (1.20 s-1.30 s)"), Some(1250.0));
        assert_eq!(sort_key("3.5-8.4 MiB"), Some(3.5));
        assert_eq!(sort_key("242K (0.75x hyperlane)"), Some(242_000.0));
        assert_eq!(sort_key("0.70x"), Some(0.7));
        assert_eq!(sort_key("0.012 (!)"), Some(0.012));
        assert_eq!(sort_key("-"), None);
    }

    #[test]
    fn html_rows_carry_their_target() {
        let mut t = Table::new(&["name", "qps"], &[false, true]);
        t.push_for("gin", vec!["Gin".into(), "1,200".into()]);
        t.push(vec!["total".into(), "-".into()]);
        let html = t.to_html();
        assert!(html.contains("<tr data-fw=\"gin\"><td>Gin</td><td class=\"num\" data-sort=\"1200\">1,200</td></tr>"), "{html}");
        assert!(
            html.contains("<tr><td>total</td><td class=\"num\">-</td></tr>"),
            "{html}"
        );
    }

    #[test]
    fn html_escapes_cells() {
        let mut t = Table::new(&["x"], &[false]);
        t.push(vec!["<b>".into()]);
        assert!(t.to_html().contains("<td>&lt;b&gt;</td>"));
    }
}
