package main

import (
	"log/slog"
	"time"

	"github.com/mcp-bridge/mcp-bridge/bridge"
	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
	"github.com/mcp-bridge/mcp-bridge/bridge/store"
	"github.com/mcp-bridge/mcp-bridge/cmd/mcp-bridge/config"
)

// shareState points opts at Redis when the config names one (state.redis):
// the limits, mixed turns and activity feed are then shared with the
// other replicas. It returns the store to close on shutdown; nil when
// the state stays in process. Redis need not be up: the bridge starts,
// reports it in /readyz and applies state.on_redis_down until it comes.
func shareState(c *config.Config, opts *bridge.Options, o *observers, log *slog.Logger) (*store.Redis, error) {
	if c.State.Redis == "" {
		return nil, nil
	}
	// A stream slot whose release never comes (a replica that died) is
	// freed once no stream can still be running.
	lease := max(15*time.Minute, time.Duration(c.Tools.Deadline)+time.Minute)
	st, err := store.Open(store.Options{URL: c.State.Redis, Prefix: c.State.Prefix, OnDown: c.State.OnRedisDown,
		SlotLease: lease, Logger: log, Registerer: o.metrics.Registry()})
	if err != nil {
		return nil, err
	}
	opts.Limits = &auth.Limits{Limiter: st.Limiter()}
	opts.Turns, opts.Feed, opts.State = st.Turns(), st, st
	log.Info("state shared with other replicas through redis", "redis", st.Shown(), "on_redis_down", st.OnDown())
	return st, nil
}
