//! Service-to-service mode (`targets/CONTRACT.md`, "Service-to-service mode"): what the three
//! Rust targets share whatever their HTTP client is. `ORDERS_URL`, `DOWNSTREAM_TIMEOUT_MS`,
//! `DOWNSTREAM_CONNECTIONS`, `BREAKER_FAILURES` and `BREAKER_OPEN_MS` are read here, and the
//! bodies a user service receives, sends and answers are typed here, so the order service's
//! answers are decoded into [`Order`] and serialized again rather than passed through.

use std::net::Ipv6Addr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::breaker::BreakerSettings;
pub use crate::error::DownstreamError;
use crate::{Item, Order, User};

/// The contract's defaults for the numbers.
const DEFAULT_TIMEOUT_MS: u64 = 1000;
const DEFAULT_CONNECTIONS: usize = 64;
const DEFAULT_BREAKER_FAILURES: u64 = 5;
const DEFAULT_BREAKER_OPEN_MS: u64 = 2000;

/// The most a downstream answer may hold; a contract-conforming order list is a few KiB, so
/// anything larger is a broken order service, not a list of orders.
pub const MAX_DOWNSTREAM_BODY: usize = 1 << 20;

/// Where the order service is and how to call it: set when the process is a user service.
#[derive(Clone, Debug)]
pub struct Downstream {
    /// `HOST:PORT` exactly as given (an IPv6 host keeps its brackets).
    pub authority: String,
    /// The deadline of one whole call, connecting and reading the body included.
    pub timeout: Duration,
    /// The most connections the process holds to the order service.
    pub connections: usize,
    /// The circuit breaker's settings; `None` with `BREAKER_FAILURES=0` (no breaker).
    pub breaker: Option<BreakerSettings>,
}

impl Downstream {
    /// `http://HOST:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.authority)
    }
}

/// Reads the service-to-service environment. `None` when `ORDERS_URL` is unset or empty (the
/// process is not a user service); the numbers are checked even then, so a typo in them is
/// never silently ignored. The message names the variable and the problem.
pub fn downstream_from_env() -> Result<Option<Downstream>, String> {
    let timeout_ms = positive_from_env("DOWNSTREAM_TIMEOUT_MS", DEFAULT_TIMEOUT_MS)?;
    let connections = positive_from_env("DOWNSTREAM_CONNECTIONS", DEFAULT_CONNECTIONS as u64)?;
    let breaker = breaker_settings(
        std::env::var("BREAKER_FAILURES").ok().as_deref(),
        std::env::var("BREAKER_OPEN_MS").ok().as_deref(),
    )?;
    let url = std::env::var("ORDERS_URL").unwrap_or_default();
    if url.is_empty() {
        return Ok(None);
    }
    let authority = parse_orders_url(&url)?;
    Ok(Some(Downstream {
        authority,
        timeout: Duration::from_millis(timeout_ms),
        // Far beyond any real pool; the clamp only keeps a huge value from overflowing a semaphore.
        connections: usize::try_from(connections)
            .unwrap_or(usize::MAX)
            .min(1 << 20),
        breaker,
    }))
}

/// `BREAKER_FAILURES` (a non-negative integer; 0 is no breaker) and `BREAKER_OPEN_MS` (a
/// positive one), each `None` when unset. The open time is checked even when the breaker is
/// off, like every other number.
pub fn breaker_settings(
    failures: Option<&str>,
    open_ms: Option<&str>,
) -> Result<Option<BreakerSettings>, String> {
    let failures = match failures {
        None => DEFAULT_BREAKER_FAILURES,
        Some(raw) => whole_number(raw).ok_or_else(|| {
            format!("BREAKER_FAILURES must be a non-negative integer, got {raw:?}")
        })?,
    };
    let open_ms = match open_ms {
        None => DEFAULT_BREAKER_OPEN_MS,
        Some(raw) => whole_number(raw)
            .filter(|&ms| ms > 0)
            .ok_or_else(|| format!("BREAKER_OPEN_MS must be a positive integer, got {raw:?}"))?,
    };
    Ok((failures > 0).then(|| BreakerSettings {
        failures,
        open_for: Duration::from_millis(open_ms),
    }))
}

/// Decimal digits only (no sign, no space, not empty); a number too large for a `u64` is
/// still a whole number, so it saturates rather than being refused.
fn whole_number(raw: &str) -> Option<u64> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(raw.parse::<u64>().unwrap_or(u64::MAX))
}

fn positive_from_env(name: &str, default: u64) -> Result<u64, String> {
    let Ok(raw) = std::env::var(name) else {
        return Ok(default);
    };
    let digits_only = !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit());
    match raw.parse::<u64>() {
        Ok(value) if digits_only && value > 0 => Ok(value),
        _ => Err(format!("{name} must be a positive integer, got {raw:?}")),
    }
}

