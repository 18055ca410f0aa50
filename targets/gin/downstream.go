package main

// Service-to-service mode (CONTRACT.md, "Service-to-service mode"): the settings read from
// ORDERS_URL, DOWNSTREAM_TIMEOUT_MS and DOWNSTREAM_CONNECTIONS, and the one pooled
// net/http client a user service calls its order service with, behind the circuit
// breaker of breaker.go.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

const (
	defaultDownstreamTimeoutMs   = 1000
	defaultDownstreamConnections = 64
	// Far more than 16 orders of any sane size; a larger answer is a failed call rather than
	// an unbounded allocation.
	maxDownstreamBody = 32 << 20
	// The longest timeout whose nanoseconds still fit time.Duration (an int64).
	maxDownstreamTimeoutMs = int64(1<<63-1) / int64(time.Millisecond)
)

var positiveInteger = regexp.MustCompile(`^[0-9]+$`)

// downstreamSettings is what a user service needs to reach its order service.
type downstreamSettings struct {
	// base is "http://HOST:PORT", without the trailing slash the variable may carry.
	base        string
	timeout     time.Duration
	connections int
	breaker     breakerSettings
}

// downstreamFromEnv reads the service-to-service settings. The two numbers are checked
// whenever they are set, so a typo fails at startup even without ORDERS_URL; with
// ORDERS_URL unset or empty it returns nil and the process is a plain target. The
// breaker's settings are checked the same way.
func downstreamFromEnv() (*downstreamSettings, *startupError) {
	timeoutMs, err := positiveSetting("DOWNSTREAM_TIMEOUT_MS", defaultDownstreamTimeoutMs, maxDownstreamTimeoutMs)
	if err != nil {
		return nil, err
	}
	connections, err := positiveSetting("DOWNSTREAM_CONNECTIONS", defaultDownstreamConnections, int64(maxInt))
	if err != nil {
		return nil, err
	}
	breaker, err := breakerFromEnv()
	if err != nil {
		return nil, err
	}
	raw := os.Getenv("ORDERS_URL")
	if raw == "" {
		return nil, nil
	}
	base, reason := parseOrdersURL(raw)
	if reason != "" {
		return nil, &startupError{
			fmt.Sprintf("ORDERS_URL must be http://HOST:PORT (no path), got '%s': %s", raw, reason), 2}
	}
	return &downstreamSettings{
		base:        base,
		timeout:     time.Duration(timeoutMs) * time.Millisecond,
		connections: int(connections),
		breaker:     breaker,
	}, nil
}

const maxInt = int(^uint(0) >> 1)

// positiveSetting reads an optional positive integer. Set but empty counts as set: it is
// not a positive integer.
func positiveSetting(name string, fallback, limit int64) (int64, *startupError) {
	raw, set := os.LookupEnv(name)
	if !set {
		return fallback, nil
	}
	// ParseInt alone would take "+5"; only plain digits are a positive integer here.
	value, err := strconv.ParseInt(raw, 10, 64)
	if !positiveInteger.MatchString(raw) || err != nil || value < 1 || value > limit {
		return 0, &startupError{
			fmt.Sprintf("%s must be a positive integer (at most %d), got '%s'", name, limit, raw), 2}
	}
	return value, nil
}

