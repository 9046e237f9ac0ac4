package config

import (
	"strings"
	"testing"
)

func TestConfigObserveValidation(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"bad arguments", Config{Audit: Audit{File: "-", Arguments: "some"}}, "audit.arguments: expected none, redacted or full"},
		{"arguments without file", Config{Audit: Audit{Arguments: "full"}}, "audit.file is not"},
		{"metrics listen not host:port", Config{Metrics: Metrics{Listen: "9091"}}, "metrics.listen: expected host:port"},
		{"metrics beyond loopback", Config{Metrics: Metrics{Listen: "0.0.0.0:9091"}}, "not a loopback address"},
	} {
		if err := c.cfg.validateObserve("f.yaml"); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	ok := Config{Audit: Audit{File: "-", Arguments: "none"}, Metrics: Metrics{Listen: "127.0.0.1:9091"}}
	if err := ok.validateObserve("f.yaml"); err != nil {
		t.Errorf("valid sections refused: %v", err)
	}
	ok.Metrics.Listen, ok.Auth.Disabled = "0.0.0.0:9091", true
	if err := ok.validateObserve("f.yaml"); err != nil {
		t.Errorf("metrics beyond loopback with auth disabled refused: %v", err)
	}
}
