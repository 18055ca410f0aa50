//! What the generator sends: the target URL and the request bytes, prepared once before
//! the run so that the hot path only copies pre-serialized bytes onto the socket.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use thiserror::Error;

use super::outcome::ExpectedStatus;

/// A problem with the URL, a header or the body, found before any connection is made.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum RequestError {
    #[error("URL `{url}`: {problem}")]
    Url { url: String, problem: String },
    #[error("header `{header}`: expected `Name: value`")]
    Header { header: String },
    #[error("method `{0}` is not a valid HTTP method token")]
    Method(String),
}

/// A parsed `http://` URL, resolved to one socket address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub addr: SocketAddr,
    /// The `Host` header value (host and, when not 80, port).
    pub host_header: String,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl Endpoint {
    /// Parses and resolves `url`. Only `http://` is supported; only loopback addresses are
    /// accepted unless `allow_remote` is set, because an accidental run against a shared
    /// host is a denial-of-service, not a benchmark.
    pub fn parse(url: &str, allow_remote: bool) -> Result<Endpoint, RequestError> {
        let fail = |problem: &str| RequestError::Url {
            url: url.to_string(),
            problem: problem.to_string(),
        };
        let rest = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) if scheme.eq_ignore_ascii_case("https") => {
                return Err(fail(
                    "https is not supported; the generator speaks plain HTTP/1.1",
                ))
            }
            Some(_) => return Err(fail("scheme must be http://")),
            None => return Err(fail("missing scheme; expected http://HOST[:PORT]/PATH")),
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_string()),
        };
        let path = path.split('#').next().unwrap_or("/").to_string();
        if authority.contains('@') {
            return Err(fail("user info in the URL is not supported"));
        }
        let (host, port) =
            split_host_port(authority).ok_or_else(|| fail("invalid host or port"))?;
        if host.is_empty() {
            return Err(fail("missing host"));
        }
        let addr = (host.trim_start_matches('[').trim_end_matches(']'), port)
            .to_socket_addrs()
            .map_err(|e| fail(&format!("cannot resolve host: {e}")))?
            .next()
            .ok_or_else(|| fail("host resolves to no address"))?;
        if !allow_remote && !addr.ip().is_loopback() {
            return Err(fail(&format!(
                "{} is not a loopback address; load goes to 127.0.0.0/8 or ::1 only (pass --allow-remote to override)",
                addr.ip()
            )));
        }
        let host_header = if port == 80 {
            host.to_string()
        } else {
            format!("{host}:{port}")
        };
        Ok(Endpoint {
            addr,
            host_header,
            path,
        })
    }
}

