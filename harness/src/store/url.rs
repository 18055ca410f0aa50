//! `postgres://` URLs: parsing what the user gives (`--database-url`), refusing a
//! non-loopback host unless remote use is allowed, and writing the URLs handed to
//! targets (`DATABASE_URL`) and to `psql`.
//!
//! The password is a secret whatever characters it holds (`/`, `@`, `:`, `?`, `%`-encoded
//! ones): the userinfo ends at the URL's last `@`, since neither the host, the port, the
//! database name nor `sslmode` may hold one, and every printed form shows `***`. It never
//! goes into an argument list, which any user of the machine can read in `/proc`: `psql`
//! gets the URL without it and the password in `PGPASSWORD`.
//!
//! Only what every driver of the targets understands is accepted: user, optional
//! password, a host, an optional port, a database name and `sslmode`. Other query
//! parameters are refused, because some (`host=`, `hostaddr=`) would send the
//! connection somewhere else than the host that was checked.

use std::fmt;
use std::net::IpAddr;

use super::StoreError;
use crate::load::request::split_host_port;

/// PostgreSQL's default port, used when a URL names none.
pub const DEFAULT_PORT: u16 = 5432;

/// A parsed `postgres://USER[:PASSWORD]@HOST[:PORT]/DBNAME` URL. The user is kept as
/// written (percent-encoded) and passed on unchanged; the password is kept decoded and
/// percent-encoded again where a URL is written.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    user: String,
    password: Option<Vec<u8>>,
    /// Host as written; an IPv6 literal keeps its brackets.
    host: String,
    port: u16,
    database: String,
    sslmode: Option<String>,
}

impl DatabaseUrl {
    /// A URL for a server the harness runs itself (trust authentication on loopback).
    pub fn local(user: &str, port: u16, database: &str) -> DatabaseUrl {
        DatabaseUrl {
            user: user.to_string(),
            password: None,
            host: "127.0.0.1".to_string(),
            port,
            database: database.to_string(),
            sslmode: None,
        }
    }

    /// Parses `url`. The host must be a loopback address or `localhost` unless
    /// `allow_remote` is set; names are refused before any lookup.
    pub fn parse(url: &str, allow_remote: bool) -> Result<DatabaseUrl, StoreError> {
        let fail = |problem: &str| StoreError::BadUrl {
            url: redact(url),
            problem: problem.to_string(),
        };
        let rest = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
            .ok_or_else(|| fail("expected postgres://USER@HOST[:PORT]/DBNAME"))?;
        let (userinfo, after) = rest
            .rsplit_once('@')
            .ok_or_else(|| fail("give a user: postgres://USER@HOST[:PORT]/DBNAME"))?;
        let (after, query) = match after.split_once('?') {
            Some((after, query)) => (after, Some(query)),
            None => (after, None),
        };
        let (hostport, database) = after.split_once('/').unwrap_or((after, ""));
        let (user, password) = match userinfo.split_once(':') {
            Some((user, password)) => {
                let decoded = percent_decode(password).ok_or_else(|| {
                    fail("the password has a `%` that is not followed by two hex digits; write `%` as %25")
                })?;
                (user, Some(decoded))
            }
            None => (userinfo, None),
        };
        if user.is_empty() {
            return Err(fail("the user is empty"));
        }
        if hostport.contains(',') {
            return Err(fail("several hosts are not supported"));
        }
        let (host, port) =
            split_host_port(hostport, DEFAULT_PORT).ok_or_else(|| fail("invalid host or port"))?;
        if host.is_empty() {
            return Err(fail(
                "give a host (a Unix socket path is not supported; use 127.0.0.1)",
            ));
        }
        if !allow_remote && !is_loopback_host(host) {
            return Err(StoreError::RemoteRefused {
                host: host.to_string(),
            });
        }
        let database = if database.is_empty() {
            "postgres"
        } else {
            database
        };
        if !database
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(fail(
                "the database name may hold letters, digits and '_' only",
            ));
        }
        let sslmode = parse_query(query).map_err(|problem| fail(&problem))?;
        Ok(DatabaseUrl {
            user: user.to_string(),
            password,
            host: host.to_string(),
            port,
            database: database.to_string(),
            sslmode,
        })
    }

    /// The same URL with `password` (decoded), for a password given outside the URL.
    pub fn with_password(&self, password: Vec<u8>) -> DatabaseUrl {
        DatabaseUrl {
            password: Some(password),
            ..self.clone()
        }
    }

    /// The same server and credentials, database `name`.
    pub fn with_database(&self, name: &str) -> DatabaseUrl {
        DatabaseUrl {
            database: name.to_string(),
            ..self.clone()
        }
    }

    /// The database this URL names.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The host as written (brackets kept for IPv6).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port (5432 when the URL named none).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The full URL, password included: for `DATABASE_URL` (the environment of a
    /// target), never for output or an argument list.
    pub fn secret_string(&self) -> String {
        let password = self.password.as_deref().map(percent_encode);
        self.written(password.as_deref())
    }

    /// The URL without its password: what `psql` gets in its arguments.
    pub fn without_password(&self) -> String {
        self.written(None)
    }

    /// The password, decoded: for `PGPASSWORD`.
    pub fn password(&self) -> Option<&[u8]> {
        self.password.as_deref()
    }

    /// The URL with `password` (already encoded) after the user, if given.
    fn written(&self, password: Option<&str>) -> String {
        let password = password.map(|p| format!(":{p}")).unwrap_or_default();
        let query = self
            .sslmode
            .as_deref()
            .map(|mode| format!("?sslmode={mode}"))
            .unwrap_or_default();
        format!(
            "postgres://{}{password}@{}:{}/{}{query}",
            self.user, self.host, self.port, self.database
        )
    }
}

