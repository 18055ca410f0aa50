//! The SVG backend every chart is drawn with: plain SVG elements, and around each mark
//! (a framework's bar, line or point) a `<g class="mark" data-fw=".." data-tip="..">`
//! group, so report.html can hide a framework's marks and show a mark's exact value.
//! A `<title>` in each group gives the same text as a tooltip in any SVG viewer.

use std::cell::RefCell;
use std::fmt::Write;
use std::rc::Rc;

use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
};
use plotters_backend::{FontStyle, FontTransform};

use crate::report::table::escape_html;

/// What the marks drawn from now on belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// The target name (the HTML filter's key).
    pub target: String,
    /// The exact value(s), as the tooltip shows them.
    pub tip: String,
}

/// The mark being drawn, shared by a chart (which sets it) and the SVG backend (which
/// wraps what is drawn meanwhile). Other backends ignore it.
#[derive(Debug, Clone, Default)]
pub struct Marks(Rc<RefCell<Option<Mark>>>);

impl Marks {
    /// Everything drawn until the guard drops belongs to `target`, with tooltip `tip`.
    pub fn begin(&self, target: &str, tip: String) -> MarkGuard<'_> {
        *self.0.borrow_mut() = Some(Mark {
            target: target.to_string(),
            tip,
        });
        MarkGuard(self)
    }

    fn current(&self) -> Option<Mark> {
        self.0.borrow().clone()
    }
}

/// Ends a mark when dropped.
pub struct MarkGuard<'a>(&'a Marks);

impl Drop for MarkGuard<'_> {
    fn drop(&mut self) {
        *self.0 .0.borrow_mut() = None;
    }
}

/// Writes SVG text into a string.
pub struct TaggedSvg<'a> {
    out: &'a mut String,
    size: (u32, u32),
    marks: Marks,
    open: Option<Mark>,
}

/// The SVG backend cannot fail; plotters still asks for an error type.
#[derive(Debug, thiserror::Error)]
#[error("SVG drawing failed")]
pub struct SvgError;

type Drawn = Result<(), DrawingErrorKind<SvgError>>;

impl<'a> TaggedSvg<'a> {
    /// A backend of `size` pixels writing into `out`, grouping by `marks`.
    pub fn new(out: &'a mut String, size: (u32, u32), marks: Marks) -> TaggedSvg<'a> {
        out.clear();
        let _ = writeln!(
            out,
            "<svg width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" xmlns=\"http://www.w3.org/2000/svg\">",
            size.0, size.1
        );
        TaggedSvg {
            out,
            size,
            marks,
            open: None,
        }
    }

    /// Opens or closes the mark group when the chart's current mark changed.
    fn sync_mark(&mut self) {
        let current = self.marks.current();
        if current == self.open {
            return;
        }
        if self.open.take().is_some() {
            self.out.push_str("</g>\n");
        }
        if let Some(mark) = current {
            let tip = escape_html(&mark.tip);
            let _ = writeln!(
                self.out,
                "<g class=\"mark\" data-fw=\"{}\" data-tip=\"{tip}\"><title>{tip}</title>",
                escape_html(&mark.target)
            );
            self.open = Some(mark);
        }
    }

    fn element(&mut self, text: &str) {
        self.sync_mark();
        self.out.push_str(text);
        self.out.push('\n');
    }
}

/// `fill="#rrggbb"` (or stroke) plus an opacity when it is not 1.
fn paint(attr: &str, color: BackendColor) -> String {
    let (r, g, b) = color.rgb;
    let mut text = format!("{attr}=\"#{r:02x}{g:02x}{b:02x}\"");
    if color.alpha < 1.0 {
        let _ = write!(text, " {attr}-opacity=\"{:.3}\"", color.alpha);
    }
    text
}

/// A filled shape, or its outline at the style's stroke width.
fn shape_paint<S: BackendStyle>(s: &S, fill: bool) -> String {
    if fill {
        paint("fill", s.color())
    } else {
        format!(
            "fill=\"none\" {} stroke-width=\"{}\"",
            paint("stroke", s.color()),
            s.stroke_width()
        )
    }
}

fn points(path: impl IntoIterator<Item = BackendCoord>) -> String {
    path.into_iter().fold(String::new(), |mut s, (x, y)| {
        let _ = write!(s, "{x},{y} ");
        s
    })
}

impl DrawingBackend for TaggedSvg<'_> {
    type ErrorType = SvgError;

    fn get_size(&self) -> (u32, u32) {
        self.size
    }

    fn ensure_prepared(&mut self) -> Drawn {
        Ok(())
    }

    fn present(&mut self) -> Drawn {
        if self.open.take().is_some() {
            self.out.push_str("</g>\n");
        }
        if !self.out.ends_with("</svg>\n") {
            self.out.push_str("</svg>\n");
        }
        Ok(())
    }

