//! A scenario's `[resilience]` section and its `[[fault]]` list (issue 23): each target
//! runs as a user service (the scenario needs `[chain]` with the proxy) under a steady
//! open-loop load, and each fault is one **episode** of that load: `start` of normal
//! service, the fault for `duration`, then `after` of normal service again. The proxy
//! between the services injects the fault (`delay`, `error`, `blackhole`, `refuse`,
//! `reset`); `down` stops the order service's process and starts it again.
//!
//! With `breaker_off = true` every episode is run twice, the second time on a user
//! service started with `BREAKER_FAILURES=0`, so the report shows what the breaker buys.

use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};
use toml::Spanned;

use super::problem::duration as parse_duration;
use super::problem::{line_of, Problem};

/// The `/health` probe's default rate: low beside the load, frequent enough for a p99
/// per phase.
pub const DEFAULT_HEALTH_RATE: f64 = 20.0;
/// Normal service after a fault unless the fault says otherwise.
pub const DEFAULT_AFTER: Duration = Duration::from_secs(15);
/// The longest delay a `delay` fault may add, as the proxy accepts it.
pub const MAX_DELAY_MS: u64 = 600_000;

/// What goes wrong, and how.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum FaultKind {
    /// Every downstream request waits this long in the proxy before it is forwarded.
    Delay { delay_ms: u64 },
    /// This share of downstream requests is answered `status` by the proxy.
    Error { status: u16, share: f64 },
    /// Downstream requests are swallowed: never forwarded, never answered.
    Blackhole,
    /// The proxy stops listening (connections refused) and closes open connections.
    Refuse,
    /// Answers are cut off partway by a TCP reset.
    Reset,
    /// The order service's process is stopped, then started again on the same port.
    Down,
}

impl FaultKind {
    /// The kind's name as scenarios and reports write it.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::Delay { .. } => "delay",
            FaultKind::Error { .. } => "error",
            FaultKind::Blackhole => "blackhole",
            FaultKind::Refuse => "refuse",
            FaultKind::Reset => "reset",
            FaultKind::Down => "down",
        }
    }
}

/// One validated `[[fault]]`: one episode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultSpec {
    #[serde(flatten)]
    pub kind: FaultKind,
    /// Normal service before the fault, from the start of the episode's load.
    #[serde(serialize_with = "humantime_str")]
    pub start: Duration,
    #[serde(serialize_with = "humantime_str")]
    pub duration: Duration,
    /// Normal service after the fault ends.
    #[serde(serialize_with = "humantime_str")]
    pub after: Duration,
}

impl FaultSpec {
    /// The episode's whole load: before, fault and after.
    pub fn length(&self) -> Duration {
        self.start + self.duration + self.after
    }

    /// A short label: "blackhole", "delay 1500ms", "error 500 x50%".
    pub fn label(&self) -> String {
        match self.kind {
            FaultKind::Delay { delay_ms } => format!("delay {delay_ms}ms"),
            FaultKind::Error { status, share } if share < 1.0 => {
                format!("error {status} x{}%", (share * 1000.0).round() / 10.0)
            }
            FaultKind::Error { status, .. } => format!("error {status}"),
            other => other.name().to_string(),
        }
    }
}

/// The validated `[resilience]` section with its faults.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResilienceSpec {
    /// `/health` probes per second on the user service during every episode.
    pub health_rate: f64,
    /// Also run every episode with the breaker off (`BREAKER_FAILURES=0`).
    pub breaker_off: bool,
    /// `BREAKER_FAILURES`/`BREAKER_OPEN_MS` given to the user service; the target's
    /// defaults (5, 2000) when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breaker_failures: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breaker_open_ms: Option<u64>,
    pub faults: Vec<FaultSpec>,
}

fn humantime_str<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_duration(*d))
}

/// `[resilience]` as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawResilience {
    health_rate: Option<Spanned<f64>>,
    breaker_off: Option<bool>,
    breaker_failures: Option<Spanned<i64>>,
    breaker_open_ms: Option<Spanned<i64>>,
}

