//! report.md: the report blocks as GitHub-flavoured Markdown, charts linked from `charts/`.
//! Every text of a block is escaped ([`crate::escape::markdown`]): it holds names, reasons
//! and stderr lines from results.json.

use super::document::{self, Block};
use super::{RenderInput, Renderer, ReportError};
use crate::escape::{code_fence, markdown, Place};

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
            Block::Heading(level, text) => out.push_str(&format!(
                "{} {}\n\n",
                "#".repeat(*level as usize),
                markdown(text, Place::Block)
            )),
            Block::Paragraph(text) => {
                out.push_str(&format!("{}\n\n", markdown(text, Place::Block)))
            }
            Block::Table(table) => {
                out.push_str(&table.to_markdown());
                out.push('\n');
            }
            Block::List(items) => {
                for item in items {
                    out.push_str(&format!("- {}\n", markdown(item, Place::Block)));
                }
                out.push('\n');
            }
            Block::Code(text) => {
                let fence = code_fence(text);
                out.push_str(&format!("{fence}json\n{text}\n{fence}\n\n"))
            }
            Block::Chart {
                kind,
                title,
                caption,
            } => out.push_str(&format!(
                "![{title}](charts/{}.svg)\n\n*{caption}*\n\n",
                kind.file_stem(),
            )),
            Block::Reference { lead, text, href } => {
                out.push_str(&format!("{lead} [{text}]({href}).\n\n"))
            }
        }
    }
    out
}
