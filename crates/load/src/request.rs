//! What the generator sends: the target URL and the request bytes, prepared once before
//! the run so that the hot path only copies pre-serialized bytes onto the socket. The
//! bytes are HTTP/1.1's (`protocol::http1::encode`); a protocol that frames
//! requests otherwise prepares its own encoding from the same parts.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use thiserror::Error;

use super::outcome::ExpectedStatus;
use super::protocol::http1::encode::{end_head, head_around_target};
use super::wire::{check_header, check_request_target, escape, is_token, WireError};
use crate::template::Template;

/// A problem with the URL, a header or the body, found before any connection is made.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum RequestError {
    #[error("URL `{url}`: {problem}")]
    Url { url: String, problem: String },
    #[error("header `{header}`: expected `Name: value`")]
    Header { header: String },
    #[error("method `{0}` is not a valid HTTP method token")]
    Method(String),
    #[error(transparent)]
    Wire(#[from] WireError),
}

/// A parsed `http://` or `https://` URL, resolved to one socket address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub addr: SocketAddr,
    /// `https://`: the connection is TLS, and `host` is the name its certificate is
    /// checked against.
    pub tls: bool,
    /// The URL's host, without brackets or port.
    pub host: String,
    /// The `Host` header value (host and, when not 80, port).
    pub host_header: String,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl Endpoint {
    /// Parses and resolves `url` (`http://` or `https://`); only loopback addresses are
    /// accepted unless `allow_remote` is set, because an accidental run against a shared
    /// host is a denial-of-service, not a benchmark.
    pub fn parse(url: &str, allow_remote: bool) -> Result<Endpoint, RequestError> {
        let fail = |problem: &str| RequestError::Url {
            url: escape(url),
            problem: problem.to_string(),
        };
        let (tls, rest) = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => (false, rest),
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => (true, rest),
            Some(_) => return Err(fail("scheme must be http:// or https://")),
            None => return Err(fail("missing scheme; expected http://HOST[:PORT]/PATH")),
        };
        let default_port = if tls { 443 } else { 80 };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_string()),
        };
        if authority
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(fail("the host contains a space or a control character"));
        }
        check_request_target(&path).map_err(|e| fail(&e.to_string()))?;
        let path = path.split('#').next().unwrap_or("/").to_string();
        if authority.contains('@') {
            return Err(fail("user info in the URL is not supported"));
        }
        let (host, port) =
            split_host_port(authority, default_port).ok_or_else(|| fail("invalid host or port"))?;
        if host.is_empty() {
            return Err(fail("missing host"));
        }
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let literal = bare.parse::<IpAddr>().ok();
        let local_name = bare.eq_ignore_ascii_case("localhost");
        if !allow_remote && literal.is_none() && !local_name {
            // Refused before any name lookup: not even a DNS query leaves the machine.
            return Err(fail(&format!(
                "host `{bare}` is not loopback; use 127.0.0.1, ::1 or localhost (or pass --allow-remote)"
            )));
        }
        let addr = match (literal, local_name) {
            (Some(ip), _) => SocketAddr::new(ip, port),
            (None, true) => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
            (None, false) => (bare, port)
                .to_socket_addrs()
                .map_err(|e| fail(&format!("cannot resolve host: {e}")))?
                .next()
                .ok_or_else(|| fail("host resolves to no address"))?,
        };
        if !allow_remote && !addr.ip().is_loopback() {
            return Err(fail(&format!(
                "{} is not a loopback address; load goes to 127.0.0.0/8 or ::1 only (pass --allow-remote to override)",
                addr.ip()
            )));
        }
        let host_header = if port == default_port {
            host.to_string()
        } else {
            format!("{host}:{port}")
        };
        Ok(Endpoint {
            addr,
            tls,
            host: bare.to_string(),
            host_header,
            path,
        })
    }
}

/// Splits `host[:port]` or `[v6][:port]`; a missing port is `default_port`, port 0 is
/// refused. The host keeps its brackets.
pub fn split_host_port(authority: &str, default_port: u16) -> Option<(&str, u16)> {
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
        None => default_port,
        Some(p) => p.parse().ok().filter(|&p| p != 0)?,
    };
    Some((host, port))
}

