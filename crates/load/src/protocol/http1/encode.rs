//! How an HTTP/1.1 request is written: the request line, `Host`, the header fields,
//! `Content-Length` for a body, the blank line. The generator's prepared requests, the
//! readiness probe and `verify` all write their requests with it.

/// The bytes of one request: the request line, `Host`, `headers` in order, a
/// `Content-Length` when there is a body, the blank line and the body. The caller
/// checks what it passes (see `wire`); nothing here escapes.
pub fn encode_request<N: AsRef<str>, V: AsRef<str>>(
    method: &str,
    target: &str,
    host: &str,
    headers: &[(N, V)],
    body: Option<&[u8]>,
) -> Vec<u8> {
    let mut out = encode_head(method, target, host, headers);
    if let Some(body) = body {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body.unwrap_or_default());
    out
}

/// The request line, `Host` and `headers`, without the blank line that ends the head.
pub fn encode_head<N: AsRef<str>, V: AsRef<str>>(
    method: &str,
    target: &str,
    host: &str,
    headers: &[(N, V)],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\n").as_bytes());
    for (name, value) in headers {
        out.extend_from_slice(format!("{}: {}\r\n", name.as_ref(), value.as_ref()).as_bytes());
    }
    out
}