/// `http://HOST:PORT` with at most one trailing slash, to `HOST:PORT`.
pub fn parse_orders_url(url: &str) -> Result<String, String> {
    let problem = |what: &str| format!("ORDERS_URL must be http://HOST:PORT ({what}), got {url:?}");
    let rest = match url.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("http://") => &url[7..],
        _ => return Err(problem("scheme other than http")),
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains(['/', '?', '#']) {
        return Err(problem("a path, query or fragment"));
    }
    if authority.contains('@') {
        return Err(problem("user information"));
    }
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (ip, after) = bracketed
            .split_once(']')
            .ok_or_else(|| problem("an unclosed IPv6 bracket"))?;
        if ip.parse::<Ipv6Addr>().is_err() {
            return Err(problem("not an IPv6 address in brackets"));
        }
        let port = after.strip_prefix(':').ok_or_else(|| problem("no port"))?;
        (ip, port)
    } else {
        let (host, port) = authority
            .split_once(':')
            .ok_or_else(|| problem("no port"))?;
        let name_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_');
        if host.is_empty() || !host.chars().all(name_char) {
            return Err(problem("not an IP address or a host name"));
        }
        (host, port)
    };
    let valid_port = !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
        && matches!(port.parse::<u16>(), Ok(p) if p > 0);
    if !valid_port || host.is_empty() {
        return Err(problem("the port must be 1-65535"));
    }
    Ok(authority.to_string())
}

/// `GET /api/users/{id}/summary`: the user plus the order service's list, or `null` and
/// `degraded` when the call failed. Fields in the contract's order.
#[derive(Serialize)]
pub struct Summary {
    pub id: u64,
    pub name: String,
    pub email: String,
    pub orders: Option<Vec<Order>>,
    pub degraded: bool,
}

impl Summary {
    pub fn new(user: User, orders: Option<Vec<Order>>) -> Self {
        Self {
            id: user.id,
            name: user.name,
            email: user.email,
            degraded: orders.is_none(),
            orders,
        }
    }
}

/// The body of `POST /api/users/{id}/orders`. Only `items` is read, so a `user_id` of any
/// value or type is ignored (the path names the user).
#[derive(Deserialize)]
pub struct UserOrder {
    pub items: Vec<Item>,
}

/// The body sent to the order service's `POST /api/orders`.
#[derive(Serialize)]
pub struct OrderRequest<'a> {
    pub user_id: u64,
    pub items: &'a [Item],
}

/// The order service's list of orders, or why the body is not one.
pub fn decode_orders(body: &[u8]) -> Result<Vec<Order>, DownstreamError> {
    serde_json::from_slice(body)
        .map_err(|error| DownstreamError(format!("not a list of orders: {error}")))
}

/// The order service's created order, or why the body is not one.
pub fn decode_order(body: &[u8]) -> Result<Order, DownstreamError> {
    serde_json::from_slice(body).map_err(|error| DownstreamError(format!("not an order: {error}")))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{breaker_settings, parse_orders_url};
    use crate::breaker::BreakerSettings;

    #[test]
    fn breaker_settings_forms() {
        let settings = |failures, ms| {
            Some(BreakerSettings {
                failures,
                open_for: Duration::from_millis(ms),
            })
        };
        assert_eq!(breaker_settings(None, None), Ok(settings(5, 2000)));
        assert_eq!(
            breaker_settings(Some("3"), Some("1500")),
            Ok(settings(3, 1500))
        );
        assert_eq!(breaker_settings(Some("007"), None), Ok(settings(7, 2000)));
        assert_eq!(breaker_settings(Some("0"), None), Ok(None));
        assert_eq!(breaker_settings(Some("0"), Some("1")), Ok(None));
        assert_eq!(
            breaker_settings(Some("99999999999999999999"), None),
            Ok(settings(u64::MAX, 2000))
        );
        for (failures, ms) in [
            (Some("-1"), None),
            (Some("abc"), None),
            (Some(""), None),
            (Some(" 3"), None),
            (Some("+3"), None),
            (Some("1.5"), None),
            (None, Some("0")),
            (None, Some("x")),
            (None, Some("")),
            (None, Some("-5")),
            (Some("0"), Some("0")),
        ] {
            let result = breaker_settings(failures, ms);
            let message = result.expect_err(&format!("{failures:?} {ms:?} accepted"));
            assert!(!message.contains('\n'), "more than one line: {message}");
        }
    }

    #[test]
    fn orders_url_forms() {
        assert_eq!(
            parse_orders_url("http://127.0.0.1:8080").unwrap(),
            "127.0.0.1:8080"
        );
        assert_eq!(parse_orders_url("http://orders:1/").unwrap(), "orders:1");
        assert_eq!(parse_orders_url("http://[::1]:9/").unwrap(), "[::1]:9");
        for bad in [
            "ftp://127.0.0.1:1",
            "http://127.0.0.1",
            "http://127.0.0.1:1/x",
            "http://127.0.0.1:1//",
            "http://127.0.0.1:0",
            "http://127.0.0.1:65536",
            "http://127.0.0.1:abc",
            "http://:80",
            "http://u@h:80",
            "https://h:80",
            "127.0.0.1:80",
            "http://h:80?x",
        ] {
            assert!(parse_orders_url(bad).is_err(), "{bad} accepted");
        }
    }
}
