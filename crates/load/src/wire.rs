//! What a request may carry on the wire: one set of rules for the header fields and the
//! request target, shared by the command line (`load -H`, the URL) and scenario files.
//!
//! A CR or LF in a header value or in the path would end the line early and let the rest
//! be read as headers or as a second request; a raw space splits the request line. Such
//! input is refused, never repaired, so that what is sent is what was written (a space
//! in a path is written `%20`). The framing headers belong to the engine: a fixed
//! `Content-Length` beside a body of another size, or a `Transfer-Encoding` it does not
//! apply, would make the server read the body as the next request.

use thiserror::Error;

/// Headers the generator writes itself and refuses from the user (case-insensitive).
pub const ENGINE_HEADERS: [&str; 4] = ["Host", "Content-Length", "Transfer-Encoding", "Connection"];

/// Why a header or a request target cannot be sent as written. Texts are shown escaped,
/// so that a message stays on one line whatever the input holds.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum WireError {
    #[error("header name `{0}` is not a token (letters, digits and !#$%&'*+-.^_`|~ only)")]
    HeaderName(String),
    #[error("header `{name}`: the value contains {what}, which would end the header line")]
    HeaderValue { name: String, what: &'static str },
    #[error("header `{0}` is set by the generator (Host, Content-Length, Transfer-Encoding and Connection are); remove it")]
    EngineHeader(String),
    #[error("path `{target}` contains {what}{hint}")]
    Target {
        target: String,
        what: &'static str,
        hint: &'static str,
    },
}

/// Checks a header field: the name is a token, the value has no control character but
/// tab, and the name is not one of [`ENGINE_HEADERS`].
pub fn check_header(name: &str, value: &str) -> Result<(), WireError> {
    if !is_token(name) {
        return Err(WireError::HeaderName(escape(name)));
    }
    if let Some(b) = value.bytes().find(|&b| b != b'\t' && b.is_ascii_control()) {
        return Err(WireError::HeaderValue {
            name: name.to_string(),
            what: describe(b),
        });
    }
    if ENGINE_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name)) {
        return Err(WireError::EngineHeader(name.to_string()));
    }
    Ok(())
}

/// Checks a request target (path and query): no whitespace and no control character.
pub fn check_request_target(target: &str) -> Result<(), WireError> {
    let Some(b) = target
        .bytes()
        .find(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    else {
        return Ok(());
    };
    Err(WireError::Target {
        target: escape(target),
        what: describe(b),
        hint: if b == b' ' {
            "; write a space as %20"
        } else {
            ""
        },
    })
}

/// An HTTP token (RFC 9110): method and header names.
pub fn is_token(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(is_token_byte)
}

/// One byte of an HTTP token.
pub fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `text` with control characters written as escapes (`\r`, `\n`, `\u{0}`), for a
/// message that must stay one line.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn describe(b: u8) -> &'static str {
    match b {
        b'\r' => "a CR",
        b'\n' => "an LF",
        0 => "a NUL",
        b' ' => "a space",
        b'\t' => "a tab",
        _ => "a control character",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_and_nul_in_values_are_refused_and_shown_escaped() {
        let err = check_header("X-A", "1\r\nX-Injected: yes").unwrap_err();
        assert_eq!(
            err.to_string(),
            "header `X-A`: the value contains a CR, which would end the header line"
        );
        assert!(check_header("X-A", "a\nb").is_err());
        assert!(check_header("X-A", "a\0b").is_err());
        assert!(check_header("X-A", "tab\tis fine").is_ok());
        let err = check_header("X\r\nY", "1").unwrap_err();
        assert!(!err.to_string().contains('\n'), "{err}");
    }

    #[test]
    fn engine_headers_are_refused_in_any_case() {
        for name in ["Host", "content-length", "TRANSFER-ENCODING", "connection"] {
            let err = check_header(name, "x").unwrap_err();
            assert!(matches!(err, WireError::EngineHeader(_)), "{name}: {err}");
        }
        assert!(check_header("Content-Type", "application/json").is_ok());
    }

    #[test]
    fn targets_with_spaces_or_controls_are_refused() {
        let err = check_request_target("/a b").unwrap_err();
        assert_eq!(
            err.to_string(),
            "path `/a b` contains a space; write a space as %20"
        );
        let err = check_request_target("/x\r\nX-Evil: 1").unwrap_err();
        assert_eq!(err.to_string(), "path `/x\\r\\nX-Evil: 1` contains a CR");
        assert!(check_request_target("/a%20b?q={rand:1..9}").is_ok());
    }
}
