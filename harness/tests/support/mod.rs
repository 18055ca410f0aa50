//! Test support: a small contract-correct HTTP/1.1 server on an ephemeral loopback
//! port, with switchable flaws, written directly over tokio sockets so each flaw can
//! break the protocol exactly the way a real framework bug would.

#![allow(dead_code)]

pub mod marked;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One deliberate deviation from the contract (or none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flaw {
    /// A correct server.
    None,
    /// Every response says `text/plain`.
    WrongContentType,
    /// Every response carries Content-Type twice.
    DuplicateContentType,
    /// No `Date` header.
    MissingDate,
    /// Malformed JSON in `POST /api/orders` crashes into a 500.
    ServerErrorOnBadJson,
    /// Orders per user are never trimmed to 16.
    NoOrderCap,
    /// Content-Length counts characters instead of bytes (wrong for non-ASCII bodies).
    ContentLengthInChars,
    /// Database mode done wrong: two "workers" with a store each, picked per
    /// connection, issuing interleaved ids (what memory mode does with WORKERS=2).
    SplitWorkers,
    /// Database mode: an order whose item cannot be stored is refused with a 400 after
    /// the order and its earlier items were written (no transaction).
    HalfWrittenOrder,
    /// Database mode: a product_id above BIGINT is accepted.
    AcceptsHugeProductId,
    /// Database mode: once the database is gone, requests that need it never answer.
    HangsWithoutDatabase,
}

/// The fake database behind a database-mode [`ContractServer`], as the verify rules see
/// a target's database.
#[derive(Clone)]
pub struct FakeDatabase {
    stores: Vec<Arc<Mutex<Store>>>,
    gone: Arc<AtomicBool>,
}

impl lanebench::verify::OrderDatabase for FakeDatabase {
    fn stored_orders(&self, user_id: u64) -> Result<Vec<lanebench::store::StoredOrder>, String> {
        let mut stored: Vec<lanebench::store::StoredOrder> = self
            .stores
            .iter()
            .flat_map(|store| {
                let store = store.lock().unwrap();
                store
                    .orders
                    .get(&user_id)
                    .map(|orders| orders.iter().cloned().collect::<Vec<_>>())
                    .unwrap_or_default()
            })
            .map(|order| lanebench::store::StoredOrder {
                id: order["id"].as_u64().unwrap(),
                items: order["items"].as_array().map_or(0, |i| i.len() as u64),
            })
            .collect();
        stored.sort_by_key(|order| order.id);
        Ok(stored)
    }

    fn take_away(&self) -> Result<(), String> {
        self.gone.store(true, Ordering::SeqCst);
        Ok(())
    }
}

/// A running test server; stops when dropped.
pub struct ContractServer {
    addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

impl ContractServer {
    /// Starts a server with `flaw` on 127.0.0.1 and an ephemeral port.
    pub fn start(flaw: Flaw) -> ContractServer {
        ContractServer::start_on(0, flaw)
    }

    /// Starts a server with `flaw` on 127.0.0.1:`port` (0 for an ephemeral port).
    pub fn start_on(port: u16, flaw: Flaw) -> ContractServer {
        ContractServer::start_mode(port, flaw, false).0
    }

    /// Starts a database-mode server (every order kept, the newest 16 listed, 400 for
    /// a product_id above BIGINT, 503 once the database is gone) and its fake database.
    pub fn start_database_mode(flaw: Flaw) -> (ContractServer, FakeDatabase) {
        ContractServer::start_mode(0, flaw, true)
    }

    fn start_mode(port: u16, flaw: Flaw, database_mode: bool) -> (ContractServer, FakeDatabase) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let listener = runtime
            .block_on(TcpListener::bind(("127.0.0.1", port)))
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let workers: u64 = if flaw == Flaw::SplitWorkers { 2 } else { 1 };
        let stores: Vec<Arc<Mutex<Store>>> = (0..workers)
            .map(|k| {
                Arc::new(Mutex::new(Store {
                    next_id: k + 1,
                    step: workers,
                    ..Store::default()
                }))
            })
            .collect();
        let database = FakeDatabase {
            stores: stores.clone(),
            gone: Arc::new(AtomicBool::new(false)),
        };
        let gone = Arc::clone(&database.gone);
        let connections = AtomicUsize::new(0);
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let store =
                    stores[connections.fetch_add(1, Ordering::Relaxed) % stores.len()].clone();
                let mode = Mode {
                    flaw,
                    database: database_mode,
                    gone: Arc::clone(&gone),
                };
                tokio::spawn(serve_connection(stream, mode, store));
            }
        });
        let server = ContractServer {
            addr,
            runtime: Some(runtime),
        };
        (server, database)
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for ContractServer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[derive(Default)]
struct Store {
    next_id: u64,
    /// How far ids advance per order (the number of "workers").
    step: u64,
    orders: HashMap<u64, VecDeque<Value>>,
}

