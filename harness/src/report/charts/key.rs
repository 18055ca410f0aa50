//! The one legend every chart uses: a strip of colour swatches and names above the plot,
//! wrapped onto more lines when it does not fit, so it never covers a bar or a line.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::Frame;

/// One legend entry; `target` tags it for report.html's framework filter.
pub struct KeyEntry {
    pub label: String,
    pub colour: RGBAColor,
    pub target: Option<String>,
}

impl KeyEntry {
    /// A framework's entry in its colour.
    pub fn framework(frame: &Frame, target: &str, label: &str) -> KeyEntry {
        KeyEntry {
            label: label.to_string(),
            colour: frame.colours.colour(target).to_rgba(),
            target: Some(target.to_string()),
        }
    }
}

/// Draws `entries` at the top of `area` and returns the area left below them.
pub fn key_strip<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    frame: &Frame,
    entries: &[KeyEntry],
) -> Result<DrawingArea<DB, Shift>, super::DrawFailure>
where
    DB::ErrorType: 'static,
{
    let s = &frame.style;
    let font = s.font(18).pos(Pos::new(HPos::Left, VPos::Center));
    let (width, _) = area.dim_in_pixel();
    let (swatch, gap, line) = (s.px(22) as i32, s.px(26) as i32, s.px(30) as i32);
    let margin = s.px(20) as i32;
    // Lay out first so the strip's height is known before anything is drawn.
    let mut placed = Vec::new();
    let (mut x, mut y) = (margin, line / 2);
    for entry in entries {
        let (text_w, _) = area.estimate_text_size(&entry.label, &font)?;
        let w = swatch + s.px(6) as i32 + text_w as i32;
        if x > margin && x + w > width as i32 - margin {
            x = margin;
            y += line;
        }
        placed.push((entry, x, y));
        x += w + gap;
    }
    let height = if entries.is_empty() { 0 } else { y + line / 2 };
    let (strip, rest) = area.split_vertically(height);
    for (entry, x, y) in placed {
        let _mark = entry
            .target
            .as_ref()
            .map(|t| frame.marks.begin(t, entry.label.clone()));
        let half = swatch / 2;
        strip.draw(&Rectangle::new(
            [(x, y - half / 2 - 2), (x + swatch, y + half / 2 + 2)],
            entry.colour.filled(),
        ))?;
        strip.draw(&Text::new(
            entry.label.clone(),
            (x + swatch + s.px(6) as i32, y),
            font.clone(),
        ))?;
    }
    Ok(rest)
}

/// A grey swatch for a shade used by every framework (published vs measured, idle vs peak).
pub fn shade_entry(label: &str, shade: f64) -> KeyEntry {
    KeyEntry {
        label: label.to_string(),
        colour: RGBColor(90, 90, 90).mix(shade),
        target: None,
    }
}