/// Shows the URL with the password replaced by `***`, so it can be printed and recorded.
impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written(self.password.as_ref().map(|_| "***")))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// `localhost` or an IP literal in 127.0.0.0/8 or `::1`.
fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Accepts no query or `sslmode=MODE` only.
fn parse_query(query: Option<&str>) -> Result<Option<String>, String> {
    let mut sslmode = None;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("sslmode", mode))
                if !mode.is_empty()
                    && mode.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') =>
            {
                sslmode = Some(mode.to_string());
            }
            _ => {
                return Err(format!(
                    "query parameter `{pair}` is not supported (only sslmode=...)"
                ))
            }
        }
    }
    Ok(sslmode)
}

/// `url` with any password replaced by `***`: everything after the first `:` of the
/// userinfo, which ends at the last `@` (the rule [`DatabaseUrl::parse`] reads it by).
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.rsplit_once('@') {
        Some((userinfo, after)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{after}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// Decodes `%XX` escapes; `None` when a `%` is not followed by two hex digits.
fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Encodes every byte but the unreserved ones (RFC 3986), so that a driver reading the
/// URL finds the password whole whatever it holds.
fn percent_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_full_and_minimal_urls() {
        let url = DatabaseUrl::parse(
            "postgres://bench:s3cret@127.0.0.1:6543/shop?sslmode=disable",
            false,
        )
        .unwrap();
        assert_eq!(
            (url.host(), url.port(), url.database()),
            ("127.0.0.1", 6543, "shop")
        );
        assert_eq!(
            url.secret_string(),
            "postgres://bench:s3cret@127.0.0.1:6543/shop?sslmode=disable"
        );
        assert_eq!(
            url.to_string(),
            "postgres://bench:***@127.0.0.1:6543/shop?sslmode=disable"
        );
        let minimal = DatabaseUrl::parse("postgresql://me@localhost", false).unwrap();
        assert_eq!(
            (minimal.port(), minimal.database()),
            (DEFAULT_PORT, "postgres")
        );
        let v6 = DatabaseUrl::parse("postgres://me@[::1]:7000/x", false).unwrap();
        assert_eq!(
            v6.with_database("y").secret_string(),
            "postgres://me@[::1]:7000/y"
        );
    }

    #[test]
    fn refuses_remote_hosts_unless_allowed() {
        for remote in [
            "postgres://me@db.example.com/x",
            "postgres://me@10.1.2.3:5432/x",
            "postgres://me@[2001:db8::1]/x",
        ] {
            let error = DatabaseUrl::parse(remote, false).unwrap_err();
            assert!(
                matches!(error, StoreError::RemoteRefused { .. }),
                "{remote}: {error}"
            );
            assert!(error.to_string().contains("--allow-remote"), "{error}");
            assert!(DatabaseUrl::parse(remote, true).is_ok(), "{remote}");
        }
    }

    #[test]
    fn refuses_malformed_urls_in_one_line_without_the_password() {
        for bad in [
            "mysql://me@127.0.0.1/x",
            "127.0.0.1:5432",
            "postgres://127.0.0.1/x",
            "postgres://:pw@127.0.0.1/x",
            "postgres://me@127.0.0.1:notaport/x",
            "postgres://me@127.0.0.1:0/x",
            "postgres://me@/x",
            "postgres://me@127.0.0.1,127.0.0.2/x",
            "postgres://me@127.0.0.1/x?host=10.0.0.1",
            "postgres://me:pw@127.0.0.1/bad-name;drop",
        ] {
            let error = DatabaseUrl::parse(bad, false).unwrap_err().to_string();
            assert!(!error.contains('\n'), "{bad}: {error}");
            assert!(
                !error.contains(":pw@"),
                "{bad}: the password leaked: {error}"
            );
        }
    }

    /// Issue 20: a password holding `/` was printed (redaction stopped at the first
    /// `/`); `@`, `:`, `?` and `%`-escapes must not leak either.
    #[test]
    fn passwords_with_any_character_are_never_shown() {
        for (url, password) in [
            (
                "postgres://bench:pa/ss@127.0.0.1:5432/shop",
                b"pa/ss".to_vec(),
            ),
            ("postgres://bench:p@ss@127.0.0.1/shop", b"p@ss".to_vec()),
            ("postgres://bench:p:a:ss@127.0.0.1/shop", b"p:a:ss".to_vec()),
            ("postgres://bench:w?h#y@127.0.0.1/shop", b"w?h#y".to_vec()),
            (
                "postgres://bench:a%2Fb%40c@127.0.0.1/shop",
                b"a/b@c".to_vec(),
            ),
            ("postgres://bench:s3c/r3t/@[::1]/shop", b"s3c/r3t/".to_vec()),
        ] {
            let parsed = DatabaseUrl::parse(url, false).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(parsed.password(), Some(password.as_slice()), "{url}");
            let secret_part = url
                .split("bench:")
                .nth(1)
                .unwrap()
                .rsplit_once('@')
                .unwrap()
                .0;
            for shown in [
                parsed.to_string(),
                format!("{parsed:?}"),
                parsed.without_password(),
            ] {
                assert!(!shown.contains(secret_part), "{url}: shown as {shown}");
            }
            assert!(
                parsed.to_string().starts_with("postgres://bench:***@"),
                "{parsed}"
            );
            // The target's URL carries it encoded, and reads back to the same password.
            let again = DatabaseUrl::parse(&parsed.secret_string(), false).unwrap();
            assert_eq!(again.password(), Some(password.as_slice()), "{url}");
        }
        // Errors show the URL redacted by the same rule.
        for bad in [
            "postgres://bench:pa/ss@127.0.0.1/bad-name",
            "postgres://bench:p@ss@10.0.0.1:notaport/x",
            "postgres://bench:p@ss@127.0.0.1/x?host=evil",
            "postgres://bench:50%off@127.0.0.1/x",
        ] {
            let error = DatabaseUrl::parse(bad, false).unwrap_err().to_string();
            for secret in ["pa/ss", "p@ss", "50%off"] {
                assert!(!error.contains(secret), "{bad}: leaked in {error}");
            }
        }
    }
}
