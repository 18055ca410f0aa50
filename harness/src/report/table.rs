//! A plain table (headers, rows, per-column alignment) that the Markdown and HTML
//! renderers both draw, so every report format shows the same figures.

/// One table of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Right-aligned columns (numbers); the rest are left-aligned.
    pub numeric: Vec<bool>,
}

impl Table {
    /// A table with these headers; `numeric` marks the right-aligned columns.
    pub fn new(headers: &[&str], numeric: &[bool]) -> Table {
        Table {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
            numeric: numeric.to_vec(),
        }
    }

    /// Appends a row; short rows are padded with empty cells.
    pub fn push(&mut self, mut row: Vec<String>) {
        row.resize(self.headers.len(), String::new());
        self.rows.push(row);
    }

    /// GitHub-flavoured Markdown, with `|` in cells escaped.
    pub fn to_markdown(&self) -> String {
        let escape = |s: &str| s.replace('|', "\\|").replace('\n', " ");
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

    /// An HTML `<table>` with escaped text.
    pub fn to_html(&self) -> String {
        let class = |i: usize| {
            if self.numeric.get(i).copied().unwrap_or(false) {
                " class=\"num\""
            } else {
                ""
            }
        };
        let mut out = String::from("<table>\n<thead><tr>");
        for (i, h) in self.headers.iter().enumerate() {
            out.push_str(&format!("<th{}>{}</th>", class(i), escape_html(h)));
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for row in &self.rows {
            out.push_str("<tr>");
            for (i, cell) in row.iter().enumerate() {
                out.push_str(&format!("<td{}>{}</td>", class(i), escape_html(cell)));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table>\n");
        out
    }
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
    fn html_escapes_cells() {
        let mut t = Table::new(&["x"], &[false]);
        t.push(vec!["<b>".into()]);
        assert!(t.to_html().contains("<td>&lt;b&gt;</td>"));
    }
}