/// How a connection's server behaves.
#[derive(Clone)]
struct Mode {
    flaw: Flaw,
    /// Database mode (CONTRACT.md "Database mode").
    database: bool,
    /// The fake database was taken away.
    gone: Arc<AtomicBool>,
}

struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
    close: bool,
}

async fn serve_connection(mut stream: TcpStream, mode: Mode, store: Arc<Mutex<Store>>) {
    let mut buffer = Vec::new();
    while let Some(request) = read_request(&mut stream, &mut buffer).await {
        let needs_database = mode.database && request.path.starts_with("/api/");
        let (status, body) = if needs_database && mode.gone.load(Ordering::SeqCst) {
            if mode.flaw == Flaw::HangsWithoutDatabase {
                tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            }
            (503, json!({"error": "database unavailable: gone"}))
        } else {
            route(&request, &mode, &store)
        };
        let flaw = mode.flaw;
        let bytes = encode_response(status, &body, flaw);
        if stream.write_all(&bytes).await.is_err() || request.close {
            return;
        }
    }
}

async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Request> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut parsed = httparse::Request::new(&mut headers);
        if let Ok(httparse::Status::Complete(head_len)) = parsed.parse(buffer) {
            let header = |name: &str| {
                parsed
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case(name))
                    .map(|h| String::from_utf8_lossy(h.value).to_string())
            };
            let length: usize = header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let close = header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
            let (method, path) = (parsed.method?.to_string(), parsed.path?.to_string());
            while buffer.len() < head_len + length {
                read_more(stream, buffer).await?;
            }
            let body = buffer[head_len..head_len + length].to_vec();
            buffer.drain(..head_len + length);
            return Some(Request {
                method,
                path,
                body,
                close,
            });
        }
        read_more(stream, buffer).await?;
    }
}

async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<()> {
    let mut chunk = [0u8; 4096];
    match stream.read(&mut chunk).await {
        Ok(0) | Err(_) => None,
        Ok(read) => {
            buffer.extend_from_slice(&chunk[..read]);
            Some(())
        }
    }
}

fn route(request: &Request, mode: &Mode, store: &Mutex<Store>) -> (u16, Value) {
    let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
    match (request.method.as_str(), segments.as_slice()) {
        ("GET", ["health"]) => (200, json!({"status": "healthy", "timestamp": now_ms()})),
        ("GET", ["api", "users", id]) => user(id),
        ("GET", ["api", "users", id, "orders"]) => match id.parse::<u64>() {
            Ok(id) => {
                let store = store.lock().unwrap();
                let orders: Vec<Value> = store
                    .orders
                    .get(&id)
                    .map(|o| {
                        let listed = if mode.database { 16 } else { usize::MAX };
                        o.iter().rev().take(listed).cloned().collect()
                    })
                    .unwrap_or_default();
                (200, Value::Array(orders))
            }
            Err(_) => (400, json!({"error": "user id must be an integer"})),
        },
        ("POST", ["api", "orders"]) => create_order(&request.body, mode, store),
        (_, ["health"])
        | (_, ["api", "orders"])
        | (_, ["api", "users", _])
        | (_, ["api", "users", _, "orders"]) => (405, json!({"error": "method not allowed"})),
        // The em dash makes byte and character counts differ, which the
        // ContentLengthInChars flaw relies on.
        _ => (
            404,
            json!({"error": format!("no route for {} — not found", request.path)}),
        ),
    }
}

