//! report.html: one self-contained page (inline CSS, charts inlined as SVG, no external
//! references) with the same blocks as report.md.

use super::charts::ChartKind;
use super::document::{self, Block};
use super::table::escape_html;
use super::{RenderInput, Renderer, ReportError};

/// The report.html renderer.
pub struct Html;

impl Renderer for Html {
    fn render(&self, input: &RenderInput) -> Result<Vec<u8>, ReportError> {
        let mut svgs = Vec::new();
        for kind in ChartKind::ALL {
            svgs.push((kind, kind.svg(&input.view)?));
        }
        let lookup = |kind: ChartKind| {
            svgs.iter()
                .find(|(k, _)| *k == kind)
                .map(|(_, svg)| svg.clone())
        };
        let blocks = document::build(&input.view, input.claims);
        let title = format!("lanebench report: {}", input.results.run_id);
        Ok(render(&title, &blocks, &lookup).into_bytes())
    }
}

const STYLE: &str = "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;margin:2em auto;max-width:1240px;color:#222;padding:0 1em}\
table{border-collapse:collapse;margin:1em 0;font-size:14px}\
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}\
th{background:#f2f2f2}td.num,th.num{text-align:right}\
pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:13px}\
figure{margin:1em 0}figure svg{max-width:100%;height:auto}";

/// Renders the blocks as HTML; `svg` gives the inline SVG text of each chart.
fn render(title: &str, blocks: &[Block], svg: &dyn Fn(ChartKind) -> Option<String>) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape_html(title)
    );
    for block in blocks {
        match block {
            Block::Heading(level, text) => {
                out.push_str(&format!("<h{level}>{}</h{level}>\n", escape_html(text)))
            }
            Block::Paragraph(text) => out.push_str(&format!("<p>{}</p>\n", inline(text))),
            Block::Table(table) => out.push_str(&table.to_html()),
            Block::List(items) => {
                out.push_str("<ul>\n");
                for item in items {
                    out.push_str(&format!("<li>{}</li>\n", inline(item)));
                }
                out.push_str("</ul>\n");
            }
            Block::Code(text) => out.push_str(&format!("<pre>{}</pre>\n", escape_html(text))),
            Block::Chart(kind) => {
                if let Some(svg) = svg(*kind) {
                    out.push_str(&format!(
                        "<figure>\n{}\n</figure>\n",
                        strip_xml_prolog(&svg)
                    ));
                }
            }
        }
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// Escapes text; a Markdown link `[text](target)` becomes its text plus the target in
/// parentheses, since a relative link may not resolve wherever the page is opened.
fn inline(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('[') {
        let Some(mid) = rest[start..].find("](").map(|i| start + i) else {
            break;
        };
        let Some(end) = rest[mid..].find(')').map(|i| mid + i) else {
            break;
        };
        out.push_str(&escape_html(&rest[..start]));
        out.push_str(&format!(
            "<code>{}</code>",
            escape_html(&rest[start + 1..mid])
        ));
        rest = &rest[end + 1..];
    }
    out.push_str(&escape_html(rest));
    out
}

/// Inline SVG in HTML needs neither the XML prolog nor the namespace declaration, and
/// dropping the namespace keeps the page free of any URL.
fn strip_xml_prolog(svg: &str) -> String {
    let body = match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    };
    body.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1)
}
