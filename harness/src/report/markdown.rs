//! report.md: the report blocks as GitHub-flavoured Markdown, charts linked from `charts/`.

use super::document::{self, Block};
use super::{RenderInput, Renderer, ReportError};

/// The report.md renderer.
pub struct Markdown;

impl Renderer for Markdown {
    fn render(&self, input: &RenderInput) -> Result<Vec<u8>, ReportError> {
        Ok(render(&document::build(input)).into_bytes())
    }
}

/// Renders the blocks as Markdown.
fn render(blocks: &[Block]) -> String {
    let mut out = String::new();
    for block in blocks {
        match block {
            Block::Heading(level, text) => {
                out.push_str(&format!("{} {text}\n\n", "#".repeat(*level as usize)))
            }
            Block::Paragraph(text) => out.push_str(&format!("{text}\n\n")),
            Block::Table(table) => {
                out.push_str(&table.to_markdown());
                out.push('\n');
            }
            Block::List(items) => {
                for item in items {
                    out.push_str(&format!("- {item}\n"));
                }
                out.push('\n');
            }
            Block::Code(text) => out.push_str(&format!("```json\n{text}\n```\n\n")),
            Block::Chart(kind) => out.push_str(&format!(
                "![{}](charts/{}.svg)\n\n*{}*\n\n",
                kind.title(),
                kind.file_stem(),
                kind.caption()
            )),
        }
    }
    out
}
