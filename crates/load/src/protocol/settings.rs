//! How the client speaks: framing (HTTP/1.1 or HTTP/2), transport (TCP or TLS), how
//! many requests a connection carries at once, and how often it reconnects. Validated
//! once before a run; the result states them.

use std::path::PathBuf;

use serde::Serialize;
use thiserror::Error;

use super::ProtocolName;

/// What the generator's client speaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientProtocol {
    /// HTTP/2 rather than HTTP/1.1.
    pub http2: bool,
    /// Over TLS (an `https://` URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSettings>,
    /// Requests in flight per connection: the pipeline depth on HTTP/1.1 (1: no
    /// pipelining), the concurrent streams on HTTP/2.
    pub depth: usize,
    /// Close and reopen each connection after this many requests, so that connection
    /// set-up (and the TLS handshake) is part of the load.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reconnect_every: Option<u64>,
}

impl Default for ClientProtocol {
    fn default() -> ClientProtocol {
        ClientProtocol {
            http2: false,
            tls: None,
            depth: 1,
            reconnect_every: None,
        }
    }
}

impl ClientProtocol {
    /// The contract's name of what is spoken.
    pub fn name(&self) -> ProtocolName {
        match (self.http2, self.tls.is_some()) {
            (false, false) => ProtocolName::H1,
            (false, true) => ProtocolName::H1Tls,
            (true, false) => ProtocolName::H2c,
            (true, true) => ProtocolName::H2,
        }
    }

    /// Requests one connection may have in flight (and lanes it carries).
    pub fn depth(&self) -> usize {
        self.depth.max(1)
    }
}

/// TLS for `https://`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsSettings {
    /// The name the certificate must be valid for (the URL's host).
    pub server_name: String,
    pub trust: TlsTrust,
    pub versions: TlsVersions,
}

/// How the server's certificate is checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsTrust {
    /// Any certificate is accepted (`--insecure`): the handshake's cost is unchanged.
    Insecure,
    /// Certificates are checked against the CAs in this PEM file (`--cacert`).
    CaFile(PathBuf),
}

/// Which TLS versions the client offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TlsVersions {
    #[serde(rename = "1.2+1.3")]
    Both,
    #[serde(rename = "1.2")]
    Only12,
    #[serde(rename = "1.3")]
    Only13,
}

/// Why the client's protocol settings cannot be used.
#[derive(Debug, Error)]
pub enum SettingsError {
    #[error("--cacert {path}: {problem}")]
    CaFile { path: String, problem: String },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("{0}")]
    Invalid(String),
}

/// What a result states about the client's protocol (`protocol` in the JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ProtocolFacts {
    pub name: ProtocolName,
    /// HTTP/1.1: requests in flight per connection (1: not pipelined).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<usize>,
    /// HTTP/2: concurrent streams per connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streams: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconnect_every: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsFacts>,
    /// HTTP/2: the settings the client announced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http2: Option<Http2Facts>,
}

/// The client's TLS, as a result states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TlsFacts {
    /// Versions offered: "1.2+1.3", "1.2" or "1.3".
    pub versions: String,
    /// "ca_file" (the certificate was checked) or "insecure".
    pub verify: String,
    /// Sessions are resumed on reconnect (rustls's in-memory cache).
    pub resumption: bool,
}

/// The HTTP/2 settings the client announces and the windows it keeps open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Http2Facts {
    /// SETTINGS_INITIAL_WINDOW_SIZE: each stream's receive window, in bytes.
    pub initial_window_size: u32,
    /// The connection's receive window after the client's first WINDOW_UPDATE.
    pub connection_window_size: u32,
    /// SETTINGS_MAX_FRAME_SIZE.
    pub max_frame_size: u32,
    /// SETTINGS_HEADER_TABLE_SIZE: the HPACK table the server may use for answers.
    pub header_table_size: u32,
    /// SETTINGS_ENABLE_PUSH (always off).
    pub enable_push: bool,
}

impl ClientProtocol {
    /// The facts a result states; `http2` are the settings the HTTP/2 client announced.
    pub fn facts(&self, http2: Option<Http2Facts>) -> ProtocolFacts {
        let depth = self.depth();
        ProtocolFacts {
            name: self.name(),
            pipeline: (!self.http2).then_some(depth),
            streams: self.http2.then_some(depth),
            reconnect_every: self.reconnect_every,
            tls: self.tls.as_ref().map(|tls| TlsFacts {
                versions: match tls.versions {
                    TlsVersions::Both => "1.2+1.3",
                    TlsVersions::Only12 => "1.2",
                    TlsVersions::Only13 => "1.3",
                }
                .to_string(),
                verify: match tls.trust {
                    TlsTrust::Insecure => "insecure",
                    TlsTrust::CaFile(_) => "ca_file",
                }
                .to_string(),
                resumption: true,
            }),
            http2: if self.http2 { http2 } else { None },
        }
    }
}
