//! The protocol flags of `lanebench load` (`--http2`, `--streams`, `--pipeline`, TLS's
//! `--insecure`, `--cacert` and `--tls-version`, `--reconnect-every`), validated against
//! the URL into the engine's [`ClientProtocol`].

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::load::protocol::{ClientProtocol, TlsSettings, TlsTrust, TlsVersions};
use crate::load::request::Endpoint;

/// How the client speaks.
#[derive(Debug, Clone, Default, Args)]
pub struct ProtocolArgs {
    /// Speak HTTP/2: with prior knowledge (h2c) for http://, chosen by ALPN (h2) for
    /// https://.
    #[arg(long, help_heading = "Protocol")]
    pub http2: bool,
    /// HTTP/2: concurrent streams per connection (each its own request at a time).
    #[arg(long, value_name = "N", requires = "http2", help_heading = "Protocol",
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub streams: Option<u32>,
    /// HTTP/1.1: requests written per connection before the first answer (pipelining;
    /// answers are matched by order).
    #[arg(long, value_name = "N", conflicts_with = "http2", help_heading = "Protocol",
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub pipeline: Option<u32>,
    /// https://: accept any certificate (the handshake's signatures are still checked).
    #[arg(
        long,
        short = 'k',
        conflicts_with = "cacert",
        help_heading = "Protocol"
    )]
    pub insecure: bool,
    /// https://: trust the CAs in this PEM file (e.g. a self-signed certificate).
    #[arg(long, value_name = "FILE", help_heading = "Protocol")]
    pub cacert: Option<PathBuf>,
    /// https://: offer only this TLS version (default: 1.2 and 1.3).
    #[arg(long, value_name = "VERSION", help_heading = "Protocol")]
    pub tls_version: Option<TlsVersionArg>,
    /// Close and reopen each connection after N requests, so that connection set-up
    /// (and TLS handshakes) are part of the load.
    #[arg(long, value_name = "N", help_heading = "Protocol",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub reconnect_every: Option<u64>,
}

/// `--tls-version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TlsVersionArg {
    #[value(name = "1.2")]
    V12,
    #[value(name = "1.3")]
    V13,
}

impl ProtocolArgs {
    /// The client's protocol for `endpoint`; the error names the flag.
    pub fn client(&self, endpoint: &Endpoint) -> Result<ClientProtocol, String> {
        let tls = if endpoint.tls {
            let trust = match (&self.cacert, self.insecure) {
                (Some(path), _) => TlsTrust::CaFile(path.clone()),
                (None, true) => TlsTrust::Insecure,
                (None, false) => {
                    return Err("an https:// URL needs --cacert FILE or --insecure (the generator trusts no public CA: load goes to loopback)".into())
                }
            };
            let versions = match self.tls_version {
                None => TlsVersions::Both,
                Some(TlsVersionArg::V12) => TlsVersions::Only12,
                Some(TlsVersionArg::V13) => TlsVersions::Only13,
            };
            Some(TlsSettings {
                server_name: endpoint.host.clone(),
                trust,
                versions,
            })
        } else {
            let flag = if self.insecure {
                Some("--insecure")
            } else if self.cacert.is_some() {
                Some("--cacert")
            } else {
                self.tls_version.map(|_| "--tls-version")
            };
            if let Some(flag) = flag {
                return Err(format!("{flag} needs an https:// URL"));
            }
            None
        };
        let depth = if self.http2 {
            self.streams.unwrap_or(1)
        } else {
            self.pipeline.unwrap_or(1)
        };
        Ok(ClientProtocol {
            http2: self.http2,
            tls,
            depth: depth as usize,
            reconnect_every: self.reconnect_every,
        })
    }

    /// The same flags on a worker's command line (split runs).
    pub fn to_args(&self) -> Vec<OsString> {
        let mut out: Vec<OsString> = Vec::new();
        if self.http2 {
            out.push("--http2".into());
        }
        let mut flag = |name: &str, value: Option<String>| {
            if let Some(value) = value {
                out.push(name.into());
                out.push(value.into());
            }
        };
        flag("--streams", self.streams.map(|n| n.to_string()));
        flag("--pipeline", self.pipeline.map(|n| n.to_string()));
        flag(
            "--reconnect-every",
            self.reconnect_every.map(|n| n.to_string()),
        );
        flag(
            "--tls-version",
            self.tls_version.map(|v| match v {
                TlsVersionArg::V12 => "1.2".to_string(),
                TlsVersionArg::V13 => "1.3".to_string(),
            }),
        );
        if let Some(path) = &self.cacert {
            out.push("--cacert".into());
            out.push(path.clone().into());
        }
        if self.insecure {
            out.push("--insecure".into());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        protocol: ProtocolArgs,
    }

    fn client(args: &[&str], url: &str) -> Result<ClientProtocol, String> {
        let mut argv = vec!["x"];
        argv.extend_from_slice(args);
        let wrapper = Wrapper::try_parse_from(argv).map_err(|e| e.to_string())?;
        wrapper
            .protocol
            .client(&Endpoint::parse(url, false).unwrap())
    }

    #[test]
    fn the_url_and_the_flags_name_the_protocol() {
        let h2 = client(
            &["--http2", "--streams", "8", "-k"],
            "https://localhost:8443/",
        )
        .unwrap();
        assert_eq!(h2.name().as_str(), "h2");
        assert_eq!(h2.depth, 8);
        assert_eq!(h2.tls.unwrap().server_name, "localhost");
        let h1 = client(&["--pipeline", "16"], "http://127.0.0.1:8080/").unwrap();
        assert_eq!((h1.name().as_str(), h1.depth), ("h1", 16));
        assert_eq!(
            client(&["--http2"], "http://[::1]:1/")
                .unwrap()
                .name()
                .as_str(),
            "h2c"
        );
    }

    #[test]
    fn contradictions_are_refused_naming_the_flag() {
        let e = client(&[], "https://127.0.0.1:1/").unwrap_err();
        assert!(e.contains("--cacert FILE or --insecure"), "{e}");
        let e = client(&["--insecure"], "http://127.0.0.1:1/").unwrap_err();
        assert_eq!(e, "--insecure needs an https:// URL");
        assert!(client(&["--streams", "2"], "http://127.0.0.1:1/").is_err());
        assert!(client(&["--http2", "--pipeline", "2"], "http://127.0.0.1:1/").is_err());
        assert!(client(&["--pipeline", "0"], "http://127.0.0.1:1/").is_err());
    }
}
