//! What every connection's threads and the control port share: the figures, the fault
//! in effect, and the gate that accepts (or, under `Refuse`, refuses) connections.

use std::sync::Mutex;

use super::fault::{Fault, FaultSwitch};
use super::listener::Gate;
use super::stats::{Injected, ProxyCounts, Recorder};
use super::ProxyError;

/// What every connection's threads share.
pub(super) struct Shared {
    pub(super) recorder: Recorder,
    pub(super) faults: FaultSwitch,
    pub(super) gate: Gate,
    /// Switches one at a time, whether from the control port or in process.
    switching: Mutex<()>,
}

impl Shared {
    /// Nothing injected yet, counting from now, accepting through `gate`.
    pub(super) fn new(gate: Gate) -> Shared {
        Shared {
            recorder: Recorder::new(),
            faults: FaultSwitch::default(),
            gate,
            switching: Mutex::new(()),
        }
    }

    /// Puts `fault` in effect; returns once it is (for `Refuse`: nothing listens and
    /// every client connection is closed; after it: listening again).
    pub(super) fn set_fault(&self, fault: Fault) -> Result<(), ProxyError> {
        fault.validate().map_err(ProxyError::BadFault)?;
        let _one_at_a_time = self.switching.lock().unwrap_or_else(|e| e.into_inner());
        if fault != Fault::Refuse {
            self.gate.listen_again().map_err(ProxyError::Relisten)?;
        }
        let refuse = fault == Fault::Refuse;
        self.faults.set(fault);
        if refuse {
            let closed = self.gate.refuse();
            self.recorder.injected(Injected::RefuseClosed, closed);
        }
        Ok(())
    }

    pub(super) fn counts(&self) -> ProxyCounts {
        self.recorder.counts(self.faults.current())
    }
}
