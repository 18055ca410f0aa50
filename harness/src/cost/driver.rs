//! The client side of a count: the scenario's requests rendered from a fixed seed, sent
//! one at a time on one kept-alive connection, each response read by the generator's own
//! parser ([`Exchanger`]) and checked against the request's expected status. Same seed,
//! same requests, so two counts see the same bytes.

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::load::exchange::Exchanger;
use crate::load::request::PreparedRequest;

/// Seed of the template generator: every count renders the same sequence of requests.
pub const SEED: u64 = 0x2545_F491_4F6C_DD1D;

/// Why a request of a count did not get its expected answer.
#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    /// The exchange failed (connect, write, read, malformed response).
    #[error("{label}: request {index}: {message}")]
    Exchange {
        label: String,
        index: u64,
        message: String,
    },
    /// The server answered with a status the scenario does not expect.
    #[error("{label}: request {index}: answered {status}, expected {expected}; a count of wrong answers measures the wrong code")]
    Status {
        label: String,
        index: u64,
        status: u16,
        expected: String,
    },
    /// The stop flag was set (Ctrl-C).
    #[error("interrupted")]
    Interrupted,
}

/// Sends rendered requests on one connection.
#[derive(Debug)]
pub struct Driver {
    addr: SocketAddr,
    timeout: Duration,
    stream: Option<TcpStream>,
    exchanger: Exchanger,
    connections: usize,
    random: u64,
    seq: u64,
    out: Vec<u8>,
    scratch: Vec<u8>,
}

impl Driver {
    /// A driver for `addr`; `timeout` bounds each read and write (a server under
    /// valgrind is tens of times slower than natively).
    pub fn new(addr: SocketAddr, timeout: Duration) -> Driver {
        Driver {
            addr,
            timeout,
            stream: None,
            exchanger: Exchanger::default(),
            connections: 0,
            random: SEED,
            seq: 0,
            out: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// How many connections were opened so far (1 unless the server closed one).
    pub fn connections_opened(&self) -> usize {
        self.connections
    }

    /// Sends `request` `count` times, checking every status; stops early when `stop` is set.
    pub fn send(
        &mut self,
        request: &PreparedRequest,
        count: u64,
        stop: &AtomicBool,
    ) -> Result<(), DriveError> {
        for index in 0..count {
            if stop.load(Ordering::Relaxed) {
                return Err(DriveError::Interrupted);
            }
            let failed = |message: String| DriveError::Exchange {
                label: request.label.clone(),
                index,
                message,
            };
            if self.stream.is_none() {
                self.stream =
                    Some(connect(self.addr, self.timeout).map_err(|e| failed(e.to_string()))?);
                self.connections += 1;
            }
            let bytes: &[u8] = match &request.dynamic {
                None => &request.bytes,
                Some(dynamic) => {
                    dynamic.render(&mut self.random, self.seq, &mut self.out, &mut self.scratch);
                    &self.out
                }
            };
            self.seq += 1;
            let stream = self.stream.as_mut().expect("connected above");
            let response = self
                .exchanger
                .exchange(stream, bytes, request.body_expected)
                .map_err(|e| failed(e.to_string()))?;
            if !response.keep_alive {
                self.stream = None;
            }
            if request.expect.judge(response.status).is_some() {
                return Err(DriveError::Status {
                    label: request.label.clone(),
                    index,
                    status: response.status,
                    expected: describe_expected(request),
                });
            }
        }
        Ok(())
    }
}

fn connect(addr: SocketAddr, timeout: Duration) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

fn describe_expected(request: &PreparedRequest) -> String {
    match request.expect {
        crate::load::outcome::ExpectedStatus::Exactly(code) => code.to_string(),
        crate::load::outcome::ExpectedStatus::SuccessOrRedirect => "2xx or 3xx".to_string(),
    }
}
