//! HTTP-level rules: Content-Type, framing and Date on every response, exact
//! Content-Length, a changing Date, and keep-alive.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use super::http_client::{encode_request, BodyFraming, HttpClient};
use super::Session;
use crate::load::protocol::http1::{self, ParseError};

/// Requests on one connection for the keep-alive rule.
const KEEP_ALIVE_REQUESTS: usize = 100;
/// Earliest and latest time to look for a new `Date` value.
const DATE_FIRST_LOOK: Duration = Duration::from_millis(1100);
const DATE_LAST_LOOK: Duration = Duration::from_millis(2000);
/// How long a raw read waits for more bytes before judging the body complete.
const RAW_IDLE_TIMEOUT: Duration = Duration::from_secs(1);

/// Judges every recorded response for Content-Type, framing, Date and 5xx.
pub(super) fn check_recorded_headers(session: &mut Session) {
    let total = session.exchanges.len();
    let mut content_type = Ok(format!(
        "{total} responses, each one application/json Content-Type"
    ));
    let mut framing = Ok(match session.connector.protocol().http2() {
        true => format!("{total} responses, each framed by HTTP/2 DATA frames"),
        false => format!("{total} responses, each with Content-Length or chunked"),
    });
    let mut date = Ok(format!("{total} responses, each with a Date"));
    let mut server_error = Ok(format!("{total} responses, none 5xx"));
    for exchange in &session.exchanges {
        let (request, response) = (&exchange.request, &exchange.response);
        let types = response.header_values("content-type");
        if content_type.is_ok() && (types.len() != 1 || !is_json_media_type(types[0])) {
            content_type = Err(format!("{request}: Content-Type {types:?}"));
        }
        if framing.is_ok() && response.framing == Some(BodyFraming::UntilClose) {
            framing = Err(format!("{request}: neither Content-Length nor chunked"));
        }
        if date.is_ok() && response.header_values("date").len() != 1 {
            date = Err(format!(
                "{request}: Date {:?}",
                response.header_values("date")
            ));
        }
        if server_error.is_ok() && response.status >= 500 {
            server_error = Err(format!("{request}: {}", super::describe(response)));
        }
    }
    session.record_result("headers.content_type_json", content_type);
    session.record_result("headers.length_or_chunked", framing);
    session.record_result("headers.date_present", date);
    session.record_result("responses.no_5xx", server_error);
}

/// `application/json`, optionally with parameters such as `charset=utf-8`.
fn is_json_media_type(value: &str) -> bool {
    let media_type = value.split(';').next().unwrap_or_default().trim();
    media_type.eq_ignore_ascii_case("application/json")
}

