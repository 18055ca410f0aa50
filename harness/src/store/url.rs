//! `postgres://` URLs: parsing what the user gives (`--database-url`), refusing a
//! non-loopback host unless remote use is allowed, and writing the URLs handed to
//! targets (`DATABASE_URL`) and to `psql`.
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

/// A parsed `postgres://USER[:PASSWORD]@HOST[:PORT]/DBNAME` URL. User and password are
/// kept as written (percent-encoded), so they are passed on unchanged.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    user: String,
    password: Option<String>,
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
        let (rest, query) = match rest.split_once('?') {
            Some((rest, query)) => (rest, Some(query)),
            None => (rest, None),
        };
        let (authority, database) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hostport) = authority
            .rsplit_once('@')
            .ok_or_else(|| fail("give a user: postgres://USER@HOST[:PORT]/DBNAME"))?;
        let (user, password) = match userinfo.split_once(':') {
            Some((user, password)) => (user, Some(password.to_string())),
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

    /// The full URL, password included: for `DATABASE_URL` and `psql`, never for output.
    pub fn secret_string(&self) -> String {
        let password = self
            .password
            .as_deref()
            .map(|p| format!(":{p}"))
            .unwrap_or_default();
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
        f.write_str(&redact(&self.secret_string()))
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

/// `url` with any password between `user:` and `@` replaced by `***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rsplit_once('@') {
        Some((userinfo, _)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{}", &rest[userinfo.len() + 1..])
        }
        _ => url.to_string(),
    }
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
}
