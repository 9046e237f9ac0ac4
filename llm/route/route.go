// Package route picks the upstream that answers a model: aliases first,
// then the upstreams whose globs match, by priority and then by weighted
// round robin; it fails over to the next candidate while nothing of the
// answer has been read, skips an upstream whose circuit breaker is open or
// that asked to be left alone (429 Retry-After), merges the upstreams'
// model lists, and carries each upstream's provider profile.
//
// The bridge asks a Router, and only a Router, which upstream serves a
// model.
package route

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcp-bridge/mcp-bridge/llm"
)

// Client is one upstream's OpenAI-compatible server. *llm.Client is one.
type Client interface {
	// ChatCompletionsBuffers sends the concatenation of parts unchanged
	// and returns a 2xx response, or an *llm.Error.
	ChatCompletionsBuffers(ctx context.Context, parts net.Buffers) (*http.Response, error)
	// Models lists the upstream's models.
	Models(ctx context.Context) (*llm.ModelList, error)
}

var _ Client = (*llm.Client)(nil)

// Upstream is one upstream server and the models it takes.
type Upstream struct {
	// Name identifies the upstream in aliases, /v1/models (owned_by),
	// logs and errors. Required and unique.
	Name string
	// Label is what metrics and audit lines call it; "" means Name.
	Label string
	// Client sends its requests. Required.
	Client Client
	// Models are globs ('*' any run of characters, '?' one) on the
	// request's model; an empty list takes every model.
	Models []string
	// Profile is its provider's needs; nil means Generic.
	Profile *Profile
	// Priority orders the upstreams that take a model: lower first. 0
	// means 1.
	Priority int
	// Weight shares the requests among upstreams of equal priority
	// (weighted round robin). 0 means 1.
	Weight int
}

// Target is one upstream an alias sends its requests to.
type Target struct {
	// Upstream is the name of an Upstream.
	Upstream string
	// Model is the model name sent upstream; "" sends the alias's name.
	Model string
}

// Options configures a Router.
type Options struct {
	// Upstreams are the upstreams, in the order they were configured,
	// which breaks ties of priority and weight.
	Upstreams []Upstream
	// Aliases maps a model name to the upstreams tried for it, in order.
	// An alias wins over every glob. nil means none.
	Aliases map[string][]Target
	// BreakerFailures is how many failures in a row open an upstream's
	// circuit breaker: it is then skipped (while another candidate is
	// available) until BreakerCooldown has passed, when one request
	// probes it again. 0 means 5; negative never opens it.
	BreakerFailures int
	// BreakerCooldown is how long an open breaker skips its upstream. 0
	// means 30 s.
	BreakerCooldown time.Duration
	// ModelsTimeout bounds how long Models waits for one upstream's
	// list; a slower one is left out of that answer. 0 means 3 s.
	ModelsTimeout time.Duration
	// Logger receives failovers and breaker changes. nil discards them.
	Logger *slog.Logger

	now func() time.Time // nil: time.Now
}

// Router routes requests to upstreams. It is safe for concurrent use.
type Router struct {
	ups     []*upstream
	byName  map[string]*upstream
	aliases map[string][]Target
	opts    Options
	log     *slog.Logger

	mu   sync.Mutex
	wrrs map[string]*wrr // by group key
}

// upstream is an Upstream with its health.
type upstream struct {
	Upstream
	health health
	// noStreamTools is set once the upstream refused to stream an
	// answer with tools: later rounds ask it for a whole answer.
	noStreamTools atomic.Bool
}

// New returns a router of opts.Upstreams. It returns an error when an
// upstream lacks a name or a client, a name is used twice, or an alias
// names an unknown upstream or no upstream at all.
func New(opts Options) (*Router, error) {
	if len(opts.Upstreams) == 0 {
		return nil, errors.New("route: no upstream")
	}
	if opts.BreakerFailures == 0 {
		opts.BreakerFailures = 5
	}
	if opts.BreakerCooldown <= 0 {
		opts.BreakerCooldown = 30 * time.Second
	}
	if opts.ModelsTimeout <= 0 {
		opts.ModelsTimeout = 3 * time.Second
	}
	if opts.now == nil {
		opts.now = time.Now
	}
	r := &Router{byName: map[string]*upstream{}, aliases: opts.Aliases, opts: opts, log: opts.Logger, wrrs: map[string]*wrr{}}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	for _, u := range opts.Upstreams {
		if u.Name == "" || u.Client == nil {
			return nil, errors.New("route: every upstream needs a name and a client")
		}
		if _, dup := r.byName[u.Name]; dup {
			return nil, fmt.Errorf("route: upstream %q is defined twice", u.Name)
		}
		if u.Priority == 0 {
			u.Priority = 1
		}
		if u.Weight <= 0 {
			u.Weight = 1
		}
		if u.Profile == nil {
			u.Profile = Generic
		}
		up := &upstream{Upstream: u}
		r.ups = append(r.ups, up)
		r.byName[u.Name] = up
	}
	for alias, ts := range opts.Aliases {
		if len(ts) == 0 {
			return nil, fmt.Errorf("route: alias %q names no upstream", alias)
		}
		for _, t := range ts {
			if _, ok := r.byName[t.Upstream]; !ok {
				return nil, fmt.Errorf("route: alias %q names the unknown upstream %q", alias, t.Upstream)
			}
		}
	}
	return r, nil
}

