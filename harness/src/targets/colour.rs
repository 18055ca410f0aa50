//! A target's chart colour, written `"#rrggbb"`: chosen in its manifest so every chart
//! of every run shows that framework alike, and recorded in results.json so a report
//! draws it without the manifest.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An sRGB colour, one byte per channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Colour {
    pub red: u8,
    pub green: u8,
    pub blue: u8,
}

/// Text that is not `"#rrggbb"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`colour` must be \"#rrggbb\" (six hex digits, such as \"#1f77b4\"), got {0:?}")]
pub struct BadColour(pub String);

impl FromStr for Colour {
    type Err = BadColour;

    fn from_str(text: &str) -> Result<Colour, BadColour> {
        let bad = || BadColour(text.to_string());
        let digits = text.strip_prefix('#').ok_or_else(bad)?;
        // from_str_radix alone would also take a sign ("+f") inside a pair.
        if digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let channel = |at: usize| u8::from_str_radix(&digits[at..at + 2], 16).map_err(|_| bad());
        Ok(Colour {
            red: channel(0)?,
            green: channel(2)?,
            blue: channel(4)?,
        })
    }
}

impl fmt::Display for Colour {
    /// Lower-case `#rrggbb`, as CSS and SVG take it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.red, self.green, self.blue)
    }
}

impl Serialize for Colour {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Colour {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Colour, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_hex_triples() {
        let colour: Colour = "#D62728".parse().unwrap();
        assert_eq!(
            colour,
            Colour {
                red: 214,
                green: 39,
                blue: 40
            }
        );
        assert_eq!(colour.to_string(), "#d62728");
        for bad in [
            "d62728", "#d6272", "#d627280", "#d6272g", "#+f2728", "", "#",
        ] {
            assert_eq!(
                bad.parse::<Colour>(),
                Err(BadColour(bad.to_string())),
                "{bad}"
            );
        }
    }
}
