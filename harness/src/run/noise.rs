//! Whether a measured level can be trusted: contention on any CPU the run uses, and a
//! closed-loop level that saturated neither side.
//!
//! Why: a busy generator CPU corrupts a ranking silently. Sharing its CPU with a spinning
//! process, the generator sends at half speed, the server idles at 40%, and the level's
//! throughput is a figure of neither the server nor the generator, yet it looks like any
//! other. So steal and foreign CPU are read on every side's CPUs (server, generator, and
//! the own CPUs of a component beside the service, such as the database), and a level
//! carries [`Caveat`]s saying what was wrong and how much. A level with caveats is measured again after a pause (up to
//! `--retry-noisy` times); what is left is shown marked and never made the headline
//! while a clean level exists.
//!
//! An open-loop level below the server's capacity saturates neither side by design: its
//! figure is the latency at the offered rate, so it gets no `unsaturated` caveat as long
//! as the schedule was kept (a late schedule is already a `generator` verdict).

use crate::results::caveat::{Caveat, SideNoise};
use crate::results::{Saturation, TargetResult, TargetStatus};

/// What a level's (or an attempt's) caveats are judged from.
#[derive(Debug, Clone)]
pub struct Judged<'a> {
    pub saturation: Saturation,
    /// Open loop (a fixed rate): `neither` is expected there.
    pub open_loop: bool,
    pub server_cpu_utilisation: f64,
    pub generator_cpu_utilisation: f64,
    pub noise: &'a [SideNoise],
    /// Some warm-up before it reached its cap still moving (`steady: false`), after
    /// this many seconds of warm-up in all, and whether it was still climbing.
    pub unsteady_after: Option<(f64, bool)>,
}

/// The caveats of a level or attempt: one per noisy side, and `unsaturated` for a
/// closed-loop `neither`.
pub fn caveats(j: Judged) -> Vec<Caveat> {
    let mut out: Vec<Caveat> = j
        .noise
        .iter()
        .filter(|n| n.is_noisy())
        .map(|n| Caveat::Noisy(*n))
        .collect();
    if j.saturation == Saturation::Neither && !j.open_loop {
        out.push(Caveat::Unsaturated {
            server_cpu_utilisation: j.server_cpu_utilisation,
            generator_cpu_utilisation: j.generator_cpu_utilisation,
            cause: unsaturated_cause(&j),
        });
    }
    if let Some((warmup_s, climbing)) = j.unsteady_after {
        out.push(Caveat::Unsteady { warmup_s, climbing });
    }
    out
}

/// The likely reason neither side was saturated: contention where there was some,
/// otherwise both sides idle, which points at a wait.
fn unsaturated_cause(j: &Judged) -> String {
    let noisy: Vec<String> = j
        .noise
        .iter()
        .filter(|n| n.is_noisy())
        .map(SideNoise::describe)
        .collect();
    if !noisy.is_empty() {
        return format!("contention ({})", noisy.join(", "));
    }
    IDLE_CAUSE.to_string()
}

/// The cause of a `neither` level with no contention anywhere.
const IDLE_CAUSE: &str = "both sides idle, which points at a wait in the server or the client";

/// Largest steal and foreign CPU per side over some repeats' noise readings.
pub fn largest_per_side<'a>(readings: impl IntoIterator<Item = &'a SideNoise>) -> Vec<SideNoise> {
    let mut out: Vec<SideNoise> = Vec::new();
    for n in readings {
        match out.iter_mut().find(|o| o.side == n.side) {
            Some(o) => {
                o.steal = o.steal.max(n.steal);
                o.foreign = o.foreign.max(n.foreign);
            }
            None => out.push(*n),
        }
    }
    out
}