// parseOrdersURL returns the base URL, or why raw is not http://HOST:PORT with at most
// one trailing slash.
func parseOrdersURL(raw string) (string, string) {
	// A query or fragment would otherwise vanish silently into the parsed URL.
	if strings.ContainsAny(raw, "?#") {
		return "", "a query or fragment is not allowed"
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", err.Error()
	}
	switch {
	case u.Scheme != "http":
		return "", "the scheme must be http"
	case u.Opaque != "" || u.Host == "":
		return "", "no host"
	case u.User != nil:
		return "", "user information is not allowed"
	case u.Path != "" && u.Path != "/":
		return "", "a path is not allowed"
	case u.Hostname() == "":
		return "", "no host"
	}
	if u.Port() == "" {
		return "", "no port"
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil || port < 1 || port > 65535 {
		return "", "the port must be in 1..=65535"
	}
	return "http://" + u.Host, ""
}

// orderClient calls the order service. One per process, made at startup: its Transport
// is the connection pool, so every request shares the same keep-alive connections, and
// every call goes through its one breaker (nil when BREAKER_FAILURES is 0).
type orderClient struct {
	http      *http.Client
	transport *http.Transport
	base      string
	timeout   time.Duration
	breaker   *orderBreaker
}

func newOrderClient(settings *downstreamSettings) *orderClient {
	n := settings.connections
	transport := &http.Transport{
		// The order service is named explicitly: HTTP_PROXY and friends must not reroute it.
		Proxy: nil,
		// No dial timeout of its own: the request's context deadline bounds the dial too.
		DialContext: (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext,
		// At most n connections, all of which may stay idle for reuse. A request finding
		// all n busy waits for one, still under its deadline.
		MaxConnsPerHost:     n,
		MaxIdleConnsPerHost: n,
		MaxIdleConns:        n,
		// Go's default. A pooled connection the order service closes is noticed by its
		// read loop and dropped from the pool at once, so a restarted order service is
		// reached again without waiting for this.
		IdleConnTimeout: 90 * time.Second,
		// Plain JSON on loopback: asking for gzip would only add CPU on both sides.
		DisableCompression: true,
	}
	return &orderClient{
		http: &http.Client{
			Transport: transport,
			// Exactly one call per request: a redirect is an unexpected status, not a
			// second request.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		transport: transport,
		base:      settings.base,
		timeout:   settings.timeout,
		breaker:   newOrderBreaker(settings.breaker),
	}
}

// ordersOf fetches a user's orders through the breaker. Any failure (connection,
// deadline, status, body that is not a list of orders, open breaker) is an error; the
// caller falls back.
func (o *orderClient) ordersOf(ctx context.Context, userID int64) ([]Order, error) {
	return throughBreaker(o.breaker, func() ([]Order, error) { return o.fetchOrders(ctx, userID) })
}

// fetchOrders is one GET to the order service; every error it returns is a failed call.
func (o *orderClient) fetchOrders(ctx context.Context, userID int64) ([]Order, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(o.replayOnce(ctx), http.MethodGet,
		o.base+"/api/users/"+strconv.FormatInt(userID, 10)+"/orders", nil)
	if err != nil {
		return nil, err
	}
	body, err := o.call(req, http.StatusOK)
	if err != nil {
		return nil, err
	}
	var orders []Order
	if err := json.Unmarshal(body, &orders); err != nil {
		return nil, fmt.Errorf("order service's answer is not a list of orders: %w", err)
	}
	// encoding/json reads null into a nil slice without complaint; null is not a list.
	if orders == nil {
		return nil, errors.New("order service's answer is null, not a list of orders")
	}
	for i := range orders {
		if err := orders[i].decoded(); err != nil {
			return nil, err
		}
	}
	return orders, nil
}

// replayOnce caps the Transport's replays of one GET at one. The Transport replays a GET
// (it has no body) whenever a reused pooled connection fails before any byte of the
// answer, and it may then pick another pooled connection: a server that reads requests
// and hangs up would see one GET per pooled connection. When a replay starts, the idle
// pool is emptied (its connections most likely died the same way), so the replay dials a
// fresh connection, and a failure on a fresh connection is never replayed. A connection
// another request frees in that instant can still be picked; it has just been answered
// on, so it is alive.
func (o *orderClient) replayOnce(ctx context.Context) context.Context {
	attempts := 0
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		// Called on this request's goroutine before each attempt takes a connection.
		GetConn: func(string) {
			attempts++
			if attempts == 2 {
				o.transport.CloseIdleConnections()
			}
		},
	})
}

// createOrder posts one order through the breaker. It is sent at most once, whatever
// happens, and not at all while the breaker refuses calls.
func (o *orderClient) createOrder(ctx context.Context, userID int64, items []OrderItem) (*Order, error) {
	return throughBreaker(o.breaker, func() (*Order, error) { return o.postOrder(ctx, userID, items) })
}

// postOrder is one POST to the order service; every error it returns is a failed call.
func (o *orderClient) postOrder(ctx context.Context, userID int64, items []OrderItem) (*Order, error) {
	payload, err := json.Marshal(downstreamOrderRequest{UserID: userID, Items: items})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.base+"/api/orders", bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	// NewRequest sets GetBody for a bytes.Reader, which lets the Transport resend the POST
	// on a reused connection it believes got nothing; without it (and with no
	// Idempotency-Key header) a POST is never replayed, since a replay can create the
	// order twice.
	req.GetBody = nil
	req.Header.Set("Content-Type", "application/json")
	body, err := o.call(req, http.StatusCreated)
	if err != nil {
		return nil, err
	}
	var created *Order
	if err := json.Unmarshal(body, &created); err != nil {
		return nil, fmt.Errorf("order service's answer is not an order: %w", err)
	}
	if created == nil {
		return nil, errors.New("order service's answer is null, not an order")
	}
	if err := created.decoded(); err != nil {
		return nil, err
	}
	return created, nil
}

// decoded rejects an order that encoding/json filled with zero values: it reads missing
// fields as zeros without complaint, so `{"orders": 1}` would otherwise pass for an order
// with id 0. Every order the contract describes has an id from 1, its items and a status.
func (o *Order) decoded() error {
	if o.ID == 0 || o.Items == nil || o.Status == "" {
		return errors.New("order service's answer is not an order: fields missing")
	}
	return nil
}

// downstreamOrderRequest is the body sent to POST {ORDERS_URL}/api/orders.
type downstreamOrderRequest struct {
	UserID int64       `json:"user_id"`
	Items  []OrderItem `json:"items"`
}

// call sends req and returns the whole body when the status is the expected one. Reading
// the body to its end hands the connection back to the pool; on any other outcome the
// body is closed unread, so the Transport drops that connection rather than read an
// answer nobody wants (failures are the rare path).
func (o *orderClient) call(req *http.Request, want int) ([]byte, error) {
	resp, err := o.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		return nil, fmt.Errorf("order service answered %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDownstreamBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading the order service's answer: %w", err)
	}
	if len(body) > maxDownstreamBody {
		return nil, fmt.Errorf("order service's answer is larger than %d bytes", maxDownstreamBody)
	}
	return body, nil
}