/// Parses a `Name: value` header argument under the same rules as a scenario's headers
/// ([`check_header`]).
pub fn parse_header(raw: &str) -> Result<(String, String), RequestError> {
    let (name, value) = raw.split_once(':').ok_or_else(|| RequestError::Header {
        header: escape(raw),
    })?;
    // Only blanks are trimmed: a trailing CR or LF must be refused, not silently dropped.
    let (name, value) = (
        name.trim_matches([' ', '\t']),
        value.trim_matches([' ', '\t']),
    );
    check_header(name, value)?;
    Ok((name.to_string(), value.to_string()))
}

/// One request, ready to send: fully serialized when it has no template, otherwise the
/// fixed parts around its templates, rendered per request into a connection's buffer.
#[derive(Debug, Clone)]
pub struct PreparedRequest {
    /// The exact bytes written to the socket (for a templated request: with every
    /// template rendered as its source text, used only for display).
    pub bytes: Arc<[u8]>,
    /// Present when the path or body has templates to render per request.
    pub dynamic: Option<Arc<DynamicRequest>>,
    pub expect: ExpectedStatus,
    /// False for HEAD, whose response carries no body.
    pub body_expected: bool,
    /// Short description for messages, e.g. `GET /health`.
    pub label: String,
}

/// The parts of a templated request. Rendering appends: `start`, the path, `head`
/// (the rest of the request line and the fixed headers), then, for a body, its
/// `Content-Length` header, the blank line and the body.
#[derive(Debug)]
pub struct DynamicRequest {
    start: Vec<u8>,
    path: Template,
    head: Vec<u8>,
    body: Option<Template>,
}

impl DynamicRequest {
    /// Renders one request into `out` (cleared first), using `scratch` for the body.
    #[inline]
    pub fn render(&self, random: &mut u64, seq: u64, out: &mut Vec<u8>, scratch: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&self.start);
        self.path.render(random, seq, out);
        out.extend_from_slice(&self.head);
        let body = self.body.as_ref().map(|body| {
            scratch.clear();
            body.render(random, seq, scratch);
            &scratch[..]
        });
        end_head(out, body);
    }
}

impl PreparedRequest {
    /// Serializes a request. `Host` and `Content-Length` (when there is a body) are
    /// always the generator's; a `User-Agent` is added unless given in `headers`. The
    /// path and headers are checked again ([`check_header`]): whatever the caller, no
    /// input reaches the socket unchecked.
    pub fn build(
        method: &str,
        endpoint: &Endpoint,
        path: &str,
        headers: &[(String, String)],
        body: &[u8],
        expect: ExpectedStatus,
    ) -> Result<PreparedRequest, RequestError> {
        check_method(method)?;
        check_request_target(path)?;
        for (name, value) in headers {
            check_header(name, value)?;
        }
        let (mut out, after) = head_parts(method, endpoint, headers);
        out.extend_from_slice(path.as_bytes());
        out.extend_from_slice(&after);
        let has_body = !body.is_empty() || method == "POST" || method == "PUT";
        end_head(&mut out, has_body.then_some(body));
        Ok(PreparedRequest {
            bytes: out.into(),
            dynamic: None,
            expect,
            body_expected: !method.eq_ignore_ascii_case("HEAD"),
            label: format!("{method} {path}"),
        })
    }

    /// Prepares a request whose path and body may hold templates (`{rand:1..10}`,
    /// `{seq}`). Without any template it is serialized once, like [`PreparedRequest::build`].
    pub fn from_templates(
        method: &str,
        endpoint: &Endpoint,
        path: Template,
        headers: &[(String, String)],
        body: Option<Template>,
        expect: ExpectedStatus,
    ) -> Result<PreparedRequest, RequestError> {
        let body_static = body.as_ref().is_none_or(|b| b.is_static());
        if let (Some(path_text), true) = (path.literal(), body_static) {
            let body_text = body.as_ref().and_then(|b| b.literal()).unwrap_or("");
            return PreparedRequest::build(
                method,
                endpoint,
                path_text,
                headers,
                body_text.as_bytes(),
                expect,
            );
        }
        check_method(method)?;
        let shown = PreparedRequest::build(
            method,
            endpoint,
            path.source(),
            headers,
            body.as_ref().map_or("", |b| b.source()).as_bytes(),
            expect,
        )?;
        let (start, head) = head_parts(method, endpoint, headers);
        let dynamic = DynamicRequest {
            start,
            path,
            head,
            body,
        };
        Ok(PreparedRequest {
            dynamic: Some(Arc::new(dynamic)),
            ..shown
        })
    }

