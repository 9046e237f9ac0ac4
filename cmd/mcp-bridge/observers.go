package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/mcp-bridge/mcp-bridge/cmd/mcp-bridge/config"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/user"
	"time"

	"github.com/mcp-bridge/mcp-bridge/bridge/observe"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// observers are the audit log and metrics the config asks for.
type observers struct {
	audit   *observe.Audit   // nil without audit.file
	metrics *observe.Metrics // always
	tracer  *observe.Tracer  // nil without telemetry
}

// auditOptions are the audit log's options of c.
func auditOptions(c *config.Config) observe.AuditOptions {
	return observe.AuditOptions{File: c.Audit.File, Arguments: c.Audit.Arguments, Secrets: c.Secrets()}
}

// newObservers opens the audit log and makes the metrics.
func newObservers(c *config.Config, log *slog.Logger) (*observers, error) {
	o := &observers{metrics: observe.NewMetrics(&observe.MetricsOptions{OwnListener: c.Metrics.Listen != ""})}
	if c.Audit.File != "" {
		opts := auditOptions(c)
		opts.Logger = log
		a, err := observe.NewAudit(opts)
		if err != nil {
			return nil, err
		}
		o.audit = a
	}
	t, err := newTracer(c)
	if err != nil {
		o.close()
		return nil, err
	}
	o.tracer = t
	return o, nil
}

// observer is what the bridge tells.
func (o *observers) observer() observe.Observer {
	obs := []observe.Observer{o.metrics}
	if o.audit != nil {
		obs = append(obs, o.audit)
	}
	if o.tracer != nil {
		obs = append(obs, o.tracer)
	}
	return observe.Multi(obs...)
}

// reopenAudit starts a new audit file under the configured name, after
// logrotate renamed the old one (SIGHUP).
func (o *observers) reopenAudit() {
	if o.audit != nil {
		_ = o.audit.Reopen() // a failure is logged, and the old file stays
	}
}

func (o *observers) close() {
	if o.audit != nil {
		_ = o.audit.Close()
	}
	shutdownTracer(o.tracer)
}

// serveMetrics serves /metrics on addr without keys until ctx ends.
func (o *observers) serveMetrics(ctx context.Context, addr string, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics.listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", o.metrics.Handler())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = hs.Close()
	}()
	log.Info("metrics listening", "addr", "http://"+ln.Addr().String()+"/metrics")
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener stopped", "err", err)
		}
	}()
	return nil
}

// cliIdentity is who runs a command, as the audit log names them.
func cliIdentity() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "local:" + u.Username
	}
	return "local"
}

// auditCLICall writes the audit line of a tool call made by the call
// command (face "cli"), when the config keeps an audit log. The identity
// is the local user who ran it.
func auditCLICall(c *config.Config, ctx context.Context, reg *mcpclient.Registry, tool string, args json.RawMessage,
	d time.Duration, res *mcpclient.Result, callErr error, stderr io.Writer) {
	if c.Audit.File == "" {
		return
	}
	a, err := observe.NewAudit(auditOptions(c))
	if err != nil {
		fmt.Fprintf(stderr, "warning: the call is not in the audit log: %v\n", err)
		return
	}
	defer a.Close()
	who := cliIdentity()
	rec := &observe.ToolCallRecord{ToolCallStart: observe.ToolCallStart{RequestID: "cli-" + rand.Text(), Identity: who,
		Face: observe.FaceCLI, Tool: tool, Arguments: args}, Duration: d}
	if t, ok := reg.Lookup(tool); ok {
		rec.Server = t.Server
	}
	rec.Outcome = observe.OutcomeOf(ctx, callErr, res != nil && res.IsError)
	if callErr != nil {
		rec.Error = mcpclient.Redact(callErr.Error(), c.Secrets())
	} else if res != nil {
		rec.ResultBytes = len(res.Text)
	}
	a.ToolCallFinished(ctx, rec)
}
