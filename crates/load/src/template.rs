//! Request templates: the `{rand:LO..HI}` and `{seq}` placeholders in a scenario's
//! paths and bodies, parsed once when the scenario loads and rendered per request on the
//! load generator's hot path without allocating (beyond growing the caller's buffer).

use std::fmt;

use serde::{Serialize, Serializer};
use thiserror::Error;

const RAND_OPEN: &str = "{rand:";
const SEQ: &str = "{seq}";

/// A malformed `{rand:...}` placeholder.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TemplateError {
    #[error("`{placeholder}`: expected `{{rand:LO..HI}}` with unsigned integers LO <= HI")]
    Malformed { placeholder: String },
    #[error("`{placeholder}`: low bound {low} is above high bound {high}")]
    Inverted {
        placeholder: String,
        low: u64,
        high: u64,
    },
    #[error("`{{rand:` at byte {offset} has no closing `}}`")]
    Unterminated { offset: usize },
}

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// Bytes `start..end` of the source, copied as they are.
    Literal { start: usize, end: usize },
    /// A uniform integer in `low..=low + (count - 1)`; `count` is a u128 so that the full
    /// u64 range (2^64 values) is representable.
    Rand { low: u64, count: u128 },
    /// The caller's per-request sequence number.
    Seq,
}

/// A path or body with placeholders, ready to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    pieces: Vec<Piece>,
}