    /// The bytes of one request as it would be sent (templates rendered once, seq 0).
    pub fn render_once(&self) -> Vec<u8> {
        match &self.dynamic {
            None => self.bytes.to_vec(),
            Some(dynamic) => {
                let (mut out, mut scratch) = (Vec::new(), Vec::new());
                let mut random = 0x2545_F491_4F6C_DD1D;
                dynamic.render(&mut random, 0, &mut out, &mut scratch);
                out
            }
        }
    }

    /// Short description for messages, e.g. `GET /health`.
    pub fn describe(&self) -> &str {
        &self.label
    }
}

fn check_method(method: &str) -> Result<(), RequestError> {
    if !is_token(method) {
        return Err(RequestError::Method(escape(method)));
    }
    Ok(())
}

fn has_header(headers: &[(String, String)], name: &str) -> bool {
    headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
}

/// The request head around its target, without the final blank line; the generator's
/// `User-Agent` first unless the caller gave one.
fn head_parts(
    method: &str,
    endpoint: &Endpoint,
    headers: &[(String, String)],
) -> (Vec<u8>, Vec<u8>) {
    let agent = concat!("lanebench/", env!("CARGO_PKG_VERSION"));
    let ours = [("User-Agent", agent)];
    let ours = ours.iter().filter(|_| !has_header(headers, "user-agent"));
    let all: Vec<(&str, &str)> = ours
        .copied()
        .chain(headers.iter().map(|(n, v)| (n.as_str(), v.as_str())))
        .collect();
    head_around_target(method, &endpoint.host_header, &all)
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
mod template_tests {
    use super::*;

    fn endpoint() -> Endpoint {
        Endpoint::parse("http://127.0.0.1:8080/", false).unwrap()
    }

    #[test]
    fn static_templates_serialize_once() {
        let path = Template::parse("/health").unwrap();
        let r = PreparedRequest::from_templates(
            "GET",
            &endpoint(),
            path,
            &[],
            None,
            ExpectedStatus::Exactly(200),
        )
        .unwrap();
        assert!(r.dynamic.is_none());
        assert!(r
            .bytes
            .starts_with(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"));
    }

    #[test]
    fn templated_path_and_body_render_with_a_correct_length() {
        let path = Template::parse("/api/users/{rand:7..7}/orders").unwrap();
        let body = Template::parse(r#"{"user_id":{seq},"q":{rand:3..3}}"#).unwrap();
        let headers = vec![("Content-Type".to_string(), "application/json".to_string())];
        let r = PreparedRequest::from_templates(
            "POST",
            &endpoint(),
            path,
            &headers,
            Some(body),
            ExpectedStatus::Exactly(201),
        )
        .unwrap();
        let dynamic = r.dynamic.as_ref().unwrap();
        let (mut out, mut scratch, mut random) = (Vec::new(), Vec::new(), 99u64);
        dynamic.render(&mut random, 12345, &mut out, &mut scratch);
        let text = String::from_utf8(out).unwrap();
        let expected_body = r#"{"user_id":12345,"q":3}"#;
        assert!(
            text.starts_with("POST /api/users/7/orders HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"),
            "{text}"
        );
        assert!(text.contains("Content-Type: application/json\r\n"));
        assert!(
            text.ends_with(&format!(
                "Content-Length: {}\r\n\r\n{expected_body}",
                expected_body.len()
            )),
            "{text}"
        );
        assert_eq!(r.describe(), "POST /api/users/{rand:7..7}/orders");
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