// Single returns the router of one upstream, named "default", that takes
// every model: what a configuration with a single upstream means. label
// is what metrics and audit call it.
func Single(c Client, label string) *Router {
	r, err := New(Options{Upstreams: []Upstream{{Name: DefaultName, Label: label, Client: c}}})
	if err != nil {
		panic(err) // only a nil client gets here
	}
	return r
}

// DefaultName is the name of the upstream of a single-upstream
// configuration.
const DefaultName = "default"

// Candidate is an upstream chosen for a request, and the model name sent
// to it.
type Candidate struct {
	// Name and Label are the upstream's (Label for metrics and audit).
	Name, Label string
	// Model is the model name to send.
	Model string
	// Profile is the upstream's provider profile, never nil.
	Profile *Profile

	up *upstream
}

// ErrNoRoute is the cause of the error for a model no alias and no
// upstream takes.
var ErrNoRoute = errors.New("no upstream serves the model")

// NoRouteError is a model that no alias names and no upstream's globs
// match.
type NoRouteError struct{ Model string }

func (e *NoRouteError) Error() string {
	return fmt.Sprintf("the model %q does not exist: no alias names it and no upstream takes it", e.Model)
}

// Unwrap returns ErrNoRoute.
func (e *NoRouteError) Unwrap() error { return ErrNoRoute }

// Candidates returns the upstreams that take model, in the order they
// are tried: an alias's targets in their order, else the upstreams whose
// globs match, by priority, the first of each priority picked by weighted
// round robin (each call advances it). It returns a *NoRouteError when
// none does.
func (r *Router) Candidates(model string) ([]Candidate, error) {
	if ts, ok := r.aliases[model]; ok {
		out := make([]Candidate, 0, len(ts))
		for _, t := range ts {
			m := t.Model
			if m == "" {
				m = model
			}
			out = append(out, r.byName[t.Upstream].candidate(m))
		}
		return out, nil
	}
	var matched []*upstream
	for _, u := range r.ups {
		if u.takes(model) {
			matched = append(matched, u)
		}
	}
	if len(matched) == 0 {
		return nil, &NoRouteError{Model: model}
	}
	// Stable: configuration order breaks ties.
	slices.SortStableFunc(matched, func(a, b *upstream) int { return a.Priority - b.Priority })
	out := make([]Candidate, 0, len(matched))
	for i := 0; i < len(matched); {
		j := i
		for j < len(matched) && matched[j].Priority == matched[i].Priority {
			j++
		}
		for _, u := range r.order(matched[i:j]) {
			out = append(out, u.candidate(model))
		}
		i = j
	}
	return out, nil
}

func (u *upstream) candidate(model string) Candidate {
	label := u.Label
	if label == "" {
		label = u.Name
	}
	return Candidate{Name: u.Name, Label: label, Model: model, Profile: u.Profile, up: u}
}

// takes reports whether one of u's globs matches model.
func (u *upstream) takes(model string) bool {
	if len(u.Models) == 0 {
		return true
	}
	for _, g := range u.Models {
		if Match(g, model) {
			return true
		}
	}
	return false
}

// order returns a group of equal priority with the weighted round robin's
// pick first and the others after it, heavier first.
func (r *Router) order(group []*upstream) []*upstream {
	if len(group) == 1 {
		return group
	}
	names := make([]string, len(group))
	for i, u := range group {
		names[i] = u.Name
	}
	key := strings.Join(names, "\x00")
	r.mu.Lock()
	w, ok := r.wrrs[key]
	if !ok {
		w = &wrr{current: make([]int, len(group))}
		r.wrrs[key] = w
	}
	first := w.next(group)
	r.mu.Unlock()
	out := make([]*upstream, 0, len(group))
	out = append(out, group[first])
	rest := slices.Clone(group)
	rest = slices.Delete(rest, first, first+1)
	slices.SortStableFunc(rest, func(a, b *upstream) int { return b.Weight - a.Weight })
	return append(out, rest...)
}

// wrr is the smooth weighted round robin of one group of upstreams
// (nginx's): each pick adds every weight to its current value, takes the
// largest and subtracts the total from it, which spreads the picks evenly.
type wrr struct{ current []int }

func (w *wrr) next(group []*upstream) int {
	total, best := 0, 0
	for i, u := range group {
		w.current[i] += u.Weight
		total += u.Weight
		if w.current[i] > w.current[best] {
			best = i
		}
	}
	w.current[best] -= total
	return best
}

// Match reports whether the glob g matches s: '*' matches any run of
// characters ('/' included), '?' any one character, anything else itself.
func Match(g, s string) bool {
	// Iterative wildcard matching with backtracking to the last star.
	gi, si, star, mark := 0, 0, -1, 0
	for si < len(s) {
		switch {
		case gi < len(g) && (g[gi] == '?' || g[gi] == s[si]):
			gi++
			si++
		case gi < len(g) && g[gi] == '*':
			star, mark = gi, si
			gi++
		case star >= 0:
			gi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for gi < len(g) && g[gi] == '*' {
		gi++
	}
	return gi == len(g)
}

// Upstreams returns the names of the upstreams, in configuration order.
func (r *Router) Upstreams() []string {
	out := make([]string, len(r.ups))
	for i, u := range r.ups {
		out[i] = u.Name
	}
	return out
}