impl Template {
    /// Parses `text`. A `{` that does not start `{rand:` or `{seq}` is literal, so JSON
    /// bodies need no escaping; a `{rand:` that is not a well-formed, non-inverted range
    /// is an error rather than a literal, because it is almost certainly a typo.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut pieces = Vec::new();
        let mut literal_start = 0;
        let mut cursor = 0;
        while let Some(found) = text[cursor..].find('{') {
            let at = cursor + found;
            let rest = &text[at..];
            let (piece, len) = if rest.starts_with(SEQ) {
                (Piece::Seq, SEQ.len())
            } else if rest.starts_with(RAND_OPEN) {
                parse_rand(rest, at)?
            } else {
                cursor = at + 1;
                continue;
            };
            if literal_start < at {
                pieces.push(Piece::Literal {
                    start: literal_start,
                    end: at,
                });
            }
            pieces.push(piece);
            cursor = at + len;
            literal_start = cursor;
        }
        if literal_start < text.len() {
            pieces.push(Piece::Literal {
                start: literal_start,
                end: text.len(),
            });
        }
        Ok(Template {
            source: text.to_string(),
            pieces,
        })
    }

    /// True when the template has no placeholder, so every render is the same bytes and
    /// the request can be serialized once.
    pub fn is_static(&self) -> bool {
        self.pieces
            .iter()
            .all(|piece| matches!(piece, Piece::Literal { .. }))
    }

    /// The text, when the template is static.
    pub fn literal(&self) -> Option<&str> {
        self.is_static().then_some(self.source.as_str())
    }

    /// The source text, placeholders included.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Appends the rendered bytes to `out`. Each `{rand}` advances `*random` by one
    /// xorshift64 step (a zero state, which xorshift never leaves, is replaced by a fixed
    /// non-zero seed); `{seq}` writes `seq`.
    #[inline]
    pub fn render(&self, random: &mut u64, seq: u64, out: &mut Vec<u8>) {
        let source = self.source.as_bytes();
        for piece in &self.pieces {
            match *piece {
                Piece::Literal { start, end } => out.extend_from_slice(&source[start..end]),
                Piece::Rand { low, count } => {
                    let draw = xorshift64(random);
                    // Multiply-shift maps the draw onto 0..count without a division and
                    // without the bias of a modulo for ranges that do not divide 2^64.
                    let offset = ((u128::from(draw) * count) >> 64) as u64;
                    write_decimal(low + offset, out);
                }
                Piece::Seq => write_decimal(seq, out),
            }
        }
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Templates are recorded in results as their source text.
impl Serialize for Template {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

/// Parses the `{rand:LO..HI}` at the start of `rest` (found at byte `offset` of the
/// template); returns the piece and the placeholder's length in bytes.
fn parse_rand(rest: &str, offset: usize) -> Result<(Piece, usize), TemplateError> {
    let close = rest
        .find('}')
        .ok_or(TemplateError::Unterminated { offset })?;
    let placeholder = &rest[..=close];
    let malformed = || TemplateError::Malformed {
        placeholder: placeholder.to_string(),
    };
    let range = &rest[RAND_OPEN.len()..close];
    let (low, high) = range.split_once("..").ok_or_else(malformed)?;
    let (low, high) = (parse_bound(low), parse_bound(high));
    let (Some(low), Some(high)) = (low, high) else {
        return Err(malformed());
    };
    if low > high {
        return Err(TemplateError::Inverted {
            placeholder: placeholder.to_string(),
            low,
            high,
        });
    }
    let count = u128::from(high - low) + 1;
    Ok((Piece::Rand { low, count }, close + 1))
}

/// Digits only: `u64::from_str` would also take a leading `+`.
fn parse_bound(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// One xorshift64 step (shifts 13, 7, 17).
#[inline]
fn xorshift64(state: &mut u64) -> u64 {
    let mut x = *state;
    if x == 0 {
        x = 0x9E37_79B9_7F4A_7C15;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}

/// Appends `value` in decimal; `format!` would allocate a String per request.
#[inline]
fn write_decimal(mut value: u64, out: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(template: &Template, random: &mut u64, seq: u64) -> String {
        let mut out = Vec::new();
        template.render(random, seq, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_without_placeholders_is_static() {
        let t = Template::parse("/health").unwrap();
        assert!(t.is_static());
        assert_eq!(t.literal(), Some("/health"));
        assert_eq!(render(&t, &mut 1, 0), "/health");
        let empty = Template::parse("").unwrap();
        assert!(empty.is_static());
        assert_eq!(render(&empty, &mut 1, 0), "");
        let dynamic = Template::parse("/api/users/{seq}").unwrap();
        assert!(!dynamic.is_static());
        assert_eq!(dynamic.literal(), None);
    }

    #[test]
    fn json_braces_are_literal() {
        let body = r#"{"user_id":{rand:7..7},"items":[{"n":{seq}}],"x":"{se","y":"{}"}"#;
        let t = Template::parse(body).unwrap();
        assert_eq!(
            render(&t, &mut 99, 42),
            r#"{"user_id":7,"items":[{"n":42}],"x":"{se","y":"{}"}"#
        );
        let static_json = Template::parse(r#"{"a":{"b":1}}"#).unwrap();
        assert_eq!(static_json.literal(), Some(r#"{"a":{"b":1}}"#));
    }

    #[test]
    fn seq_renders_the_callers_number() {
        let t = Template::parse("{seq}-{seq}").unwrap();
        assert_eq!(render(&t, &mut 1, 0), "0-0");
        assert_eq!(render(&t, &mut 1, 1234567), "1234567-1234567");
        assert_eq!(
            render(&t, &mut 1, u64::MAX),
            "18446744073709551615-18446744073709551615"
        );
    }

    #[test]
    fn rand_ranges_are_inclusive_and_cover_every_value() {
        let t = Template::parse("{rand:1..3}").unwrap();
        let mut random = 0x1234_5678;
        let mut counts = [0u32; 4];
        for _ in 0..3000 {
            let value: usize = render(&t, &mut random, 0).parse().unwrap();
            assert!((1..=3).contains(&value), "{value} outside 1..=3");
            counts[value] += 1;
        }
        assert_eq!(counts[0], 0);
        for (value, &count) in counts.iter().enumerate().skip(1) {
            // Expected 1000 each; 800 is far outside chance for a working generator.
            assert!(count > 800, "value {value} drawn only {count} times");
        }
    }

    #[test]
    fn rand_advances_the_state_once_per_placeholder() {
        let t = Template::parse("/{rand:0..1000000}/{rand:0..1000000}").unwrap();
        let mut random = 7;
        let first = render(&t, &mut random, 0);
        let second = render(&t, &mut random, 0);
        assert_ne!(first, second);
        let mut replay = 7;
        xorshift64(&mut replay);
        xorshift64(&mut replay);
        let mut after_one_render = 7;
        render(&t, &mut after_one_render, 0);
        assert_eq!(after_one_render, replay);
    }

    #[test]
    fn zero_state_does_not_get_stuck() {
        let t = Template::parse("{rand:0..1000000000}").unwrap();
        let mut random = 0;
        let a = render(&t, &mut random, 0);
        let b = render(&t, &mut random, 0);
        assert_ne!(random, 0);
        assert_ne!(a, b);
    }

    #[test]
    fn extreme_ranges() {
        let single = Template::parse("{rand:5..5}").unwrap();
        assert_eq!(render(&single, &mut 3, 0), "5");
        let full = Template::parse("{rand:0..18446744073709551615}").unwrap();
        let mut random = 1;
        let value: u64 = render(&full, &mut random, 0).parse().unwrap();
        assert_eq!(value, random, "the full range maps the draw onto itself");
    }

    #[test]
    fn malformed_rand_is_an_error() {
        assert_eq!(
            Template::parse("/a/{rand:5..1}").unwrap_err(),
            TemplateError::Inverted {
                placeholder: "{rand:5..1}".into(),
                low: 5,
                high: 1
            }
        );
        for bad in [
            "{rand:x..3}",
            "{rand:1..}",
            "{rand:..3}",
            "{rand:1-3}",
            "{rand:+1..3}",
        ] {
            let err = Template::parse(bad).unwrap_err();
            assert_eq!(
                err,
                TemplateError::Malformed {
                    placeholder: bad.into()
                },
                "{bad}"
            );
            assert!(err.to_string().contains(bad), "{err}");
        }
        assert!(matches!(
            Template::parse("{rand:99999999999999999999..1}").unwrap_err(),
            TemplateError::Malformed { .. }
        ));
        assert_eq!(
            Template::parse("ab{rand:1..2").unwrap_err(),
            TemplateError::Unterminated { offset: 2 }
        );
        assert!(Template::parse("{rand:5..1}")
            .unwrap_err()
            .to_string()
            .contains("low bound 5 is above high bound 1"));
    }

    #[test]
    fn serializes_as_source_text() {
        let t = Template::parse("/u/{rand:1..9}").unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"/u/{rand:1..9}\"");
        assert_eq!(t.to_string(), "/u/{rand:1..9}");
    }
}
