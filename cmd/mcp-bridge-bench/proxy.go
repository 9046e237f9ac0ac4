package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// newUpstreamTransport returns the transport both the bare proxy and the
// profiled bridge use: the standard one with as many idle connections per
// host as the bridge's own upstream client keeps (llm.defaultHTTPClient).
func newUpstreamTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64
	return t
}

// serveProxy runs a bare httputil.ReverseProxy from listen to upstream (an
// http:// base URL) until SIGTERM or SIGINT. It is the reference: the least
// a Go HTTP proxy does. Server-sent events are flushed as they come, which
// ReverseProxy does by itself for text/event-stream.
func serveProxy(listen, upstream string) error {
	rp, err := newProxy(upstream)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", listen, err)
	}
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 30 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			_ = srv.Close()
		}
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		return err
	}
	return nil
}

// newProxy returns the bare reverse proxy to upstream.
//
// Its requests are full duplex: by default the HTTP/1 server closes the
// request body when the handler starts its response, and a fast upstream
// answers while the proxy's transport is still making its last read of the
// body (the one that finds EOF). The transport then fails the write, closes
// the upstream connection and cuts the streamed answer short: a few percent
// of streamed answers ended in "unexpected EOF" here without this.
func newProxy(upstream string) (http.Handler, error) {
	target, err := url.Parse(upstream)
	if err != nil {
		return nil, fmt.Errorf("parsing upstream URL: %w", err)
	}
	target.Path = ""
	rp := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		Transport: newUpstreamTransport(),
		ErrorLog:  log.New(os.Stderr, "proxy: ", 0),
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).EnableFullDuplex()
		rp.ServeHTTP(w, r)
	}), nil
}
