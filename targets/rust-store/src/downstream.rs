//! Service-to-service mode (`targets/CONTRACT.md`, "Service-to-service mode"): what the three
//! Rust targets share whatever their HTTP client is. `ORDERS_URL`, `DOWNSTREAM_TIMEOUT_MS` and
//! `DOWNSTREAM_CONNECTIONS` are read here, and the bodies a user service receives, sends and
//! answers are typed here, so the order service's answers are decoded into [`Order`] and
//! serialized again rather than passed through.

use std::fmt;
use std::net::Ipv6Addr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Item, Order, User};

/// The contract's defaults for the two numbers.
const DEFAULT_TIMEOUT_MS: u64 = 1000;
const DEFAULT_CONNECTIONS: usize = 64;

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
}

impl Downstream {
    /// `http://HOST:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.authority)
    }
}

/// Reads the service-to-service environment. `None` when `ORDERS_URL` is unset or empty (the
/// process is not a user service); the two numbers are checked even then, so a typo in them
/// is never silently ignored. The message names the variable and the problem.
pub fn downstream_from_env() -> Result<Option<Downstream>, String> {
    let timeout_ms = positive_from_env("DOWNSTREAM_TIMEOUT_MS", DEFAULT_TIMEOUT_MS)?;
    let connections = positive_from_env("DOWNSTREAM_CONNECTIONS", DEFAULT_CONNECTIONS as u64)?;
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
    }))
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

/// Why a downstream call gave no usable answer; the text ends up in the 503 body.
#[derive(Debug)]
pub struct DownstreamError(pub String);

impl fmt::Display for DownstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl DownstreamError {
    pub fn timed_out(timeout: Duration) -> Self {
        Self(format!("no answer within {} ms", timeout.as_millis()))
    }

    pub fn status(status: u16) -> Self {
        Self(format!("order service answered {status}"))
    }

    /// The contract's 503 message.
    pub fn message(&self) -> String {
        format!("orders unavailable: {}", self.0)
    }
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
    use super::parse_orders_url;

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