fn user(id: &str) -> (u16, Value) {
    match id.parse::<u64>() {
        Ok(id @ 1..=1_000_000) => (
            200,
            json!({"id": id, "name": format!("User {id}"), "email": format!("user{id}@example.com")}),
        ),
        Ok(_) => (404, json!({"error": "user not found"})),
        Err(_) => (400, json!({"error": "user id must be an integer"})),
    }
}

fn create_order(body: &[u8], mode: &Mode, store: &Mutex<Store>) -> (u16, Value) {
    let flaw = mode.flaw;
    let order: Value = match serde_json::from_slice(body) {
        Ok(order) => order,
        Err(_) if flaw == Flaw::ServerErrorOnBadJson => {
            return (500, json!({"error": "internal error"}))
        }
        Err(err) => return (400, json!({"error": format!("invalid JSON: {err}")})),
    };
    let (user_id, items, total) = match validate_order(&order) {
        Ok(valid) => valid,
        Err(message) => return (400, json!({"error": message})),
    };
    // The first item a BIGINT column cannot hold, in database mode.
    let too_large = items
        .as_array()
        .and_then(|items| {
            items
                .iter()
                .position(|item| item["product_id"].as_u64().unwrap_or(0) > i64::MAX as u64)
        })
        .filter(|_| mode.database && flaw != Flaw::AcceptsHugeProductId);
    if too_large.is_some() && flaw != Flaw::HalfWrittenOrder {
        return (400, json!({"error": "product_id does not fit BIGINT"}));
    }
    let mut store = store.lock().unwrap();
    let id = store.next_id;
    store.next_id += store.step;
    let kept_items = match (too_large, &items) {
        (Some(bad), Value::Array(items)) => Value::Array(items[..bad].to_vec()),
        _ => items,
    };
    let created = json!({
        "id": id, "user_id": user_id, "items": kept_items, "total": total,
        "status": "created", "created_at": now_ms(),
    });
    let orders = store.orders.entry(user_id).or_default();
    orders.push_back(created.clone());
    // Database mode keeps every order and lists the newest 16.
    if !mode.database && flaw != Flaw::NoOrderCap && orders.len() > 16 {
        orders.pop_front();
    }
    if too_large.is_some() {
        return (400, json!({"error": "product_id does not fit BIGINT"}));
    }
    (201, created)
}

fn validate_order(order: &Value) -> Result<(u64, Value, f64), String> {
    let user_id = order
        .get("user_id")
        .and_then(Value::as_u64)
        .ok_or("user_id must be an integer")?;
    let items = order
        .get("items")
        .and_then(Value::as_array)
        .ok_or("items must be an array")?;
    if items.is_empty() {
        return Err("items must not be empty".into());
    }
    let mut total = 0.0;
    for item in items {
        item.get("product_id")
            .and_then(Value::as_u64)
            .ok_or("product_id must be an integer")?;
        let quantity = item
            .get("quantity")
            .and_then(Value::as_u64)
            .filter(|q| *q >= 1)
            .ok_or("quantity must be >= 1")?;
        let price = item
            .get("price")
            .and_then(Value::as_f64)
            .ok_or("price must be a number")?;
        total += price * quantity as f64;
    }
    Ok((user_id, Value::Array(items.clone()), total))
}

fn encode_response(status: u16, body: &Value, flaw: Flaw) -> Vec<u8> {
    let body = body.to_string();
    let reason = match status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Internal Server Error",
    };
    let mut head = format!("HTTP/1.1 {status} {reason}\r\n");
    match flaw {
        Flaw::WrongContentType => head.push_str("Content-Type: text/plain\r\n"),
        Flaw::DuplicateContentType => {
            head.push_str("Content-Type: application/json\r\nContent-Type: application/json\r\n")
        }
        _ => head.push_str("Content-Type: application/json; charset=utf-8\r\n"),
    }
    let length = if flaw == Flaw::ContentLengthInChars {
        body.chars().count()
    } else {
        body.len()
    };
    head.push_str(&format!("Content-Length: {length}\r\n"));
    if flaw != Flaw::MissingDate {
        head.push_str(&format!("Date: {}\r\n", http_date(SystemTime::now())));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
fn http_date(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).unwrap().as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    // Civil-from-days (proleptic Gregorian), shifted so years start in March.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let month_name = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(month - 1) as usize];
    format!(
        "{weekday}, {day:02} {month_name} {year} {:02}:{:02}:{:02} GMT",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
