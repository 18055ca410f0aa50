// Command target-gin serves the lanebench endpoint contract with the Gin framework.
//
// It owns process setup (address from PORT, the order service's client from ORDERS_URL,
// store from STORE and DATABASE_URL, graceful stop on SIGTERM); the protocol on PORT
// (PROTOCOL, TLS_CERT, TLS_KEY) is chosen in protocol.go, routes live in routes.go and
// userservice.go, the order service's client in downstream.go, the Store interface and
// the in-memory store in store.go, the PostgreSQL store in postgres.go.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

func main() {
	port := os.Getenv("PORT")
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		fmt.Fprintf(os.Stderr, "PORT must be an integer in 1..=65535, got '%s'\n", port)
		os.Exit(2)
	}

	// Settings come before the database, so a typo fails without waiting for a connection.
	mode, modeErr := listenModeFromEnv()
	if modeErr != nil {
		fmt.Fprintln(os.Stderr, modeErr)
		os.Exit(modeErr.exitCode)
	}
	downstream, err := downstreamFromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(err.exitCode)
	}
	var orders *orderClient
	if downstream != nil {
		orders = newOrderClient(downstream)
	}

	// The database comes first, so the server only answers once it can serve every route.
	store, storeErr := storeFromEnv()
	if storeErr != nil {
		fmt.Fprintln(os.Stderr, storeErr)
		os.Exit(storeErr.exitCode)
	}

	server := &http.Server{
		Addr:              net.JoinHostPort("127.0.0.1", port),
		Handler:           newRouter(store, orders),
		ReadHeaderTimeout: 10 * time.Second,
	}
	mode.configure(server)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	serveErr := make(chan error, 1)
	go func() { serveErr <- mode.listenAndServe(server) }()

	select {
	case err := <-serveErr:
		log.Printf("cannot serve on %s: %v", server.Addr, err)
		os.Exit(1)
	case <-ctx.Done():
	}

	// Idle keep-alive connections close at once; in-flight requests get a short grace.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := server.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Printf("shutdown: %v", err)
	}
}

// startupError is a one-line reason not to start, with the exit code: 2 for a bad
// setting, 1 for a database that cannot be reached.
type startupError struct {
	message  string
	exitCode int
}

func (e *startupError) String() string { return e.message }

// storeFromEnv picks the store from STORE (memory by default) and DATABASE_URL.
func storeFromEnv() (Store, *startupError) {
	switch kind := os.Getenv("STORE"); kind {
	case "", "memory":
		return newOrderStore(), nil
	case "postgres":
		url, ok := os.LookupEnv("DATABASE_URL")
		if !ok {
			return nil, &startupError{"STORE=postgres needs DATABASE_URL (postgres://...)", 2}
		}
		// Two connections per CPU the scheduler uses (GOMAXPROCS=WORKERS), at least four:
		// CONTRACT.md, "Pool size".
		maxConns := int32(max(4, 2*runtime.GOMAXPROCS(0)))
		config, err := parseDatabaseURL(url, maxConns)
		if err != nil {
			return nil, &startupError{err.Error(), 2}
		}
		store, err := newPgStore(config)
		if err != nil {
			return nil, &startupError{err.Error(), 1}
		}
		return store, nil
	default:
		return nil, &startupError{fmt.Sprintf("STORE must be 'memory' or 'postgres', got '%s'", kind), 2}
	}
}
