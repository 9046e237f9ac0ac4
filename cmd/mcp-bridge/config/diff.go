package config

import "reflect"

// RestartKeys lists the settings that differ between a and b but only
// take effect at startup.
func RestartKeys(a, b *Config) []string {
	var keys []string
	for _, k := range []struct {
		key  string
		a, b any
	}{
		{"listen", a.Listen, b.Listen},
		{"limits", a.Limits, b.Limits},
		{"cors", a.CORS, b.CORS},
		{"mcp", a.MCP, b.MCP},
		{"log", a.Log, b.Log},
		{"roots", a.Roots, b.Roots},
		{"tools.call_timeout", a.Tools.CallTimeout, b.Tools.CallTimeout},
		{"tools.max_concurrency", a.Tools.MaxConcurrency, b.Tools.MaxConcurrency},
		{"tools.max_result_bytes", a.Tools.MaxResultBytes, b.Tools.MaxResultBytes},
		{"tools.max_description_bytes", a.Tools.MaxDescriptionBytes, b.Tools.MaxDescriptionBytes},
		{"tools.warn_injected_bytes", a.Tools.WarnInjectedBytes, b.Tools.WarnInjectedBytes},
		{"auth.jwt", a.Auth.JWT.configured(), b.Auth.JWT.configured()},
		{"audit", a.Audit, b.Audit},
		{"metrics", a.Metrics, b.Metrics},
		{"telemetry", a.Telemetry, b.Telemetry},
		{"state", a.State, b.State},
		{"guard", a.Guard, b.Guard},
	} {
		if !reflect.DeepEqual(k.a, k.b) {
			keys = append(keys, k.key)
		}
	}
	return keys
}
