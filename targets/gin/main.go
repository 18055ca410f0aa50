// Command target-gin serves the lanebench endpoint contract with the Gin framework.
//
// It owns process setup (address from PORT, graceful stop on SIGTERM); routes live in
// routes.go and the shared in-memory order store in store.go.
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

	server := &http.Server{
		Addr:              net.JoinHostPort("127.0.0.1", port),
		Handler:           newRouter(newOrderStore()),
		ReadHeaderTimeout: 10 * time.Second,
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	serveErr := make(chan error, 1)
	go func() { serveErr <- server.ListenAndServe() }()

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