/// One `[[fault]]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFault {
    kind: Spanned<String>,
    start: Option<Spanned<String>>,
    duration: Spanned<String>,
    after: Option<Spanned<String>>,
    delay_ms: Option<Spanned<i64>>,
    status: Option<Spanned<i64>>,
    share: Option<Spanned<f64>>,
}

/// Validates the section and its faults (the section may be absent when there are
/// faults; faults without `[chain]` or without an open-loop `rate` are refused by the
/// caller, which knows those).
pub(super) fn validate(
    raw: Option<RawResilience>,
    faults: &[Spanned<RawFault>],
    text: &str,
) -> Result<Option<ResilienceSpec>, Problem> {
    let at = |span: std::ops::Range<usize>, message: String| Problem {
        line: Some(line_of(text, span.start)),
        message,
    };
    if faults.is_empty() {
        return match raw {
            Some(_) => Err(Problem {
                line: None,
                message: "[resilience] needs at least one [[fault]]".to_string(),
            }),
            None => Ok(None),
        };
    }
    let raw = raw.unwrap_or_default();
    let health_rate = match &raw.health_rate {
        None => DEFAULT_HEALTH_RATE,
        Some(r) if r.get_ref().is_finite() && (0.1..=10_000.0).contains(r.get_ref()) => {
            *r.get_ref()
        }
        Some(r) => {
            let message = format!(
                "[resilience] health_rate {} must be from 0.1 to 10000 per second",
                r.get_ref()
            );
            return Err(at(r.span(), message));
        }
    };
    let integer = |value: &Option<Spanned<i64>>, key: &str, min: i64| match value {
        None => Ok(None),
        Some(v) if *v.get_ref() >= min && *v.get_ref() <= 1_000_000_000 => {
            Ok(Some(*v.get_ref() as u64))
        }
        Some(v) => Err(at(
            v.span(),
            format!(
                "[resilience] {key} {} must be an integer from {min} to 1000000000",
                v.get_ref()
            ),
        )),
    };
    let breaker_failures = integer(&raw.breaker_failures, "breaker_failures", 0)?;
    let breaker_open_ms = integer(&raw.breaker_open_ms, "breaker_open_ms", 1)?;
    let faults = faults
        .iter()
        .map(|f| fault(f, text))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(ResilienceSpec {
        health_rate,
        breaker_off: raw.breaker_off.unwrap_or(false),
        breaker_failures,
        breaker_open_ms,
        faults,
    }))
}

/// What a scenario with faults needs besides them: a chain through the proxy, and an
/// open-loop rate.
pub(super) fn needs(
    chain: Option<&super::chain::ChainSpec>,
    rate: Option<f64>,
) -> Result<(), String> {
    if !chain.is_some_and(|c| c.proxy) {
        return Err("[[fault]] needs [chain] with the proxy (proxy = true): the proxy injects the faults and counts the calls".to_string());
    }
    if rate.is_none() {
        return Err("[[fault]] needs an open-loop `rate`: a fault is measured against a steady offered load, not a closed loop that slows down with the service".to_string());
    }
    Ok(())
}

fn fault(raw: &Spanned<RawFault>, text: &str) -> Result<FaultSpec, Problem> {
    let f = raw.get_ref();
    let at = |span: std::ops::Range<usize>, message: String| Problem {
        line: Some(line_of(text, span.start)),
        message: format!("[[fault]] {message}"),
    };
    let at_least_a_second = |value: &Spanned<String>, key: &str| -> Result<Duration, Problem> {
        let d = parse_duration(value, key, text).map_err(|p| Problem {
            message: format!("[[fault]] {}", p.message),
            ..p
        })?;
        if d < Duration::from_secs(1) {
            return Err(at(
                value.span(),
                format!("{key} must be at least 1s (the timeline is per second)"),
            ));
        }
        Ok(d)
    };
    let start = match &f.start {
        Some(s) => at_least_a_second(s, "start")?,
        None => Duration::from_secs(10),
    };
    let duration = at_least_a_second(&f.duration, "duration")?;
    let after = match &f.after {
        Some(a) => at_least_a_second(a, "after")?,
        None => DEFAULT_AFTER,
    };
    let kind = fault_kind(raw, text)?;
    Ok(FaultSpec {
        kind,
        start,
        duration,
        after,
    })
}

