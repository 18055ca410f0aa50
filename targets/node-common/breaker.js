'use strict';
// The circuit breaker of service-to-service mode (CONTRACT.md, "Circuit breaker"): one per
// serving process, in front of every call to the order service, summaries and order posts alike.
//
// Our own small state machine rather than opossum (the breaker the contract names for Node),
// because opossum cannot be configured into the contract's rules (checked against opossum 9.0.0,
// the newest release that runs on Node 20):
// - it trips on an error percentage over a time-based rolling window (errorThresholdPercentage,
//   volumeThreshold, rollingCountTimeout), not on a run of consecutive failures: failure,
//   success, failure, failure opens it at 50 % although the longest run is 2, and no percentage
//   gives "N in a row" whatever came before;
// - it counts a call when it starts, so calls still in flight dilute the rate (at 99 % and a
//   volumeThreshold of 3, 3 failures in a row with 5 slower calls in flight do not open it);
// - in half-open the outcome of ANY call closes or re-opens it, not only the probe's: a call
//   started before it opened that succeeds late closes it while the probe is still in flight,
//   and a late failure re-opens it and restarts the open period.
// (Its half-open does let exactly one probe through, and its resetTimeout does run from the
// opening failure; those parts alone would have fitted.)
//
// Node runs a process's JavaScript on one thread, so admit() and settle() need no lock: each
// runs to completion, and the half-open probe is claimed by the first admit() after the open
// period, with nothing able to slip in between the check and the claim.

const { performance } = require('node:perf_hooks');

const CLOSED = 0;
const OPEN = 1;
// Open period over and the one probe in flight: every other call fails fast.
const PROBING = 2;

// admit()'s answer for a call the breaker refuses; any other answer is the call's ticket.
const REFUSED = -1;
// The probe's ticket. Tickets of calls made while closed are the breaker's epoch (>= 0).
const PROBE = -2;

class CircuitBreaker {
  // failures >= 1 consecutive failures open it for openMs milliseconds (>= 1).
  constructor(failures, openMs) {
    this.failures = failures;
    this.openMs = openMs;
    this.state = CLOSED;
    this.consecutive = 0;
    // performance.now() is monotonic: a wall-clock step cannot shorten or stretch the open period.
    this.openUntil = 0;
    // Bumped each time it opens, so that calls admitted before then cannot move it afterwards:
    // the open period runs from the failure that opened it, and only the probe closes it.
    this.epoch = 0;
  }

  // Whether a call may go to the order service now: REFUSED, or the ticket to settle() it with.
  admit() {
    if (this.state === CLOSED) return this.epoch;
    if (this.state === OPEN && performance.now() >= this.openUntil) {
      this.state = PROBING;
      return PROBE;
    }
    return REFUSED;
  }

  // The outcome of an admitted call: ok is false for every failure the fallback rules name.
  settle(ticket, ok) {
    if (ticket === PROBE) {
      if (ok) this.close();
      else this.open();
    } else if (ticket === this.epoch && this.state === CLOSED) {
      if (ok) this.consecutive = 0;
      else if (++this.consecutive >= this.failures) this.open();
    }
  }

  open() {
    this.state = OPEN;
    this.openUntil = performance.now() + this.openMs;
    this.epoch++;
  }

  close() {
    this.state = CLOSED;
    this.consecutive = 0;
  }
}

// BREAKER_FAILURES (default 5; 0 = no breaker) and BREAKER_OPEN_MS (default 2000), read from
// `env` whether or not ORDERS_URL is set. Returns {settings: {failures, openMs}} or {error} as
// one line. A set but empty value is an error, as for DOWNSTREAM_*. Any run of digits is an
// integer: no upper bound, since nothing here waits on a timer (setTimeout's 2^31-1 ms cap
// does not apply) and a count too large to reach just never opens.
function breakerSettingsFromEnv(env) {
  const failures = digitsFromEnv(env, 'BREAKER_FAILURES', 5);
  if (!(failures >= 0)) return { error: badValue(env, 'BREAKER_FAILURES', 'a non-negative integer') };
  const openMs = digitsFromEnv(env, 'BREAKER_OPEN_MS', 2000);
  if (!(openMs >= 1)) return { error: badValue(env, 'BREAKER_OPEN_MS', 'a positive integer') };
  return { settings: { failures, openMs } };
}

function digitsFromEnv(env, name, fallback) {
  const raw = env[name];
  if (raw === undefined) return fallback;
  return /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
}

function badValue(env, name, what) {
  return `${name} must be ${what}, got '${env[name]}'`;
}

// The process's breaker, or null when BREAKER_FAILURES=0 turns it off.
function createBreaker(settings) {
  return settings.failures === 0 ? null : new CircuitBreaker(settings.failures, settings.openMs);
}

module.exports = { CircuitBreaker, REFUSED, breakerSettingsFromEnv, createBreaker };
