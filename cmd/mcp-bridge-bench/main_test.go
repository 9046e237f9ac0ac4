package main

import (
	"bufio"
	"context"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// startChain starts the mock upstream and an in-process bare proxy in
// front of it.
func startChain(t *testing.T) (*upstream, *httptest.Server) {
	t.Helper()
	up, err := startUpstream(upstreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { up.Close() })
	rp, err := newProxy(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	px := httptest.NewServer(rp)
	t.Cleanup(px.Close)
	return up, px
}

func TestRequestsDirectAndThroughProxy(t *testing.T) {
	up, px := startChain(t)
	cases := []struct {
		name string
		rq   *request
	}{
		{"plain", &request{body: []byte(plainBody)}},
		{"stream", &request{body: []byte(streamBody(50)), stream: true, chunks: 50}},
		{"tool round by hand", &request{body: []byte(toolBody), body2: []byte(toolBody2), stream: true, chunks: toolAnswerChunks}},
	}
	for _, tg := range []*target{newTarget("direct", up.URL, 0), newTarget("proxy", px.URL+"/v1", 0)} {
		for _, c := range cases {
			t.Run(tg.name+"/"+c.name, func(t *testing.T) {
				r := runLoad(t.Context(), tg, c.rq, 4, 200*time.Millisecond, 0)
				if r.errs > 0 || r.ok == 0 {
					t.Fatalf("%d ok, %d errors, first: %v", r.ok, r.errs, r.firstErr)
				}
				if c.rq.stream && r.chunks != int64(r.ok*c.rq.chunks) {
					t.Errorf("chunks = %d for %d answers", r.chunks, r.ok)
				}
			})
		}
	}
}

func TestToolCallScript(t *testing.T) {
	up, _ := startChain(t)
	tg := newTarget("direct", up.URL, 0)
	// The first round of the tool script has no content: the model calls
	// the tool.
	s, err := tg.send(t.Context(), &request{body: []byte(toolBody), stream: true}, bufio.NewReader(nil))
	if err != nil {
		t.Fatal(err)
	}
	if s.chunks != 0 {
		t.Errorf("first round has %d content chunks, want 0", s.chunks)
	}
}

func TestHoldStreams(t *testing.T) {
	up, px := startChain(t)
	ts := []*target{newTarget("direct", up.URL, 0), newTarget("proxy", px.URL+"/v1", 0)}
	called := false
	res := holdStreams(t.Context(), ts, 20, 50*time.Millisecond, 300*time.Millisecond, func() { called = true })
	if !called {
		t.Error("then was not called")
	}
	for _, r := range res {
		if r.errs != 0 || len(r.ttfb) != 20 {
			t.Errorf("%s: %d errors (%s), %d streams opened", r.target, r.errs, r.firstErr, len(r.ttfb))
		}
		if len(r.lags) == 0 {
			t.Errorf("%s: no chunk lag measured", r.target)
		}
	}
}

func TestUnknownModelIsAnError(t *testing.T) {
	up, _ := startChain(t)
	_, err := newTarget("direct", up.URL, 0).send(context.Background(), &request{body: []byte(`{"model":"nope","messages":[]}`)}, bufio.NewReader(nil))
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("err = %v, want a 404", err)
	}
}

func TestModelOf(t *testing.T) {
	for body, want := range map[string]string{
		`{"model":"bench-stream-5","stream":true}`: "bench-stream-5",
		`{"messages":[],"model":"bench"}`:          "bench",
		`{"messages":[]}`:                          "",
		`{"model":"unterminated`:                   "",
	} {
		if got := modelOf([]byte(body)); got != want {
			t.Errorf("modelOf(%s) = %q, want %q", body, got, want)
		}
	}
	if i, h, ok := parseHold(holdModel(time.Second, 30*time.Second)); !ok || i != time.Second || h != 30*time.Second {
		t.Errorf("parseHold = %v, %v, %v", i, h, ok)
	}
}

func TestStats(t *testing.T) {
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median odd = %v", m)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median even = %v", m)
	}
	if !math.IsNaN(median(nil)) {
		t.Error("median of nothing is not NaN")
	}
	d := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if p := pct(d, 50); p != 5 {
		t.Errorf("p50 = %v", p)
	}
	if p := pct(d, 99); p != 10 {
		t.Errorf("p99 = %v", p)
	}
	if got := rotate([]int{1, 2, 3}, 4); got[0] != 2 || got[2] != 1 {
		t.Errorf("rotate = %v", got)
	}
}

func TestPackageOf(t *testing.T) {
	for sym, want := range map[string]string{
		"github.com/mcp-bridge/mcp-bridge/bridge.(*run).loop.func1": "github.com/mcp-bridge/mcp-bridge/bridge",
		"runtime.mallocgc":                  "runtime",
		"internal/runtime/syscall.Syscall6": "internal/runtime/syscall",
		"aeshashbody":                       "aeshashbody",
	} {
		if got := packageOf(sym); got != want {
			t.Errorf("packageOf(%q) = %q, want %q", sym, got, want)
		}
	}
}

func TestEvaluateAndRender(t *testing.T) {
	o, err := parseFlags(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := newReport(o)
	r.s1.add(key(64, "bridge-0", "vs_proxy"), 0.8)
	r.s1.add(key(64, "bridge-100", "vs_proxy"), 0.5)
	r.s1.add(key(1, "bridge-10", "added"), 50)
	r.s3.add("bridge/added", 700)
	r.evaluate()
	got := map[string]bool{}
	for _, tr := range r.targets {
		if tr.measuredOK {
			got[tr.name] = tr.met
		}
	}
	want := map[string]bool{
		"Pass-through throughput at concurrency 64, no tools, bridge ÷ proxy":           true,
		"Pass-through throughput at concurrency 64, 100 tools injected, bridge ÷ proxy": false,
		"Added median latency at concurrency 1, 10 tools":                               true,
		"One tool round over stdio: time added beyond the upstream's and the tool's":    false,
	}
	for name, met := range want {
		if m, ok := got[name]; !ok || m != met {
			t.Errorf("%s: met = %v (measured %v), want %v", name, m, ok, met)
		}
	}
	md := r.markdown()
	for _, s := range []string{"## Targets", "## 1. Pass-through", "## 2. Streaming", "## 3. One tool round", "## 4. ", "## 5. Growth", "**missed**: 0.10× short"} {
		if !strings.Contains(md, s) {
			t.Errorf("report lacks %q", s)
		}
	}
}
