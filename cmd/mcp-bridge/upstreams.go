package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/mcp-bridge/mcp-bridge/cmd/mcp-bridge/config"
	"github.com/mcp-bridge/mcp-bridge/llm"
	"github.com/mcp-bridge/mcp-bridge/llm/route"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// upstreamSpec is one configured upstream: where it routes and how its
// client is made.
type upstreamSpec struct {
	route route.Upstream // without its Client
	opts  llm.Options
	// single is the upstream block of a configuration without upstreams.
	single bool
}

// upstreamSpecs are the configuration's upstreams: the upstreams list, or
// the single upstream block as the upstream "default" taking every model.
// log receives the clients' retry reports (nil discards them).
func upstreamSpecs(c *config.Config, log *slog.Logger) []upstreamSpec {
	if len(c.Upstreams) == 0 {
		return []upstreamSpec{{route: route.Upstream{Name: route.DefaultName}, opts: upstreamOptions(c, log), single: true}}
	}
	out := make([]upstreamSpec, len(c.Upstreams))
	for i, u := range c.Upstreams {
		prof, _ := route.LookupProfile(u.Profile) // validated by config.Load
		out[i] = upstreamSpec{
			route: route.Upstream{Name: u.Name, Models: u.Models, Profile: prof, Priority: u.Priority, Weight: u.Weight},
			opts: llm.Options{BaseURL: u.BaseURL, APIKey: u.APIKey, Headers: u.Headers, MaxRetries: u.MaxRetries, Logger: log,
				FirstByteTimeout: time.Duration(u.FirstByteTimeout), StallTimeout: time.Duration(u.StallTimeout), Propagate: propagate(c)},
		}
	}
	return out
}

// shown is the upstream as it may be shown: its name (with several) and
// its address without credentials.
func (s upstreamSpec) shown() string {
	where := mcpclient.RedactURLText(s.opts.BaseURL)
	if s.single {
		return where
	}
	return s.route.Name + ": " + where
}

// newRouter builds the router of the configuration's upstreams and
// aliases. Metrics and audit name a single upstream by its address, as
// before there were several, and each of several by its name.
func newRouter(c *config.Config, log *slog.Logger) (*route.Router, error) {
	specs := upstreamSpecs(c, log)
	ups := make([]route.Upstream, len(specs))
	for i, s := range specs {
		client, err := llm.NewClient(s.opts)
		if err != nil {
			return nil, fmt.Errorf("upstream %s: %w", s.route.Name, err)
		}
		ups[i] = s.route
		ups[i].Client = client
		if s.single {
			ups[i].Label = client.BaseURL()
		}
	}
	aliases := make(map[string][]route.Target, len(c.Models))
	for name, a := range c.Models {
		for _, t := range a {
			aliases[name] = append(aliases[name], route.Target{Upstream: t.Upstream, Model: t.Model})
		}
	}
	return route.New(route.Options{Upstreams: ups, Aliases: aliases, Logger: log})
}

// probeClient is a client of the upstream s that does not retry: a
// probe's retries would only add warnings.
func probeClient(s upstreamSpec) (*llm.Client, error) {
	opts := s.opts
	opts.MaxRetries = -1
	return llm.NewClient(opts)
}

// probeUpstreams runs probeUpstream on each upstream, in parallel, with
// clients that do not retry (retries would only add warnings).
func probeUpstreams(ctx context.Context, c *config.Config, log *slog.Logger, note string) {
	done := make(chan struct{})
	specs := upstreamSpecs(c, nil)
	secrets := c.Secrets()
	for _, s := range specs {
		go func() {
			defer func() { done <- struct{}{} }()
			probe, err := probeClient(s)
			if err != nil {
				return // refused by newRouter already
			}
			l := log
			if !s.single {
				l = log.With("name", s.route.Name)
			}
			probeUpstream(ctx, probe, l, secrets, note)
		}()
	}
	for range specs {
		<-done
	}
}

// checkUpstreams lists each upstream's models once, for check: one line
// each, "ok, N models" or why not. It returns how many failed.
func checkUpstreams(ctx context.Context, c *config.Config, stdout io.Writer) int {
	problems := 0
	for _, s := range upstreamSpecs(c, nil) {
		up, err := probeClient(s)
		if err == nil {
			mctx, cancel := context.WithTimeout(ctx, probeTimeout)
			var list *llm.ModelList
			list, err = up.Models(mctx)
			cancel()
			if err == nil {
				fmt.Fprintf(stdout, "upstream: %s: ok, %d models\n", s.shown(), len(list.Data))
				continue
			}
		}
		fmt.Fprintf(stdout, "upstream: %s: %s\n", s.shown(), termText(mcpclient.Redact(err.Error(), c.Secrets()), false))
		problems++
	}
	return problems
}