/// The `Date` header must move on: compare two values taken 1.1-2 s apart.
pub(super) fn check_date_changes(session: &mut Session) {
    let started = Instant::now();
    let first = match session.send("GET", "/health", None) {
        Ok(response) => response.header("date").map(str::to_string),
        Err(err) => return session.record("headers.date_changes", false, err),
    };
    let Some(first) = first else {
        return session.record("headers.date_changes", false, "no Date header");
    };
    std::thread::sleep(DATE_FIRST_LOOK.saturating_sub(started.elapsed()));
    loop {
        let latest = match session.send("GET", "/health", None) {
            Ok(response) => response.header("date").map(str::to_string),
            Err(err) => return session.record("headers.date_changes", false, err),
        };
        if let Some(latest) = latest.as_deref().filter(|latest| *latest != first) {
            let observed = format!("{first:?} -> {latest:?}");
            return session.record("headers.date_changes", true, observed);
        }
        if started.elapsed() >= DATE_LAST_LOOK {
            let elapsed = started.elapsed().as_secs_f64();
            let observed = format!("still {latest:?} after {elapsed:.1} s (first {first:?})");
            return session.record("headers.date_changes", false, observed);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// 100 requests must be served on a single connection.
pub(super) fn check_keep_alive(session: &mut Session) {
    let mut client = HttpClient::on(session.connector.clone());
    let mut failure = None;
    for index in 0..KEEP_ALIVE_REQUESTS {
        match client.get("/health") {
            Ok(response) if response.status == 200 => {}
            Ok(response) => {
                failure = Some(format!("request {}: status {}", index + 1, response.status));
                break;
            }
            Err(err) => {
                failure = Some(format!("request {}: {err}", index + 1));
                break;
            }
        }
    }
    let connections = client.connections_opened();
    let observed = format!("{KEEP_ALIVE_REQUESTS} requests used {connections} connection(s)");
    match failure {
        Some(reason) => session.record("connection.keep_alive_100", false, reason),
        None => session.record("connection.keep_alive_100", connections == 1, observed),
    }
}

/// Content-Length must equal the bytes actually sent: read raw responses on
/// `Connection: close` connections to the end and count. HTTP/1.1 only: on HTTP/2
/// the `h2` client already refuses a `content-length` its DATA frames contradict.
pub(super) fn check_content_length_exact(session: &mut Session) {
    if session.connector.protocol().http2() {
        return;
    }
    let order = r#"{"user_id":1,"items":[{"product_id":1,"quantity":1,"price":1.5}]}"#;
    let requests: [(&str, &str, Option<&str>); 5] = [
        ("GET", "/health", None),
        ("GET", "/api/users/1", None),
        ("GET", "/api/users/abc", None),
        ("GET", "/no/such/path", None),
        ("POST", "/api/orders", Some(order)),
    ];
    let mut checked = Vec::new();
    for (method, path, body) in requests {
        match raw_length_check(session, method, path, body) {
            Ok(summary) => checked.push(summary),
            Err(problem) => {
                return session.record(
                    "headers.content_length_exact",
                    false,
                    format!("{method} {path}: {problem}"),
                );
            }
        }
    }
    session.record("headers.content_length_exact", true, checked.join(", "));
}

/// One raw exchange; returns e.g. `/health 52 bytes` or why the length is wrong.
fn raw_length_check(
    session: &Session,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Result<String, String> {
    let mut stream = session
        .connector
        .connect_h1()
        .map_err(|err| err.to_string())?;
    stream
        .tcp()
        .set_read_timeout(Some(RAW_IDLE_TIMEOUT))
        .map_err(|err| err.to_string())?;
    let mut request = encode_request(method, path, &session.addr, body.map(str::as_bytes));
    // Ask the server to close after the response, so the end of the data is the end
    // of the body and any surplus or shortfall shows.
    let insert_at = request.len() - 2 - body.map_or(0, str::len);
    request.splice(
        insert_at..insert_at,
        b"Connection: close\r\n".iter().copied(),
    );
    stream.write_all(&request).map_err(|err| err.to_string())?;
    stream.flush().map_err(|err| err.to_string())?;
    let received = read_until_idle(&mut stream);
    let head = match http1::read_head(&received) {
        Ok(Some(head)) => head,
        Ok(None) | Err(ParseError::Head(_) | ParseError::HeadTooLarge) => {
            return Err("no complete response head".into())
        }
        Err(ParseError::ContentLength) => return Err("unparsable Content-Length".into()),
        Err(other) => return Err(other.to_string()),
    };
    if head.framing == BodyFraming::Chunked {
        return Ok(format!("{path} chunked"));
    }
    let declared = head
        .content_length
        .ok_or("no Content-Length and not chunked")?;
    let sent = received.len() - head.len;
    if declared == sent as u64 {
        Ok(format!("{path} {declared} bytes"))
    } else {
        Err(format!(
            "Content-Length {declared} but {sent} body bytes sent"
        ))
    }
}

/// Reads until the peer closes or stays silent for [`RAW_IDLE_TIMEOUT`].
fn read_until_idle(stream: &mut impl Read) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    while let Ok(read @ 1..) = stream.read(&mut buffer) {
        received.extend_from_slice(&buffer[..read]);
        if received.len() > 1 << 20 {
            break;
        }
    }
    received
}
