package main

// The circuit breaker around the order service (CONTRACT.md, "Circuit breaker"): its
// settings from BREAKER_FAILURES and BREAKER_OPEN_MS, and the one sony/gobreaker breaker
// every summary and order post of the process goes through.

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/sony/gobreaker/v2"
)

const (
	defaultBreakerFailures = 5
	defaultBreakerOpenMs   = 2000
	// gobreaker counts consecutive failures in a uint32: a larger threshold could never be
	// reached, so it is refused rather than silently meaning "never opens".
	maxBreakerFailures = math.MaxUint32
)

// errCircuitOpen is what a call refused by the breaker fails with; an order post shows it
// as "orders unavailable: circuit open".
var errCircuitOpen = errors.New("circuit open")

// breakerSettings: failures 0 means no breaker at all.
type breakerSettings struct {
	failures uint32
	open     time.Duration
}

// breakerFromEnv reads the breaker's settings. Like the DOWNSTREAM_* numbers they are
// checked whenever set, with or without ORDERS_URL.
func breakerFromEnv() (breakerSettings, *startupError) {
	failures, err := nonNegativeSetting("BREAKER_FAILURES", defaultBreakerFailures, maxBreakerFailures)
	if err != nil {
		return breakerSettings{}, err
	}
	openMs, err := positiveSetting("BREAKER_OPEN_MS", defaultBreakerOpenMs, maxDownstreamTimeoutMs)
	if err != nil {
		return breakerSettings{}, err
	}
	return breakerSettings{failures: uint32(failures), open: time.Duration(openMs) * time.Millisecond}, nil
}

// nonNegativeSetting reads an optional non-negative integer; set but empty is an error.
func nonNegativeSetting(name string, fallback, limit int64) (int64, *startupError) {
	raw, set := os.LookupEnv(name)
	if !set {
		return fallback, nil
	}
	value, err := strconv.ParseInt(raw, 10, 64)
	if !positiveInteger.MatchString(raw) || err != nil || value > limit {
		return 0, &startupError{
			fmt.Sprintf("%s must be a non-negative integer (at most %d), got '%s'", name, limit, raw), 2}
	}
	return value, nil
}

// orderBreaker is the process's one breaker. Its type parameter is unused (struct{}):
// summaries and order posts return different types but must share one breaker.
type orderBreaker = gobreaker.CircuitBreaker[struct{}]

// newOrderBreaker configures gobreaker to the contract's rules, or returns nil when
// BREAKER_FAILURES is 0 so calls skip the breaker entirely. What gobreaker v2.4.0 does
// with these settings (read in its source):
//   - Interval 0: the closed state's counts are never cleared on a timer; a success sets
//     ConsecutiveFailures back to 0, so ReadyToTrip sees consecutive failures only.
//   - ReadyToTrip runs after each failure in the closed state; it opens on the Nth.
//   - Timeout: the open state's expiry is set from time.Now() when the opening failure
//     is recorded, i.e. counted from that failure; the first call after it makes the
//     breaker half-open.
//   - MaxRequests 1: in half-open the first call is let through and every other call
//     gets ErrTooManyRequests at once until its outcome is in; success closes (counts
//     cleared), failure opens again with a new expiry from that failure.
//   - Outcomes of calls started in an earlier state (a new "generation") are ignored, so
//     a slow call from before the breaker opened cannot close or reopen it later.
//   - IsSuccessful is the default (err == nil): the client's calls return an error for
//     exactly the outcomes that become a fallback (degraded summary, 503 order post).
//
// Its state sits behind a sync.Mutex held only to read the clock and update counters,
// before and after each call, never across the call itself.
func newOrderBreaker(settings breakerSettings) *orderBreaker {
	if settings.failures == 0 {
		return nil
	}
	threshold := settings.failures
	return gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        "orders",
		MaxRequests: 1,
		Interval:    0,
		Timeout:     settings.open,
		ReadyToTrip: func(counts gobreaker.Counts) bool {
			return counts.ConsecutiveFailures >= threshold
		},
	})
}

// throughBreaker runs call unless the breaker refuses it; a refusal is errCircuitOpen and
// never reaches the order service. With no breaker the call runs directly.
func throughBreaker[T any](breaker *orderBreaker, call func() (T, error)) (T, error) {
	if breaker == nil {
		return call()
	}
	var result T
	_, err := breaker.Execute(func() (struct{}, error) {
		var callErr error
		result, callErr = call()
		return struct{}{}, callErr
	})
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return result, errCircuitOpen
	}
	return result, err
}
