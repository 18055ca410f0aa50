//! Shared by the hostile-input tests: what a refusal must look like, and histogram
//! fields built by hand with whatever header an attacker likes.

#![allow(dead_code)]

use std::io::Write;
use std::process::Output;

use base64::Engine;

/// Exit 2, nothing on stdout (no work was done), one line on stderr holding every
/// needle; returns that line.
pub fn refused(output: &Output, needles: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(output.stdout.is_empty(), "work was done: {output:?}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "expected `{needle}` in: {stderr}");
    }
    stderr
}

/// A histogram field as lanebench writes one (a compressed-V2 wrapper around the
/// deflated `plain` encoding, base64), whatever `plain` claims.
pub fn histogram_field(plain: &[u8]) -> String {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(plain).unwrap();
    let deflated = z.finish().unwrap();
    let mut outer = 0x1c84_9314u32.to_be_bytes().to_vec();
    outer.extend_from_slice(&(deflated.len() as u32).to_be_bytes());
    outer.extend_from_slice(&deflated);
    base64::engine::general_purpose::STANDARD.encode(outer)
}
