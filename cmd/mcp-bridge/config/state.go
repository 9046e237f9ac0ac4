package config

import (
	"net/url"
)

// State is the state section: what replicas of the bridge share.
type State struct {
	// Redis is the Redis server the replicas share their limits, mixed
	// turns and activity feed through: redis://[user:password@]host:port/db,
	// or rediss:// for TLS. Empty means each bridge keeps its own, in
	// process.
	Redis string `yaml:"redis"`
	// Prefix starts every Redis key, so that one Redis can serve several
	// deployments. Empty means "mcp-bridge:".
	Prefix string `yaml:"prefix"`
	// OnRedisDown is what the limits do while Redis cannot be reached:
	// fail_open (requests go on unlimited; logged and counted) or
	// fail_closed (requests a limit applies to are refused with 503).
	// Empty means fail_open.
	OnRedisDown string `yaml:"on_redis_down"`
}

// validateState checks the state section. Its errors never show the
// URL's credentials.
func (c *Config) validateState(where string) error {
	var p problems
	if r := c.State.Redis; r != "" {
		u, err := url.Parse(r)
		switch {
		case err != nil:
			p.add(c.lineOf("state.redis"), "state.redis", "expected a redis:// or rediss:// URL")
		case u.Scheme != "redis" && u.Scheme != "rediss", u.Host == "":
			shown := *u
			if u.User != nil {
				shown.User = url.User("xxxxx")
			}
			p.add(c.lineOf("state.redis"), "state.redis", "expected a redis:// or rediss:// URL with a host, got %q", shown.String())
		}
	}
	switch c.State.OnRedisDown {
	case "", "fail_open", "fail_closed":
	default:
		p.add(c.lineOf("state.on_redis_down"), "state.on_redis_down", "expected fail_open or fail_closed, got %q", c.State.OnRedisDown)
	}
	return p.err(where)
}

// stateSecrets are the credentials in state.redis.
func (c *Config) stateSecrets() []string {
	u, err := url.Parse(c.State.Redis)
	if err != nil || u.User == nil {
		return nil
	}
	var s []string
	if p, ok := u.User.Password(); ok && p != "" {
		s = append(s, p)
	}
	return s
}
