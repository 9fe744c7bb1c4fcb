package main

import (
	"flag"
	"net"
	"net/http"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/dashboard"
	"github.com/flinkplane/flinkplane/internal/netlimit"
)

// httpLimits bound what any client can make the server hold: time per
// request and per idle connection, connections per client address, and the
// memory of request bodies being read (awsapi.Admission). They apply to
// every route of the server's mux. See README, "Limits".
type httpLimits struct {
	// HeaderTimeout: a request's headers must arrive within it.
	HeaderTimeout time.Duration
	// ReadTimeout: a whole request, headers and body, must arrive within
	// it; a slower one is cut off and its connection closed.
	ReadTimeout time.Duration
	// WriteTimeout: the answer must be written within it of the end of the
	// request's headers.
	WriteTimeout time.Duration
	// IdleTimeout: a kept-alive connection without a request is closed
	// after it.
	IdleTimeout time.Duration
	// MaxConnsPerClient: connections one client IP address may hold open
	// at once (0: no cap); more are answered 503 and closed.
	MaxConnsPerClient int
	// MaxBodyMemory: bytes of request bodies held at once (0: no bound).
	MaxBodyMemory int64
	// MaxHeaderBytes bounds the request line and headers.
	MaxHeaderBytes int
}

func defaultHTTPLimits() httpLimits {
	return httpLimits{HeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second, WriteTimeout: 120 * time.Second,
		IdleTimeout: 60 * time.Second, MaxConnsPerClient: 128, MaxBodyMemory: 128 << 20, MaxHeaderBytes: 64 << 10}
}

// httpLimitFlags defines the limit flags on fs; the returned function
// reads them after fs.Parse.
func httpLimitFlags(fs *flag.FlagSet) func() httpLimits {
	d := defaultHTTPLimits()
	header := intFlag(fs, "header-timeout", int(d.HeaderTimeout/time.Second), "seconds a request's headers may take to arrive")
	read := intFlag(fs, "read-timeout", int(d.ReadTimeout/time.Second), "seconds a whole request (headers and body) may take to arrive")
	write := intFlag(fs, "write-timeout", int(d.WriteTimeout/time.Second), "seconds the server may take to answer a request")
	idle := intFlag(fs, "idle-timeout", int(d.IdleTimeout/time.Second), "seconds an idle kept-alive connection stays open")
	conns := intFlag(fs, "max-conns-per-client", d.MaxConnsPerClient, "connections one client address may hold open at once (0: no cap)")
	mem := intFlag(fs, "max-body-memory", int(d.MaxBodyMemory>>20), "MiB of request bodies held at once, before and while they are served (0: no bound)")
	return func() httpLimits {
		l := d
		l.HeaderTimeout = time.Duration(*header) * time.Second
		l.ReadTimeout = time.Duration(*read) * time.Second
		l.WriteTimeout = time.Duration(*write) * time.Second
		l.IdleTimeout = time.Duration(*idle) * time.Second
		l.MaxConnsPerClient = *conns
		l.MaxBodyMemory = int64(*mem) << 20
		return l
	}
}

// newHTTPServer returns the server of every route, with the timeouts.
func (m *Main) newHTTPServer(h http.Handler) *http.Server {
	l := m.Config.HTTP
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.HeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
	}
}

// limitListener caps the connections per client address.
func (m *Main) limitListener(ln net.Listener) net.Listener {
	n := m.Config.HTTP.MaxConnsPerClient
	if n <= 0 {
		return ln
	}
	nl := netlimit.New(ln, n)
	var last time.Time
	nl.OnRefuse = func(addr string) {
		if time.Since(last) > 10*time.Second { // one line per burst
			last = time.Now()
			m.Logger.Warn("refusing connections over the per-client cap", "client", addr, "max-conns-per-client", n)
		}
	}
	return nl
}

// newDashboard returns the dashboard proxy behind
// CreateApplicationPresignedUrl, reaching clusters through the driver's
// REST transport (mutual TLS) when it has one.
func (m *Main) newDashboard() *dashboard.Proxy {
	var transport func(flinkplane.ClusterHandle) (http.RoundTripper, error)
	if t, ok := m.driver.(interface {
		RESTTransport(flinkplane.ClusterHandle) (http.RoundTripper, error)
	}); ok {
		transport = t.RESTTransport
	}
	d := dashboard.New(m.DB, transport)
	m.Server.Dashboard = d
	return d
}

// warnExposure logs a warning when the API is reachable beyond loopback
// without authentication.
func (m *Main) warnExposure() {
	if m.Config.Auth != "none" {
		return
	}
	a, ok := m.ln.Addr().(*net.TCPAddr)
	if !ok || a.IP.IsLoopback() {
		return
	}
	m.Logger.Warn("listening beyond loopback without authentication: anyone who can reach this address can create, run and delete applications; "+
		"use --auth sigv4 --credentials AKID:SECRET, or --addr 127.0.0.1:PORT", "addr", a.String(), "auth", m.Config.Auth)
}