fn split_host_port(authority: &str) -> Option<(&str, u16)> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let host = &authority[..=end];
        match &authority[end + 1..] {
            "" => (host, None),
            rest => (host, Some(rest.strip_prefix(':')?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        None => 80,
        Some(p) => p.parse().ok().filter(|&p| p != 0)?,
    };
    Some((host, port))
}

/// Parses a `Name: value` header argument.
pub fn parse_header(raw: &str) -> Result<(String, String), RequestError> {
    let bad = || RequestError::Header {
        header: raw.to_string(),
    };
    let (name, value) = raw.split_once(':').ok_or_else(bad)?;
    let name = name.trim();
    if name.is_empty() || !name.bytes().all(is_token_byte) {
        return Err(bad());
    }
    Ok((name.to_string(), value.trim().to_string()))
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// One request, fully serialized, with the status that counts as success for it.
#[derive(Debug, Clone)]
pub struct PreparedRequest {
    /// The exact bytes written to the socket.
    pub bytes: Arc<[u8]>,
    pub expect: ExpectedStatus,
    /// False for HEAD, whose response carries no body.
    pub body_expected: bool,
}

impl PreparedRequest {
    /// Serializes a request. `Host`, `Content-Length` (when there is a body) and a
    /// `User-Agent` are added unless given in `headers`.
    pub fn build(
        method: &str,
        endpoint: &Endpoint,
        path: &str,
        headers: &[(String, String)],
        body: &[u8],
        expect: ExpectedStatus,
    ) -> Result<PreparedRequest, RequestError> {
        if method.is_empty() || !method.bytes().all(is_token_byte) {
            return Err(RequestError::Method(method.to_string()));
        }
        let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
        let mut out = Vec::with_capacity(128 + body.len());
        out.extend_from_slice(format!("{method} {path} HTTP/1.1\r\n").as_bytes());
        if !has("host") {
            out.extend_from_slice(format!("Host: {}\r\n", endpoint.host_header).as_bytes());
        }
        if !has("user-agent") {
            out.extend_from_slice(
                concat!("User-Agent: lanebench/", env!("CARGO_PKG_VERSION"), "\r\n").as_bytes(),
            );
        }
        for (name, value) in headers {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        if (!body.is_empty() || method == "POST" || method == "PUT") && !has("content-length") {
            out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        Ok(PreparedRequest {
            bytes: out.into(),
            expect,
            body_expected: !method.eq_ignore_ascii_case("HEAD"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_loopback_urls() {
        let e = Endpoint::parse("http://127.0.0.1:8080/health?x=1", false).unwrap();
        assert_eq!(e.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(e.host_header, "127.0.0.1:8080");
        assert_eq!(e.path, "/health?x=1");
        let e = Endpoint::parse("http://[::1]:9000", false).unwrap();
        assert_eq!(e.addr, "[::1]:9000".parse().unwrap());
        assert_eq!(e.path, "/");
        let e = Endpoint::parse("http://localhost:81?q", false).unwrap();
        assert!(e.addr.ip().is_loopback());
        assert_eq!(e.path, "/?q");
    }

    #[test]
    fn rejects_bad_urls_with_the_reason() {
        let problem = |url: &str| match Endpoint::parse(url, false) {
            Err(RequestError::Url { problem, .. }) => problem,
            other => panic!("{url}: {other:?}"),
        };
        assert!(problem("127.0.0.1:80/").contains("missing scheme"));
        assert!(problem("https://127.0.0.1/").contains("https"));
        assert!(problem("ftp://127.0.0.1/").contains("http://"));
        assert!(problem("http://127.0.0.1:0/").contains("port"));
        assert!(problem("http://127.0.0.1:99999/").contains("port"));
        assert!(problem("http://:80/").contains("host"));
        assert!(problem("http://192.0.2.1/").contains("loopback"));
    }

    #[test]
    fn remote_addresses_need_explicit_permission() {
        let e = Endpoint::parse("http://192.0.2.1:8080/", true).unwrap();
        assert_eq!(e.addr, "192.0.2.1:8080".parse().unwrap());
    }

    #[test]
    fn header_arguments() {
        assert_eq!(
            parse_header("X-Key: a:b ").unwrap(),
            ("X-Key".into(), "a:b".into())
        );
        assert_eq!(
            parse_header("Accept:").unwrap(),
            ("Accept".into(), "".into())
        );
        assert!(parse_header("no colon").is_err());
        assert!(parse_header(": value").is_err());
        assert!(parse_header("Bad Name: v").is_err());
    }

    #[test]
    fn serializes_requests_with_host_and_length() {
        let e = Endpoint::parse("http://127.0.0.1:8080/api/orders", false).unwrap();
        let headers = vec![("Content-Type".to_string(), "application/json".to_string())];
        let r = PreparedRequest::build(
            "POST",
            &e,
            &e.path,
            &headers,
            b"{}",
            ExpectedStatus::Exactly(201),
        )
        .unwrap();
        let text = std::str::from_utf8(&r.bytes).unwrap();
        assert!(text.starts_with("POST /api/orders HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"));
        assert!(text.contains("Content-Type: application/json\r\n"));
        assert!(text.ends_with("Content-Length: 2\r\n\r\n{}"));
        let head =
            PreparedRequest::build("HEAD", &e, "/", &[], b"", ExpectedStatus::SuccessOrRedirect)
                .unwrap();
        assert!(!head.body_expected);
        assert!(PreparedRequest::build(
            "GE T",
            &e,
            "/",
            &[],
            b"",
            ExpectedStatus::SuccessOrRedirect
        )
        .is_err());
    }
}

/// The requests a run sends, with their relative weights. Every connection picks the
/// next request by weight; a plan of one request always sends that one.
#[derive(Debug, Clone)]
pub struct RequestPlan {
    requests: Vec<PreparedRequest>,
    /// Cumulative weights, last = total.
    cumulative: Vec<u64>,
}

impl RequestPlan {
    /// A plan that always sends `request`.
    pub fn single(request: PreparedRequest) -> RequestPlan {
        RequestPlan {
            requests: vec![request],
            cumulative: vec![1],
        }
    }

    /// A weighted mix. Weights must be positive and the list non-empty (validated by the
    /// scenario loader).
    pub fn weighted(entries: Vec<(PreparedRequest, u64)>) -> RequestPlan {
        assert!(
            !entries.is_empty() && entries.iter().all(|(_, w)| *w > 0),
            "validated by the caller"
        );
        let mut total = 0;
        let mut requests = Vec::with_capacity(entries.len());
        let mut cumulative = Vec::with_capacity(entries.len());
        for (request, weight) in entries {
            total += weight;
            requests.push(request);
            cumulative.push(total);
        }
        RequestPlan {
            requests,
            cumulative,
        }
    }

    /// Picks the index of the next request from a uniform random number.
    #[inline]
    pub fn pick(&self, random: u64) -> usize {
        if self.requests.len() == 1 {
            return 0;
        }
        let total = *self.cumulative.last().expect("non-empty");
        let point = random % total;
        self.cumulative.partition_point(|&c| c <= point)
    }

    /// The request at `index`.
    #[inline]
    pub fn get(&self, index: usize) -> &PreparedRequest {
        &self.requests[index]
    }

    /// Number of distinct requests.
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    /// True when the plan has no request (never, once built).
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }
}

#[cfg(test)]
mod plan_tests {
    use super::*;

    fn request(path: &str) -> PreparedRequest {
        let e = Endpoint::parse("http://127.0.0.1:1/", false).unwrap();
        PreparedRequest::build("GET", &e, path, &[], b"", ExpectedStatus::SuccessOrRedirect)
            .unwrap()
    }

    #[test]
    fn weighted_pick_follows_weights() {
        let plan = RequestPlan::weighted(vec![(request("/a"), 1), (request("/b"), 3)]);
        let mut counts = [0u64; 2];
        for r in 0..4000u64 {
            counts[plan.pick(r)] += 1;
        }
        assert_eq!(counts, [1000, 3000]);
        assert_eq!(RequestPlan::single(request("/x")).pick(12345), 0);
    }
}