    fn draw_pixel(&mut self, (x, y): BackendCoord, color: BackendColor) -> Drawn {
        if color.alpha > 0.0 {
            let fill = paint("fill", color);
            self.element(&format!(
                "<rect x=\"{x}\" y=\"{y}\" width=\"1\" height=\"1\" {fill}/>"
            ));
        }
        Ok(())
    }

    fn draw_line<S: BackendStyle>(&mut self, from: BackendCoord, to: BackendCoord, s: &S) -> Drawn {
        if s.color().alpha > 0.0 {
            let stroke = paint("stroke", s.color());
            self.element(&format!(
                "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" {stroke} stroke-width=\"{}\"/>",
                from.0,
                from.1,
                to.0,
                to.1,
                s.stroke_width()
            ));
        }
        Ok(())
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        (x0, y0): BackendCoord,
        (x1, y1): BackendCoord,
        s: &S,
        fill: bool,
    ) -> Drawn {
        if s.color().alpha > 0.0 {
            let paint = shape_paint(s, fill);
            self.element(&format!(
                "<rect x=\"{x0}\" y=\"{y0}\" width=\"{}\" height=\"{}\" {paint}/>",
                x1 - x0,
                y1 - y0
            ));
        }
        Ok(())
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        s: &S,
    ) -> Drawn {
        if s.color().alpha > 0.0 {
            let stroke = paint("stroke", s.color());
            self.element(&format!(
                "<polyline fill=\"none\" {stroke} stroke-width=\"{}\" stroke-linejoin=\"round\" points=\"{}\"/>",
                s.stroke_width(),
                points(path)
            ));
        }
        Ok(())
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        s: &S,
    ) -> Drawn {
        if s.color().alpha > 0.0 {
            let fill = paint("fill", s.color());
            self.element(&format!("<polygon {fill} points=\"{}\"/>", points(path)));
        }
        Ok(())
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        (x, y): BackendCoord,
        radius: u32,
        s: &S,
        fill: bool,
    ) -> Drawn {
        if s.color().alpha > 0.0 {
            let paint = shape_paint(s, fill);
            self.element(&format!(
                "<circle cx=\"{x}\" cy=\"{y}\" r=\"{radius}\" {paint}/>"
            ));
        }
        Ok(())
    }

    fn draw_text<S: BackendTextStyle>(&mut self, text: &str, s: &S, (x, y): BackendCoord) -> Drawn {
        if s.color().alpha == 0.0 {
            return Ok(());
        }
        let anchor = match s.anchor().h_pos {
            HPos::Left => "start",
            HPos::Center => "middle",
            HPos::Right => "end",
        };
        // Baseline offsets so the text box sits where the raster backend puts it.
        let dy = match s.anchor().v_pos {
            VPos::Top => "0.76em",
            VPos::Center => "0.35em",
            VPos::Bottom => "-0.24em",
        };
        let weight = match s.style() {
            FontStyle::Bold => " font-weight=\"bold\"",
            _ => "",
        };
        let rotate = match s.transform() {
            FontTransform::Rotate90 => format!(" transform=\"rotate(90,{x},{y})\""),
            FontTransform::Rotate180 => format!(" transform=\"rotate(180,{x},{y})\""),
            FontTransform::Rotate270 => format!(" transform=\"rotate(270,{x},{y})\""),
            FontTransform::None => String::new(),
        };
        let fill = paint("fill", s.color());
        // plotters sizes fonts so that 1.24 x the CSS size matches its raster layout.
        self.element(&format!(
            "<text x=\"{x}\" y=\"{y}\" dy=\"{dy}\" text-anchor=\"{anchor}\" font-family=\"DejaVu Sans, Verdana, sans-serif\" font-size=\"{:.1}\"{weight}{rotate} {fill}>{}</text>",
            s.size() / 1.24,
            escape_html(text)
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotters::prelude::*;

    #[test]
    fn marks_wrap_what_is_drawn_while_they_are_set() {
        let marks = Marks::default();
        let mut text = String::new();
        {
            let root = TaggedSvg::new(&mut text, (100, 50), marks.clone()).into_drawing_area();
            root.draw(&Rectangle::new([(0, 0), (10, 10)], BLACK.filled()))
                .unwrap();
            {
                let _mark = marks.begin("gin", "gin: 1 < 2".to_string());
                root.draw(&Rectangle::new([(0, 0), (20, 10)], RED.filled()))
                    .unwrap();
                root.draw(&Circle::new((5, 5), 2, RED.filled())).unwrap();
            }
            root.draw(&Rectangle::new([(0, 0), (30, 10)], BLUE.filled()))
                .unwrap();
            root.present().unwrap();
        }
        let open = "<g class=\"mark\" data-fw=\"gin\" data-tip=\"gin: 1 &lt; 2\">";
        assert_eq!(text.matches(open).count(), 1, "{text}");
        let inside = &text[text.find(open).unwrap()..text.find("</g>").unwrap()];
        assert!(inside.contains("width=\"20\"") && inside.contains("<circle"));
        assert!(!inside.contains("width=\"30\"") && !inside.contains("width=\"10\""));
        assert!(text.ends_with("</svg>\n"));
    }
}
