//! A request as HTTP/2 sends it: the HPACK header block (RFC 7541) and the body, made
//! from the HTTP/1.1 bytes every request of the plan is prepared as, so that templates,
//! headers and bodies mean the same on both versions.
//!
//! The block uses the static table for the pseudo-headers' names and common values and
//! literals "without indexing" for everything else, never the dynamic table and never
//! Huffman: it is the same for every request of an entry, so it is built once per plan
//! entry (per request only for templated ones), and the server's decoder does its usual
//! work on it.

use std::ops::Range;

/// Connection-specific header fields, which HTTP/2 forbids (RFC 9113 section 8.2.2).
const HOP_BY_HOP: [&str; 5] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
];

/// A request split for HTTP/2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The HPACK header block.
    pub block: Vec<u8>,
    /// Where the body is in the HTTP/1.1 bytes (empty: none).
    pub body: Range<usize>,
}

/// Why an HTTP/1.1 request cannot be sent as HTTP/2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("the request is not a complete HTTP/1.1 message")]
    Incomplete,
    #[error("the request has no Host header (HTTP/2 needs an :authority)")]
    NoHost,
}

/// An HTTP/1.1 request as HTTP/2 fields: the method, the target, the authority (from
/// `Host`), the end-to-end headers (lowercase names; connection-specific ones dropped)
/// and where the body is in the request's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parts {
    pub method: String,
    pub path: String,
    pub authority: String,
    pub headers: Vec<(String, String)>,
    pub body: Range<usize>,
}

/// Reads the HTTP/1.1 request `wire` as HTTP/2 fields.
pub fn parts(wire: &[u8]) -> Result<Parts, EncodeError> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    let head_len = match request.parse(wire) {
        Ok(httparse::Status::Complete(n)) => n,
        _ => return Err(EncodeError::Incomplete),
    };
    let (Some(method), Some(path)) = (request.method, request.path) else {
        return Err(EncodeError::Incomplete);
    };
    let mut authority = None;
    let mut fields = Vec::new();
    for h in request.headers.iter() {
        let name = h.name.to_ascii_lowercase();
        let value = String::from_utf8_lossy(h.value).into_owned();
        if name == "host" {
            authority = Some(value);
            continue;
        }
        let hop = HOP_BY_HOP.contains(&name.as_str());
        if hop || (name == "te" && !value.eq_ignore_ascii_case("trailers")) {
            continue;
        }
        fields.push((name, value));
    }
    Ok(Parts {
        method: method.to_string(),
        path: path.to_string(),
        authority: authority.ok_or(EncodeError::NoHost)?,
        headers: fields,
        body: head_len..wire.len(),
    })
}

/// Splits the HTTP/1.1 request `wire` into an HPACK block and a body; `https` picks the
/// `:scheme`.
pub fn encode(wire: &[u8], https: bool) -> Result<Encoded, EncodeError> {
    let parts = parts(wire)?;
    let mut block = Vec::with_capacity(128);
    match parts.method.as_str() {
        "GET" => indexed(&mut block, 2),
        "POST" => indexed(&mut block, 3),
        method => literal_indexed_name(&mut block, 2, method.as_bytes()),
    }
    indexed(&mut block, if https { 7 } else { 6 });
    if parts.path == "/" {
        indexed(&mut block, 4);
    } else {
        literal_indexed_name(&mut block, 4, parts.path.as_bytes());
    }
    literal_indexed_name(&mut block, 1, parts.authority.as_bytes());
    for (name, value) in &parts.headers {
        literal_new_name(&mut block, name.as_bytes(), value.as_bytes());
    }
    Ok(Encoded {
        block,
        body: parts.body,
    })
}

/// An integer with an `n`-bit prefix, the first byte's other bits being `flags`.
pub(super) fn integer(out: &mut Vec<u8>, flags: u8, n: u32, mut value: usize) {
    let max = (1usize << n) - 1;
    if value < max {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | max as u8);
    value -= max;
    while value >= 128 {
        out.push((value % 128) as u8 | 0x80);
        value /= 128;
    }
    out.push(value as u8);
}

fn string(out: &mut Vec<u8>, s: &[u8]) {
    integer(out, 0, 7, s.len());
    out.extend_from_slice(s);
}

/// A field of the static table, name and value.
fn indexed(out: &mut Vec<u8>, index: usize) {
    integer(out, 0x80, 7, index);
}

/// A literal value for a static table name, not indexed.
fn literal_indexed_name(out: &mut Vec<u8>, index: usize, value: &[u8]) {
    integer(out, 0, 4, index);
    string(out, value);
}

/// A literal name and value, not indexed.
fn literal_new_name(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.push(0);
    string(out, name);
    string(out, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_round_trips_through_an_hpack_decoder() {
        let wire = b"POST /api/orders?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: keep-alive\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
        let encoded = encode(wire, true).unwrap();
        assert_eq!(&wire[encoded.body.clone()], b"{}");
        let mut decoder = super::super::hpack::Decoder::new(4096);
        let mut raw = Vec::new();
        decoder
            .decode(&encoded.block, |n, v| raw.push((n.to_vec(), v.to_vec())))
            .unwrap();
        let fields: Vec<(String, String)> = raw
            .into_iter()
            .map(|(n, v)| (String::from_utf8(n).unwrap(), String::from_utf8(v).unwrap()))
            .collect();
        let pairs: Vec<(&str, &str)> = fields
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                (":method", "POST"),
                (":scheme", "https"),
                (":path", "/api/orders?x=1"),
                (":authority", "127.0.0.1:8080"),
                ("content-type", "application/json"),
                ("content-length", "2"),
            ]
        );
    }

    #[test]
    fn long_values_use_multi_byte_lengths() {
        let path = format!("/{}", "a".repeat(300));
        let wire = format!("GET {path} HTTP/1.1\r\nHost: h\r\n\r\n");
        let encoded = encode(wire.as_bytes(), false).unwrap();
        let mut decoded = Vec::new();
        super::super::hpack::Decoder::new(4096)
            .decode(&encoded.block, |n, v| {
                decoded.push((n.to_vec(), v.to_vec()))
            })
            .unwrap();
        assert_eq!(decoded[2].1, path.as_bytes());
        assert!(encoded.body.is_empty());
        assert_eq!(
            encode(b"GET / HTTP/1.1\r\n\r\n", false),
            Err(EncodeError::NoHost)
        );
    }
}
