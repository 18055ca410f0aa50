//! One colour per target, the same in every chart and every run: the colour its manifest
//! chose (recorded in results.json, or read from the repository's manifest for older
//! results), else one picked from a fixed list by a stable hash of the name.

use std::collections::BTreeMap;

use plotters::style::RGBColor;

use crate::targets::Colour;

/// The colours a name without a chosen colour picks from.
const FALLBACK: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The chosen colours of a report's targets, by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Palette {
    chosen: BTreeMap<String, Colour>,
}

impl Palette {
    /// A palette with these targets' colours chosen.
    pub fn new(chosen: impl IntoIterator<Item = (String, Colour)>) -> Palette {
        Palette {
            chosen: chosen.into_iter().collect(),
        }
    }

    /// Whether target `name` has a chosen colour.
    pub fn has(&self, name: &str) -> bool {
        self.chosen.contains_key(name)
    }

    /// Chooses `colour` for target `name`.
    pub fn choose(&mut self, name: &str, colour: Colour) {
        self.chosen.insert(name.to_string(), colour);
    }

    /// The colour of target `name`.
    pub fn colour(&self, name: &str) -> RGBColor {
        match self.chosen.get(name) {
            Some(c) => RGBColor(c.red, c.green, c.blue),
            None => FALLBACK[(fnv1a(name) % FALLBACK.len() as u64) as usize],
        }
    }

    /// The colour of target `name` as CSS hex, for report.html's filter.
    pub fn hex(&self, name: &str) -> String {
        let RGBColor(r, g, b) = self.colour(name);
        format!("#{r:02x}{g:02x}{b:02x}")
    }
}

/// FNV-1a: a hash whose value is fixed by its definition, unlike std's hasher.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ byte as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chosen_colour_wins_and_any_other_name_keeps_its_hashed_one() {
        let violet = Colour {
            red: 120,
            green: 0,
            blue: 200,
        };
        let palette = Palette::new([("mine".to_string(), violet)]);
        assert_eq!(palette.colour("mine"), RGBColor(120, 0, 200));
        assert_eq!(palette.hex("mine"), "#7800c8");
        // Unchosen names: the same colour from any palette, in every run.
        let empty = Palette::default();
        assert_eq!(palette.colour("other"), empty.colour("other"));
        assert_eq!(
            empty.colour("mine"),
            FALLBACK[(fnv1a("mine") % 10) as usize]
        );
        assert_eq!(fnv1a(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a("a"), 0xaf63_dc4c_8601_ec8c);
    }
}