/// The fault's kind with its parameters, each checked against the kind.
fn fault_kind(raw: &Spanned<RawFault>, text: &str) -> Result<FaultKind, Problem> {
    let f = raw.get_ref();
    let at = |span: std::ops::Range<usize>, message: String| Problem {
        line: Some(line_of(text, span.start)),
        message: format!("[[fault]] {message}"),
    };
    let name = f.kind.get_ref().as_str();
    let unused = |value: bool, key: &str| -> Result<(), Problem> {
        if value {
            return Err(at(
                raw.span(),
                format!("`{key}` does not apply to a `{name}` fault"),
            ));
        }
        Ok(())
    };
    let kind = match name {
        "delay" => {
            unused(f.status.is_some() || f.share.is_some(), "status/share")?;
            let Some(delay) = &f.delay_ms else {
                return Err(at(raw.span(), "a `delay` fault needs delay_ms".to_string()));
            };
            let value = *delay.get_ref();
            if !(1..=MAX_DELAY_MS as i64).contains(&value) {
                return Err(at(
                    delay.span(),
                    format!("delay_ms {value} must be from 1 to {MAX_DELAY_MS}"),
                ));
            }
            FaultKind::Delay {
                delay_ms: value as u64,
            }
        }
        "error" => {
            unused(f.delay_ms.is_some(), "delay_ms")?;
            let status = match &f.status {
                None => 500,
                Some(s) if (200..=599).contains(s.get_ref()) => *s.get_ref() as u16,
                Some(s) => {
                    return Err(at(
                        s.span(),
                        format!("status {} must be from 200 to 599", s.get_ref()),
                    ))
                }
            };
            let share = match &f.share {
                None => 1.0,
                Some(s) if *s.get_ref() > 0.0 && *s.get_ref() <= 1.0 => *s.get_ref(),
                Some(s) => {
                    return Err(at(
                        s.span(),
                        format!("share {} must be above 0 and at most 1", s.get_ref()),
                    ))
                }
            };
            FaultKind::Error { status, share }
        }
        "blackhole" | "refuse" | "reset" | "down" => {
            unused(f.delay_ms.is_some(), "delay_ms")?;
            unused(f.status.is_some() || f.share.is_some(), "status/share")?;
            match name {
                "blackhole" => FaultKind::Blackhole,
                "refuse" => FaultKind::Refuse,
                "reset" => FaultKind::Reset,
                _ => FaultKind::Down,
            }
        }
        other => {
            let message = format!(
                "kind `{other}` is not one of delay, error, blackhole, refuse, reset, down"
            );
            return Err(at(f.kind.span(), message));
        }
    };
    Ok(kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    const HEAD: &str = "name = \"r\"\nduration = \"1s\"\nrate = 100\nconnections = [8]\n[[request]]\nname = \"s\"\npath = \"/api/users/1/summary\"\n";

    fn parse(rest: &str) -> Result<Scenario, String> {
        Scenario::parse(&format!("{HEAD}{rest}"), "r.toml").map_err(|e| e.to_string())
    }

    #[test]
    fn the_shipped_scenario_is_valid_and_says_what_it_runs() {
        let s = Scenario::load(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scenarios/resilience.toml"
        ))
        .unwrap();
        let spec = s.resilience.unwrap();
        assert!(spec.breaker_off);
        let kinds: Vec<&str> = spec.faults.iter().map(|f| f.kind.name()).collect();
        assert_eq!(kinds, ["blackhole", "error", "delay", "down"]);
        assert_eq!(spec.faults[2].label(), "delay 1500ms");
        assert_eq!(spec.faults[0].length(), Duration::from_secs(26));
        assert_eq!(spec.faults[3].length(), Duration::from_secs(34));
    }

    #[test]
    fn faults_take_their_defaults_and_parameters() {
        let s = parse("[chain]\n[[fault]]\nkind = \"error\"\nduration = \"5s\"\nshare = 0.5\n[[fault]]\nkind = \"refuse\"\nduration = \"2s\"\nstart = \"3s\"\nafter = \"4s\"\n").unwrap();
        let spec = s.resilience.unwrap();
        assert_eq!(spec.health_rate, DEFAULT_HEALTH_RATE);
        assert!(!spec.breaker_off);
        assert_eq!(
            spec.faults[0].kind,
            FaultKind::Error {
                status: 500,
                share: 0.5
            }
        );
        assert_eq!(spec.faults[0].label(), "error 500 x50%");
        assert_eq!(spec.faults[0].start, Duration::from_secs(10));
        assert_eq!(spec.faults[0].after, DEFAULT_AFTER);
        assert_eq!(spec.faults[1].length(), Duration::from_secs(9));
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(json["faults"][0]["kind"], "error");
        assert_eq!(json["faults"][1]["start"], "3s");
    }

    #[test]
    fn bad_faults_name_the_line_and_the_problem() {
        let chain = "[chain]\n";
        for (fault, says) in [
            (
                "kind = \"flood\"\nduration = \"1s\"",
                "kind `flood` is not one of",
            ),
            ("kind = \"delay\"\nduration = \"1s\"", "needs delay_ms"),
            (
                "kind = \"delay\"\nduration = \"1s\"\ndelay_ms = 0",
                "delay_ms 0 must be",
            ),
            (
                "kind = \"error\"\nduration = \"1s\"\nstatus = 99",
                "status 99 must be",
            ),
            (
                "kind = \"error\"\nduration = \"1s\"\nshare = 0.0",
                "share 0 must be",
            ),
            (
                "kind = \"blackhole\"\nduration = \"1s\"\nstatus = 500",
                "does not apply",
            ),
            ("kind = \"down\"\nduration = \"500ms\"", "at least 1s"),
            ("kind = \"down\"\nduration = \"x\"", "not a duration"),
        ] {
            let err = parse(&format!("{chain}[[fault]]\n{fault}\n")).unwrap_err();
            assert!(err.starts_with("r.toml:"), "{err}");
            assert!(err.contains(says), "{fault}: {err}");
        }
        let no_chain = parse("[[fault]]\nkind = \"down\"\nduration = \"1s\"\n").unwrap_err();
        assert!(
            no_chain.contains("needs [chain] with the proxy"),
            "{no_chain}"
        );
        let direct =
            parse("[chain]\nproxy = false\n[[fault]]\nkind = \"down\"\nduration = \"1s\"\n")
                .unwrap_err();
        assert!(direct.contains("needs [chain] with the proxy"), "{direct}");
        let closed = Scenario::parse(
            &HEAD.replace("rate = 100\n", "").replace(
                "[[request]]",
                "[chain]\n[[fault]]\nkind = \"down\"\nduration = \"1s\"\n[[request]]",
            ),
            "r.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(closed.contains("needs an open-loop `rate`"), "{closed}");
        let lonely = parse("[chain]\n[resilience]\nbreaker_off = true\n").unwrap_err();
        assert!(lonely.contains("needs at least one [[fault]]"), "{lonely}");
        let bad = parse("[chain]\n[resilience]\nbreaker_open_ms = 0\n[[fault]]\nkind = \"down\"\nduration = \"1s\"\n").unwrap_err();
        assert!(bad.contains("breaker_open_ms 0 must be"), "{bad}");
    }
}
