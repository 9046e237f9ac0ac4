package mcpclient

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
)

// serverSet is one configuration of the registry's servers. It is never
// modified once published: Apply publishes a new one.
type serverSet struct {
	servers []*server               // enabled, valid servers, sorted by name
	byName  map[string]*server      // the same, by name
	given   map[string]ServerConfig // each of servers' configuration as given
	static  []ServerStatus          // disabled and invalid servers
}

// newServerSet builds the set of servers; keep holds running servers to
// take over as they are, by name. It returns the set and the errors of
// the configurations that cannot run (each listed as failed).
func (r *Registry) newServerSet(servers []ServerConfig, keep map[string]*server) (*serverSet, error) {
	set := &serverSet{byName: make(map[string]*server), given: make(map[string]ServerConfig)}
	var errs []error
	seen := make(map[string]bool)
	for _, c := range servers {
		st := ServerStatus{Name: c.Name, Transport: c.TransportType()}
		switch err := c.Validate(); {
		case err != nil:
			st.State, st.Error = StateFailed, err.Error()
		case seen[c.Name]:
			st.State, st.Error = StateFailed, fmt.Sprintf("duplicate server name %q", c.Name)
		case c.Disabled:
			st.State = StateDisabled
		default:
			set.given[c.Name] = c
			if s := keep[c.Name]; s != nil {
				set.byName[c.Name] = s
				break
			}
			if c.Transport != nil {
				c.Transport = guardedTransportFunc(c.Transport)
			}
			set.byName[c.Name] = newServer(r, c, r.opts)
		}
		seen[c.Name] = true
		if st.State == "" {
			continue
		}
		if st.State == StateFailed {
			r.log.Error("mcp server ignored", "server", c.Name, "error", st.Error)
			errs = append(errs, fmt.Errorf("mcp server %q: %s", c.Name, st.Error))
		}
		set.static = append(set.static, st)
	}
	for _, s := range set.byName {
		set.servers = append(set.servers, s)
	}
	slices.SortFunc(set.servers, func(a, b *server) int { return cmp.Compare(a.cfg.Name, b.cfg.Name) })
	return set, errors.Join(errs...)
}

// startServer runs s until it is retired or the registry closes. The
// caller holds applyMu.
func (r *Registry) startServer(s *server) {
	ctx, stop := context.WithCancel(r.life)
	s.stop, s.done = stop, make(chan struct{})
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(s.done)
		s.run(ctx)
	}()
}

// Apply makes servers the registry's configuration, as a difference with
// the current one: a server whose configuration is unchanged keeps running
// untouched (same session, same process); a new one starts (once Start
// has been called); a removed one leaves the tool list at once, takes no
// new calls, and stops when its calls in flight have finished; a changed
// one (any field differs) is replaced: the old session is stopped that way
// and a new one starts. Servers whose Transport is set are compared by
// Fingerprint, since functions cannot be compared. The tool list changes,
// with a new Version, as servers come and go; a removed server is reported
// to OnEvent as EventDown.
//
// Apply returns without waiting for servers to connect or to stop. Like
// NewRegistry it lists invalid and duplicate configurations as failed;
// their errors are returned, joined, after the rest has been applied.
// After Close it changes nothing and returns an error wrapping ErrClosed.
// It is safe for concurrent use; calls are applied one at a time.
func (r *Registry) Apply(servers []ServerConfig) error {
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	if r.life.Err() != nil {
		return fmt.Errorf("applying mcp servers: %w", ErrClosed)
	}
	old := r.set.Load()
	keep := make(map[string]*server)
	for _, c := range servers {
		if s, ok := old.byName[c.Name]; ok && !c.Disabled && sameConfig(old.given[c.Name], c) {
			keep[c.Name] = s
		}
	}
	set, err := r.newServerSet(servers, keep)
	var gone, added []*server
	for _, s := range old.servers {
		if set.byName[s.cfg.Name] != s {
			gone = append(gone, s)
		}
	}
	for _, s := range set.servers {
		if old.byName[s.cfg.Name] != s {
			added = append(added, s)
		}
	}
	for _, s := range gone {
		s.retired.Store(true)
	}
	r.set.Store(set)
	r.rebuild()
	r.rebuildFeatures()
	for _, s := range gone {
		what := "removed"
		if _, ok := set.given[s.cfg.Name]; ok {
			what = "changed"
		}
		r.log.Info("mcp server "+what+" by the configuration: stopping it once its calls have finished", "server", s.cfg.Name)
		r.emit(Event{Server: s.cfg.Name, Kind: EventDown, Err: what + " by the configuration"})
		r.retire(s)
	}
	for _, s := range added {
		r.log.Info("mcp server added by the configuration", "server", s.cfg.Name)
		if r.started {
			r.startServer(s)
		}
	}
	return err
}

// retire stops s in the background once its calls in flight have
// finished. The caller holds applyMu.
func (r *Registry) retire(s *server) {
	r.retired = append(r.retired, s)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		// Waits for the calls that entered before retirement; later ones
		// see retired and go elsewhere.
		s.drain.Lock()
		defer s.drain.Unlock()
		if s.stop != nil {
			s.stop()
			<-s.done
		}
		s.markAttempted()
	}()
}

// enter resolves the server of a tool and holds it for one call, so that
// Apply waits for the call before stopping the server. A server replaced
// by Apply between the lookup and now is looked up again. The caller
// calls leave on the server when the call is done.
func (r *Registry) enter(name string, args json.RawMessage) (*server, Tool, json.RawMessage, error) {
	for range 2 {
		s, t, argv, err := r.resolve(name, args)
		if err != nil {
			return nil, Tool{}, nil, err
		}
		if s.enter() {
			return s, t, argv, nil
		}
	}
	return nil, Tool{}, nil, fmt.Errorf("tool %q is unavailable: its server was removed or changed by the configuration: %w", name, ErrServerNotConnected)
}

// enter holds s for one call; false when s is retired.
func (s *server) enter() bool {
	s.drain.RLock()
	if s.retired.Load() {
		s.drain.RUnlock()
		return false
	}
	s.entered.Add(1)
	return true
}

// leave ends a call held with enter.
func (s *server) leave() {
	s.entered.Add(-1)
	s.drain.RUnlock()
}

// emit reports e unless the server is retired: its name may belong to its
// successor by now.
func (s *server) emit(e Event) {
	if !s.retired.Load() {
		s.reg.emit(e)
	}
}

// sameConfig reports whether two configurations of a server are equal:
// every field, and for custom transports the Fingerprint.
func sameConfig(a, b ServerConfig) bool {
	if (a.Transport == nil) != (b.Transport == nil) {
		return false
	}
	a.Transport, b.Transport = nil, nil
	return reflect.DeepEqual(a, b)
}
