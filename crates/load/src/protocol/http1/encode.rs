//! How an HTTP/1.1 request is written: the request line, `Host`, the header fields,
//! `Content-Length` for a body, the blank line. The generator's prepared requests (also
//! those rendered per request from templates, without allocating), the readiness probe
//! and `verify` all write their requests with it. The caller checks what it passes (see
//! `wire`); nothing here escapes.

/// The bytes of one request: the request line, `Host`, `headers` in order, a
/// `Content-Length` when there is a body, the blank line and the body.
pub fn encode_request<N: AsRef<str>, V: AsRef<str>>(
    method: &str,
    target: &str,
    host: &str,
    headers: &[(N, V)],
    body: Option<&[u8]>,
) -> Vec<u8> {
    let mut out = encode_head(method, target, host, headers);
    end_head(&mut out, body);
    out
}

/// The request line, `Host` and `headers`, without the blank line that ends the head.
pub fn encode_head<N: AsRef<str>, V: AsRef<str>>(
    method: &str,
    target: &str,
    host: &str,
    headers: &[(N, V)],
) -> Vec<u8> {
    let (mut out, after) = head_around_target(method, host, headers);
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(&after);
    out
}

/// [`encode_head`] in the two parts around the request target, for a target rendered
/// per request: what comes before it, and what follows it up to the blank line.
pub fn head_around_target<N: AsRef<str>, V: AsRef<str>>(
    method: &str,
    host: &str,
    headers: &[(N, V)],
) -> (Vec<u8>, Vec<u8>) {
    let before = format!("{method} ").into_bytes();
    let mut after = Vec::with_capacity(128);
    after.extend_from_slice(format!(" HTTP/1.1\r\nHost: {host}\r\n").as_bytes());
    for (name, value) in headers {
        after.extend_from_slice(format!("{}: {}\r\n", name.as_ref(), value.as_ref()).as_bytes());
    }
    (before, after)
}

/// Ends a head written so far: `Content-Length` when there is a body, the blank line,
/// the body. Allocates nothing beyond `out`'s growth.
#[inline]
pub fn end_head(out: &mut Vec<u8>, body: Option<&[u8]>) {
    if let Some(body) = body {
        out.extend_from_slice(b"Content-Length: ");
        push_decimal(out, body.len() as u64);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body.unwrap_or_default());
}

/// Appends `n` in decimal without allocating.
#[inline]
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_digits() {
        for n in [0u64, 7, 10, 99, 100, 12345, u64::MAX] {
            let mut out = Vec::new();
            push_decimal(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }

    #[test]
    fn a_request_is_its_line_host_headers_length_and_body() {
        let bytes = encode_request("POST", "/a", "h:1", &[("X", "1")], Some(b"ab"));
        assert_eq!(
            bytes,
            b"POST /a HTTP/1.1\r\nHost: h:1\r\nX: 1\r\nContent-Length: 2\r\n\r\nab"
        );
        let none: &[(&str, &str)] = &[];
        assert_eq!(
            encode_request("GET", "/", "h", none, None),
            b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"
        );
    }
}
