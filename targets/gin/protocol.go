package main

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
)

// listenMode is how the server speaks on PORT, chosen by PROTOCOL (CONTRACT.md,
// "Protocols"). Every protocol is net/http's own: Gin is only the handler, so HTTP/2 over
// TCP and over TLS both run the standard library's HTTP/2 server with its defaults.
type listenMode struct {
	// nil keeps net/http's default, which on plain TCP is HTTP/1.1 only: PROTOCOL=h1
	// leaves the server exactly as it was before protocols existed.
	protocols *http.Protocols
	// nil serves plain TCP.
	tls *tls.Config
}

// listenModeFromEnv reads PROTOCOL, and TLS_CERT and TLS_KEY for the TLS protocols. The
// key pair is loaded here, at startup, so that a missing or unreadable file is the
// contract's exit code 2 rather than a failure on the first handshake.
func listenModeFromEnv() (listenMode, *startupError) {
	var protocols http.Protocols
	switch name := os.Getenv("PROTOCOL"); name {
	case "", "h1":
		return listenMode{}, nil
	case "h2c":
		// HTTP/1.1 stays on as well (the contract allows it): a prior-knowledge preface
		// is told apart from an HTTP/1.1 request line by net/http itself.
		protocols.SetHTTP1(true)
		protocols.SetUnencryptedHTTP2(true)
		return listenMode{protocols: &protocols}, nil
	case "h1-tls":
		// HTTP/1 alone makes ALPN offer only http/1.1: net/http would add h2 otherwise.
		protocols.SetHTTP1(true)
	case "h2":
		// ALPN offers h2 first and http/1.1 after it, net/http's default over TLS.
		protocols.SetHTTP1(true)
		protocols.SetHTTP2(true)
	default:
		message := fmt.Sprintf("PROTOCOL must be h1, h1-tls, h2c or h2, got '%s'", name)
		return listenMode{}, &startupError{message, 2}
	}
	config, err := tlsFromEnv()
	if err != nil {
		return listenMode{}, err
	}
	return listenMode{protocols: &protocols, tls: config}, nil
}

func tlsFromEnv() (*tls.Config, *startupError) {
	certFile, keyFile := os.Getenv("TLS_CERT"), os.Getenv("TLS_KEY")
	if certFile == "" || keyFile == "" {
		message := fmt.Sprintf("PROTOCOL=%s needs TLS_CERT and TLS_KEY (PEM files)", os.Getenv("PROTOCOL"))
		return nil, &startupError{message, 2}
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		message := fmt.Sprintf("cannot load TLS_CERT '%s' and TLS_KEY '%s': %v", certFile, keyFile, err)
		return nil, &startupError{message, 2}
	}
	return &tls.Config{
		Certificates: []tls.Certificate{pair},
		// Go's server default already; stated so that a GODEBUG for older clients cannot
		// bring TLS 1.0 back. MaxVersion stays Go's default, TLS 1.3.
		MinVersion: tls.VersionTLS12,
	}, nil
}

func (m listenMode) configure(server *http.Server) {
	server.Protocols = m.protocols
	server.TLSConfig = m.tls
}

// listenAndServe binds PORT and serves until Shutdown; the key pair is already in the
// TLS config, so no file names are passed.
func (m listenMode) listenAndServe(server *http.Server) error {
	if m.tls != nil {
		return server.ListenAndServeTLS("", "")
	}
	return server.ListenAndServe()
}
