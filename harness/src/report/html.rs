//! report.html: one self-contained page (inline CSS and script, charts inlined as SVG, no
//! external references) with the same blocks as report.md, plus a framework filter,
//! sortable tables and tooltips with each chart mark's exact value. The script is our
//! own (`harness/assets/report.js`); see docs/report.md.

use super::charts::ChartKind;
use super::document::{self, Block};
use super::table::escape_html;
use super::{RenderInput, Renderer, ReportError};

/// The page's script.
const SCRIPT: &str = include_str!("../../assets/report.js");

/// The report.html renderer.
pub struct Html;

impl Renderer for Html {
    fn render(&self, input: &RenderInput) -> Result<Vec<u8>, ReportError> {
        let frame = input.frame();
        let mut svgs = Vec::new();
        for kind in ChartKind::shown(&input.view) {
            svgs.push((kind, kind.svg(&frame)?));
        }
        let lookup = |kind: ChartKind| {
            svgs.iter()
                .find(|(k, _)| *k == kind)
                .map(|(_, svg)| svg.clone())
        };
        let blocks = document::build(input);
        let title = format!("lanebench report: {}", input.results.run_id);
        let mut page = head(&title);
        page.push_str(&filter(input));
        page.push_str(&body(&blocks, &lookup));
        page.push_str(&format!(
            "<div id=\"tooltip\" role=\"tooltip\" hidden></div>\n<script>\n{SCRIPT}</script>\n</body>\n</html>\n"
        ));
        Ok(page.into_bytes())
    }
}

const STYLE: &str = "body{font-family:'DejaVu Sans',Verdana,Helvetica,Arial,sans-serif;margin:0 auto 2em;max-width:1240px;color:#222;padding:0 1em}\
table{border-collapse:collapse;margin:1em 0;font-size:14px}\
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}\
th{background:#f2f2f2;cursor:pointer;user-select:none;white-space:nowrap}\
th:hover{background:#e4e4e4}\
th[aria-sort=ascending]::after{content:' \\25B2';font-size:10px}\
th[aria-sort=descending]::after{content:' \\25BC';font-size:10px}\
td.num,th.num{text-align:right}\
pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:13px}\
figure{margin:1.5em 0}figure svg{display:block;max-width:100%;height:auto}\
figcaption{font-size:13px;color:#555;max-width:1000px;margin-top:.3em}\
.controls{position:sticky;top:0;z-index:2;background:#fff;border-bottom:1px solid #ddd;padding:.6em 0;font-size:14px}\
.controls label{margin-right:1.1em;white-space:nowrap;cursor:pointer}\
.swatch{display:inline-block;width:12px;height:12px;margin:0 4px 0 2px;vertical-align:-1px;border-radius:2px}\
.hint{color:#666;font-size:12px;margin:.3em 0 0}\
.fw-hidden{display:none!important}\
g.mark:hover{opacity:.8}\
#tooltip{position:fixed;z-index:3;pointer-events:none;background:#222;color:#fff;padding:4px 8px;border-radius:4px;font-size:13px;max-width:480px}\
@media print{.controls,#tooltip{display:none!important}body{max-width:none;margin:0;padding:0}\
figure,table,tr{break-inside:avoid}h2{break-after:avoid}th{background:#eee!important;cursor:auto}\
th::after{content:''!important}figure svg{width:100%}}\
@page{margin:14mm}";

fn head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape_html(title)
    )
}

/// The framework filter: a tick box per measured framework, in its chart colour.
fn filter(input: &RenderInput) -> String {
    let mut out =
        String::from("<div class=\"controls\" id=\"filter\">\n<strong>Frameworks:</strong>\n");
    // A resilience run's targets have episodes but no QPS, so they are not ranked.
    let mut shown = input.view.ranked.clone();
    // A target measured on several protocols has one box: it hides all its entries.
    let mut seen = Vec::new();
    shown.retain(|t| {
        let first = !seen.contains(&t.name);
        seen.push(t.name.clone());
        first
    });
    for target in super::resilience::with_episodes(&input.view) {
        if !shown.iter().any(|t| t.name == target.name) {
            shown.push(target);
        }
    }
    for target in &shown {
        out.push_str(&format!(
            "<label><input type=\"checkbox\" class=\"fw-toggle\" value=\"{name}\" checked><span class=\"swatch\" style=\"background:{colour}\"></span>{framework}</label>\n",
            name = escape_html(&target.name),
            colour = input.colours.hex(&target.name),
            framework = escape_html(&target.framework)
        ));
    }
    out.push_str("<p class=\"hint\">Untick a framework to hide it from every table and chart (axes stay as drawn). Click a column header to sort. Point at a bar or point for its exact value.</p>\n</div>\n");
    out
}

/// Renders the blocks as HTML; `svg` gives the inline SVG text of each chart.
fn body(blocks: &[Block], svg: &dyn Fn(ChartKind) -> Option<String>) -> String {
    let mut out = String::new();
    for block in blocks {
        match block {
            Block::Heading(level, text) => {
                out.push_str(&format!("<h{level}>{}</h{level}>\n", escape_html(text)))
            }
            Block::Paragraph(text) => out.push_str(&format!("<p>{}</p>\n", escape_html(text))),
            Block::Table(table) => out.push_str(&table.to_html()),
            Block::List(items) => {
                out.push_str("<ul>\n");
                for item in items {
                    out.push_str(&format!("<li>{}</li>\n", escape_html(item)));
                }
                out.push_str("</ul>\n");
            }
            Block::Code(text) => out.push_str(&format!("<pre>{}</pre>\n", escape_html(text))),
            Block::Chart { kind, caption, .. } => {
                if let Some(svg) = svg(*kind) {
                    out.push_str(&format!(
                        "<figure class=\"chart\" id=\"chart-{}\">\n{}\n<figcaption>{}</figcaption>\n</figure>\n",
                        kind.file_stem(),
                        strip_namespace(&svg),
                        escape_html(caption)
                    ));
                }
            }
            // The link is relative to the results folder, which may not hold where the
            // page is opened: the document is named instead.
            Block::Reference { lead, text, .. } => out.push_str(&format!(
                "<p>{} <code>{}</code>.</p>\n",
                escape_html(lead),
                escape_html(text)
            )),
        }
    }
    out
}

/// Inline SVG in HTML needs no namespace declaration, and dropping it keeps the page
/// free of any URL.
fn strip_namespace(svg: &str) -> String {
    let body = match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    };
    body.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1)
}