/// "2 of 2 levels noisy (generator CPU 61% foreign)"-style summary of a target's levels'
/// caveats; `None` when every level is clean. Noisy levels name every contended side
/// at its largest share; `neither` levels are counted apart only when no contention
/// explains them.
pub fn summarize<'a>(levels: impl IntoIterator<Item = &'a [Caveat]>) -> Option<String> {
    let levels: Vec<&[Caveat]> = levels.into_iter().collect();
    let total = levels.len();
    let noisy_sides: Vec<SideNoise> = levels
        .iter()
        .flat_map(|c| c.iter())
        .filter_map(|c| match c {
            Caveat::Noisy(noise) => Some(*noise),
            Caveat::Unsaturated { .. } | Caveat::Unsteady { .. } => None,
        })
        .collect();
    let mut parts = Vec::new();
    let noisy = levels
        .iter()
        .filter(|c| c.iter().any(Caveat::is_noisy))
        .count();
    if noisy > 0 {
        let sides: Vec<String> = largest_per_side(&noisy_sides)
            .iter()
            .map(SideNoise::describe)
            .collect();
        parts.push(format!(
            "{noisy} of {total} levels noisy ({})",
            sides.join(", ")
        ));
    }
    let idle = levels
        .iter()
        .filter(|c| !c.iter().any(Caveat::is_noisy) && c.iter().any(Caveat::is_unsaturated))
        .count();
    if idle > 0 {
        parts.push(format!(
            "{idle} of {total} levels saturated neither side ({IDLE_CAUSE})"
        ));
    }
    let unsteady = levels
        .iter()
        .filter(|c| c.iter().any(Caveat::is_unsteady))
        .count();
    if unsteady > 0 {
        parts.push(format!(
            "{unsteady} of {total} levels not steady at the warm-up cap"
        ));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// The caveats of a measured target's levels in one phrase; `None` when every level is
/// clean (or the target was not measured).
pub fn target_caveats(target: &TargetResult) -> Option<String> {
    if target.status != TargetStatus::Ok {
        return None;
    }
    summarize(target.levels.iter().map(|l| l.caveats.as_slice()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::caveat::{describe_all, Side};

    fn judged(saturation: Saturation, noise: &[SideNoise]) -> Vec<Caveat> {
        caveats(Judged {
            saturation,
            open_loop: false,
            server_cpu_utilisation: 0.44,
            generator_cpu_utilisation: 0.31,
            noise,
            unsteady_after: None,
        })
    }

    const BUSY_GENERATOR: SideNoise = SideNoise {
        side: Side::Generator,
        steal: 0.0,
        foreign: 0.61,
    };

    #[test]
    fn a_busy_generator_cpu_is_named_with_its_share() {
        let quiet_server = SideNoise {
            side: Side::Server,
            steal: 0.001,
            foreign: 0.01,
        };
        let c = judged(Saturation::Neither, &[quiet_server, BUSY_GENERATOR]);
        assert_eq!(c.len(), 2, "{c:?}");
        assert_eq!(c[0].describe(), "generator CPU 61% foreign");
        assert_eq!(
            c[1].describe(),
            "neither side saturated (server 44%, generator 31%): contention (generator CPU 61% foreign)"
        );
        assert_eq!(
            describe_all(&c),
            "generator CPU 61% foreign; neither side saturated (server 44%, generator 31%)"
        );
    }

    #[test]
    fn both_sides_idle_points_at_a_wait() {
        let c = judged(Saturation::Neither, &[]);
        assert_eq!(
            c[0].describe(),
            "neither side saturated (server 44%, generator 31%): both sides idle, which points \
             at a wait in the server or the client"
        );
        // A server-bound quiet level is clean; an open-loop `neither` is expected.
        assert!(judged(Saturation::Server, &[]).is_empty());
        let open = caveats(Judged {
            saturation: Saturation::Neither,
            open_loop: true,
            server_cpu_utilisation: 0.2,
            generator_cpu_utilisation: 0.1,
            noise: &[],
            unsteady_after: None,
        });
        assert!(open.is_empty());
    }

    #[test]
    fn the_summary_counts_levels_not_caveats() {
        let a = judged(Saturation::Neither, &[BUSY_GENERATOR]);
        let b = judged(Saturation::Server, &[BUSY_GENERATOR]);
        let idle = judged(Saturation::Neither, &[]);
        let text = summarize([a.as_slice(), b.as_slice(), idle.as_slice()]).unwrap();
        assert_eq!(
            text,
            "2 of 3 levels noisy (generator CPU 61% foreign); 1 of 3 levels saturated neither \
             side (both sides idle, which points at a wait in the server or the client)"
        );
        assert_eq!(summarize([[].as_slice()]), None);
    }

    #[test]
    fn a_warm_up_that_ends_at_its_cap_still_moving_is_a_caveat() {
        let c = caveats(Judged {
            saturation: Saturation::Server,
            open_loop: false,
            server_cpu_utilisation: 1.0,
            generator_cpu_utilisation: 0.2,
            noise: &[],
            unsteady_after: Some((60.0, true)),
        });
        assert_eq!(
            c,
            vec![Caveat::Unsteady {
                warmup_s: 60.0,
                climbing: true
            }]
        );
        assert_eq!(c[0].describe(), "still climbing after 60 s of warm-up");
        assert!(c[0].needs_more_warmup() && c[0].retry_may_help());
        let wandering = Caveat::Unsteady {
            warmup_s: 60.0,
            climbing: false,
        };
        assert!(!wandering.retry_may_help() && !wandering.needs_more_warmup());
        assert_eq!(
            summarize([c.as_slice(), [].as_slice()]).as_deref(),
            Some("1 of 2 levels not steady at the warm-up cap")
        );
        // A later repeat (no warm-up of its own) names the level's last warm-up, never
        // "after 0 s".
        let later = Caveat::Unsteady {
            warmup_s: 0.0,
            climbing: true,
        };
        assert_eq!(
            later.describe(),
            "still climbing when the level's last warm-up ended"
        );
    }

    #[test]
    fn the_largest_reading_per_side_is_kept() {
        let a = SideNoise {
            side: Side::Server,
            steal: 0.03,
            foreign: 0.01,
        };
        let b = SideNoise {
            side: Side::Server,
            steal: 0.01,
            foreign: 0.02,
        };
        let out = largest_per_side([&a, &BUSY_GENERATOR, &b]);
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].steal, out[0].foreign), (0.03, 0.02));
    }
}
