//! The record of why a measured level (or one attempt at it) may not be trusted: the
//! CPU noise read on one side's CPUs, and the caveats a level carries into results.json.
//! Judging them from what was measured is `run::noise`'s work; these are the records,
//! so that the results model does not depend on the measurement code.

use serde::{Deserialize, Serialize};

use super::component::Role;
use crate::sample::cpustat::{Noise, MAX_FOREIGN, MAX_STEAL};

/// Which part of the run a set of CPUs belongs to: the server's, the generator's, or
/// those of a component beside the service, named by its role ("database").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Side {
    Server,
    Generator,
    Component(Role),
}

impl Side {
    pub fn label(self) -> &'static str {
        match self {
            Side::Server => "server",
            Side::Generator => "generator",
            Side::Component(role) => role.label(),
        }
    }
}

impl From<Side> for String {
    fn from(side: Side) -> String {
        side.label().to_string()
    }
}

impl TryFrom<String> for Side {
    type Error = String;

    fn try_from(word: String) -> Result<Side, String> {
        match word.as_str() {
            "server" => Ok(Side::Server),
            "generator" => Ok(Side::Generator),
            other => Role::from_label(other)
                .map(Side::Component)
                .ok_or_else(|| format!("unknown side {other:?}")),
        }
    }
}

/// Steal and foreign CPU on one side's CPUs (largest over a level's repeats).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SideNoise {
    pub side: Side,
    pub steal: f64,
    pub foreign: f64,
}

impl SideNoise {
    pub fn of(side: Side, noise: Noise) -> SideNoise {
        SideNoise {
            side,
            steal: noise.steal,
            foreign: noise.foreign,
        }
    }

    pub fn is_noisy(&self) -> bool {
        self.steal > MAX_STEAL || self.foreign > MAX_FOREIGN
    }

    /// "generator CPU 61% foreign", "server CPU 3% stolen", or both joined.
    pub fn describe(&self) -> String {
        let side = self.side.label();
        let mut parts = Vec::new();
        if self.foreign > MAX_FOREIGN {
            parts.push(format!("{side} CPU {:.0}% foreign", self.foreign * 100.0));
        }
        if self.steal > MAX_STEAL {
            parts.push(format!("{side} CPU {:.0}% stolen", self.steal * 100.0));
        }
        if parts.is_empty() {
            format!(
                "{side} CPU {:.0}% foreign, {:.0}% stolen",
                self.foreign * 100.0,
                self.steal * 100.0
            )
        } else {
            parts.join(", ")
        }
    }
}

/// Why a level (or one attempt at it) does not cleanly measure the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Caveat {
    /// Steal or other processes' CPU above the bar (2% / 5%) on one side's CPUs (the
    /// reading's fields sit beside `kind`).
    Noisy(SideNoise),
    /// A closed-loop level whose verdict is `neither`: the server was not saturated and
    /// neither was the generator, so the figure measured neither; `cause` is the likely
    /// reason.
    Unsaturated {
        server_cpu_utilisation: f64,
        generator_cpu_utilisation: f64,
        cause: String,
    },
    /// The warm-up before the level reached its cap (`warmup_max`) while throughput was
    /// still moving. `climbing`: still rising (its trend's whole interval above zero),
    /// a server that had not finished warming, such as a JIT still compiling: measured
    /// again after more warm-up. Otherwise wandering up and down: more load would not
    /// settle it, so it is not measured again for this.
    Unsteady { warmup_s: f64, climbing: bool },
}

impl Caveat {
    /// One phrase, for progress lines, reports and the retry record.
    pub fn describe(&self) -> String {
        match self {
            Caveat::Noisy(noise) => noise.describe(),
            Caveat::Unsaturated {
                server_cpu_utilisation,
                generator_cpu_utilisation,
                cause,
            } => format!(
                "neither side saturated (server {:.0}%, generator {:.0}%): {cause}",
                server_cpu_utilisation * 100.0,
                generator_cpu_utilisation * 100.0
            ),
            Caveat::Unsteady { warmup_s, climbing } => {
                // A repeat that followed another (no warm-up of its own) inherits the
                // state of the level's last warm-up.
                let when = if *warmup_s > 0.0 {
                    format!("after {warmup_s:.0} s of warm-up")
                } else {
                    "when the level's last warm-up ended".to_string()
                };
                if *climbing {
                    format!("still climbing {when}")
                } else {
                    format!("not steady {when} (throughput wandering)")
                }
            }
        }
    }

    pub fn is_noisy(&self) -> bool {
        matches!(self, Caveat::Noisy(_))
    }

    pub fn is_unsteady(&self) -> bool {
        matches!(self, Caveat::Unsteady { .. })
    }

    /// Measuring again can clear it: everything but a warm-up that wandered.
    pub fn retry_may_help(&self) -> bool {
        !matches!(
            self,
            Caveat::Unsteady {
                climbing: false,
                ..
            }
        )
    }

    /// What clears it is more warm load, not a pause.
    pub fn needs_more_warmup(&self) -> bool {
        matches!(self, Caveat::Unsteady { climbing: true, .. })
    }

    pub fn is_unsaturated(&self) -> bool {
        matches!(self, Caveat::Unsaturated { .. })
    }
}

/// A level's caveats in one phrase: the noisy sides, then `neither` with its cause only
/// when contention does not already explain it.
pub fn describe_all(caveats: &[Caveat]) -> String {
    let noisy = caveats.iter().any(Caveat::is_noisy);
    caveats
        .iter()
        .map(|c| match c {
            Caveat::Unsaturated {
                server_cpu_utilisation,
                generator_cpu_utilisation,
                ..
            } if noisy => format!(
                "neither side saturated (server {:.0}%, generator {:.0}%)",
                server_cpu_utilisation * 100.0,
                generator_cpu_utilisation * 100.0
            ),
            c => c.describe(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}
