//! Where each target's chart colour comes from: the colour results.json recorded from
//! its manifest; for results written before colours were recorded, the manifest of that
//! name in the repository's `targets/` folder; else the palette's colour for the name.

use std::path::Path;

use super::charts::Palette;
use crate::results::RunResults;
use crate::targets::discovery::{find_targets_upward, MANIFEST_FILE};
use crate::targets::Manifest;

/// The colours results.json records.
pub fn recorded(results: &RunResults) -> Palette {
    Palette::new(
        results
            .targets
            .iter()
            .filter_map(|t| Some((t.name.clone(), t.colour?))),
    )
}

/// `palette` with the colour of every target it has none for (those drawn from the
/// claims file too) from `targets/<name>/target.toml` in the first `targets/` folder
/// found from `start` up to the repository root.
pub fn from_repository(mut palette: Palette, start: &Path) -> Palette {
    let Some(folders) = find_targets_upward(start).and_then(|dir| dir.read_dir().ok()) else {
        return palette;
    };
    for folder in folders.flatten() {
        let name = folder.file_name().to_string_lossy().into_owned();
        if palette.has(&name) {
            continue;
        }
        // A report only renders stored results: a manifest that cannot be read (or is
        // from another version of the harness) costs its target the chosen colour, not
        // the report.
        let manifest = Manifest::load(&folder.path().join(MANIFEST_FILE));
        if let Some(colour) = manifest
            .ok()
            .filter(|m| m.name == name)
            .and_then(|m| m.colour)
        {
            palette.choose(&name, colour);
        }
    }
    palette
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::Colour;

    const MANIFEST: &str = "framework = \"F\"\nlanguage = \"L\"\nversion = \"1\"\nbuild = \"true\"\nrun = \"true\"\nhealth = \"/health\"\n";

    fn target(targets: &Path, folder: &str, text: &str) {
        std::fs::create_dir_all(targets.join(folder)).unwrap();
        std::fs::write(targets.join(folder).join(MANIFEST_FILE), text).unwrap();
    }

    #[test]
    fn a_manifests_colour_is_recorded_and_read_back_and_none_is_not_written() {
        use crate::results::{TargetResult, TargetStatus};
        let parse = |text: &str| Manifest::parse(text, Path::new("t.toml")).unwrap();
        let plain = TargetResult::bare(
            &parse(&format!("name = \"plain\"\n{MANIFEST}")),
            TargetStatus::Ok,
            None,
        );
        let coloured = TargetResult::bare(
            &parse(&format!(
                "name = \"mine\"\ncolour = \"#7800C8\"\n{MANIFEST}"
            )),
            TargetStatus::Ok,
            None,
        );
        let json = |t: &TargetResult| serde_json::to_value(t).unwrap();
        assert!(json(&plain).get("colour").is_none());
        assert_eq!(json(&coloured)["colour"], "#7800c8");
        let back: TargetResult = serde_json::from_value(json(&coloured)).unwrap();
        let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/report");
        let mut results = RunResults::load(Path::new(fixture)).unwrap();
        results.targets = vec![back, plain];
        let palette = recorded(&results);
        assert_eq!(palette.hex("mine"), "#7800c8");
        assert!(!palette.has("plain"));
    }

    #[test]
    fn manifests_fill_only_what_results_did_not_record_and_bad_ones_are_passed_over() {
        let repo = tempfile::tempdir().unwrap();
        std::fs::create_dir(repo.path().join(".git")).unwrap();
        let targets = repo.path().join("targets");
        let with = |name: &str, colour: &str| {
            format!("name = \"{name}\"\ncolour = \"{colour}\"\n{MANIFEST}")
        };
        target(&targets, "red", &with("red", "#ff0000"));
        target(&targets, "kept", &with("kept", "#00ff00"));
        target(&targets, "broken", &with("broken", "red"));
        target(&targets, "renamed", &with("other", "#0000ff"));
        target(&targets, "plain", &format!("name = \"plain\"\n{MANIFEST}"));
        let recorded = Colour {
            red: 1,
            green: 2,
            blue: 3,
        };
        let palette = Palette::new([("kept".to_string(), recorded)]);
        let palette = from_repository(palette, &targets.join("red"));
        assert_eq!(palette.hex("red"), "#ff0000");
        assert_eq!(palette.hex("kept"), "#010203");
        for unchosen in ["broken", "renamed", "other", "plain"] {
            assert!(!palette.has(unchosen), "{unchosen}");
        }
    }
}
