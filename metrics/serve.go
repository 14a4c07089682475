package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// CheckAddr validates a --metrics address: host:port, the host optional
// (":9464" listens on every address), an IP address or localhost, the port
// a number from 0 to 65535.
func CheckAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port, e.g. 127.0.0.1:9464 or :9464: %w", err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("port %q: want a number from 0 to 65535 (0: one the kernel picks)", port)
	}
	if host != "" && net.ParseIP(host) == nil && host != "localhost" {
		return fmt.Errorf("host %q: want an IP address or localhost (empty: every address)", host)
	}
	return nil
}

// Server serves a Registry at /metrics, in Prometheus's text exposition
// format (or OpenMetrics, as the scraper asks).
type Server struct {
	ln   net.Listener
	srv  *http.Server
	done chan error
}

// Listen binds addr (see CheckAddr) for r's metrics. Connections wait in
// the listen queue until Serve: bind early (a port in use fails before
// anything is attached), serve once capturing, so that a readiness probe
// turns ready then.
func Listen(addr string, r *Registry) (*Server, error) {
	if err := CheckAddr(addr); err != nil {
		return nil, fmt.Errorf("--metrics %s: %w", addr, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics: %w", err)
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(r); err != nil {
		ln.Close()
		return nil, fmt.Errorf("--metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		EnableOpenMetrics: true,
		// A series that fails is left out: the others are still served.
		ErrorHandling: promhttp.ContinueOnError,
		// One scrape at a time is collected anyway (Registry.Collect).
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	}))
	return &Server{
		ln: ln,
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 10 * time.Second,
		},
	}, nil
}

// Addr is the address listened on (its port chosen by the kernel for port 0).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve starts answering, on a goroutine of its own, until Close.
func (s *Server) Serve() {
	if s.done != nil {
		return
	}
	s.done = make(chan error, 1)
	go func() { s.done <- s.srv.Serve(s.ln) }()
}

// Close stops serving: scrapes in progress get a second to finish, the
// listener is closed. It returns the first error serving, if any.
func (s *Server) Close() error {
	if s.done == nil {
		return s.ln.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.srv.Close()
	}
	if serr := <-s.done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("--metrics: %w", err)
	}
	return nil
}
