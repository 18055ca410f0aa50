//! One colour per target, the same in every chart and every run: the shipped targets
//! have fixed colours; any other name picks from the same palette by a stable hash.

use plotters::style::RGBColor;

const PALETTE: [RGBColor; 10] = [
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

/// Fixed slots for the shipped targets, so none of them share a colour.
const FIXED: [(&str, usize); 8] = [
    ("hyperlane", 3),
    ("axum", 1),
    ("actix-web", 5),
    ("gin", 9),
    ("express", 2),
    ("node-http", 8),
    ("fastapi", 0),
    ("spring-boot", 4),
];

/// The colour of a target, by name.
pub fn target_colour(name: &str) -> RGBColor {
    let slot = FIXED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, slot)| *slot)
        .unwrap_or_else(|| (fnv1a(name) % PALETTE.len() as u64) as usize);
    PALETTE[slot]
}

/// The colour of a target as CSS hex, for report.html's filter.
pub fn target_hex(name: &str) -> String {
    let RGBColor(r, g, b) = target_colour(name);
    format!("#{r:02x}{g:02x}{b:02x}")
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
    fn shipped_targets_have_distinct_stable_colours() {
        let colours: Vec<RGBColor> = FIXED.iter().map(|(n, _)| target_colour(n)).collect();
        for (i, a) in colours.iter().enumerate() {
            for b in &colours[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(target_colour("hyperlane"), RGBColor(214, 39, 40));
        assert_eq!(target_colour("other"), target_colour("other"));
    }
}
