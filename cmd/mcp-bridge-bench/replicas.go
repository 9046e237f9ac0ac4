package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// benchKey is the key of the limited identity of scenario 6.
const benchKey = "bench-replica-key-0123456789"

// limitedConfig is what scenario 6 adds to a bridge's configuration: one
// key whose policy has a rate and a token budget too large to refuse
// anything, so that every request pays for the checks (a rate check and
// a budget check before, the spending after) and none is refused; and,
// with redisURL, the state shared through Redis.
func limitedConfig(redisURL string) string {
	s := fmt.Sprintf(`policies:
  bench:
    rate: {requests: 1000000000, per: 1s}
    tokens: {limit: 1000000000000000}
auth:
  keys:
    - {name: bench, key: %q, policy: bench}
`, benchKey)
	if redisURL != "" {
		s += fmt.Sprintf("state:\n  redis: %s\n  prefix: \"bench:\"\n", redisURL)
	}
	return s
}

// startLimitedBridge starts a bridge without MCP tools with limitedConfig.
func (e *env) startLimitedBridge(name, redisURL string) (*process, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(e.dir, fmt.Sprintf("%s-%s.yaml", name, strings.ReplaceAll(addr, ":", "_")))
	if err := os.WriteFile(cfg, []byte(e.bridgeConfig(addr, 0)+limitedConfig(redisURL)), 0o644); err != nil {
		return nil, err
	}
	p, err := startProcess(name, addr, e.bridgeBin, "-c", cfg, "serve")
	if err != nil {
		return nil, err
	}
	err = p.waitHTTP("http://"+addr+"/readyz", 60*time.Second, func(status int, body []byte) bool { return status == http.StatusOK })
	if err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// startRedis runs redis-server on a free loopback port, without
// persistence.
func (e *env) startRedis() (*process, string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, "", fmt.Errorf("redis-server is not installed (Debian: apt-get install -y redis-server): %w", err)
	}
	addr, err := freePort()
	if err != nil {
		return nil, "", err
	}
	_, port, _ := net.SplitHostPort(addr)
	p, err := startProcess("redis-server", addr, bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", e.dir)
	if err != nil {
		return nil, "", err
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return p, "redis://" + addr + "/0", nil
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, "", p.failure(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// spread sends each request to the next of its hosts, with the bench
// key: the load balancer in front of the replicas.
type spread struct {
	hosts []string
	n     atomic.Uint64
	next  http.RoundTripper
}

func (s *spread) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	host := s.hosts[(s.n.Add(1)-1)%uint64(len(s.hosts))]
	r.URL.Host, r.Host = host, host
	r.Header.Set("Authorization", "Bearer "+benchKey)
	return s.next.RoundTrip(r)
}

// keyedTarget is a target that sends the bench key, to each of hosts in
// turn (one host: always that one).
func keyedTarget(name string, pid int, urls ...string) *target {
	t := newTarget(name, urls[0], pid)
	var hosts []string
	for _, u := range urls {
		hosts = append(hosts, strings.TrimSuffix(strings.TrimPrefix(u, "http://"), "/v1"))
	}
	t.hc.Transport = &spread{hosts: hosts, next: t.hc.Transport}
	return t
}

// replicas is scenario 6: the cost of limits shared through Redis. The
// same non-streaming requests, with a key whose rate and budget are
// checked but never reached, go to one bridge with in-process limits and,
// in turn, to two bridges sharing theirs in a local redis-server; both in
// the same run, at each concurrency. CPU per request is not compared: the
// shared pair's work is spread over two processes and Redis.
func (b *bench) replicas(ctx context.Context) error {
	s := b.rep.s6
	rp, redisURL, err := b.env.startRedis()
	if err != nil {
		return err
	}
	defer rp.stop()
	var procs []*process
	defer func() {
		for _, p := range procs {
			p.stop()
		}
	}()
	local, err := b.env.startLimitedBridge("bridge-limits-in-process", "")
	if err != nil {
		return err
	}
	procs = append(procs, local)
	var urls []string
	for _, name := range []string{"replica-a", "replica-b"} {
		p, err := b.env.startLimitedBridge(name, redisURL)
		if err != nil {
			return err
		}
		procs = append(procs, p)
		urls = append(urls, p.URL)
	}
	ts := []*target{keyedTarget("in-process", local.Pid(), local.URL), keyedTarget("shared", 0, urls...)}
	defer func() {
		for _, t := range ts {
			t.close()
		}
	}()
	rq := &request{body: []byte(plainBody)}
	for run := range b.opts.runs {
		for _, c := range concurrencies {
			b.log.Printf("scenario 6, run %d/%d, concurrency %d", run+1, b.opts.runs, c)
			for _, t := range rotate(ts, run) {
				b.measure(ctx, s, key(c, t.name), t, rq, c)
			}
			last := func(k string) float64 { v := s[k]; return v[len(v)-1] }
			s.add(key(c, "lat_ratio"), last(key(c, "shared", "lat"))/last(key(c, "in-process", "lat")))
			s.add(key(c, "rps_ratio"), last(key(c, "shared", "rps"))/last(key(c, "in-process", "rps")))
			s.add(key(c, "added"), last(key(c, "shared", "lat"))-last(key(c, "in-process", "lat")))
		}
	}
	return nil
}

// replicasTable writes scenario 6.
func (r *report) replicasTable(b *strings.Builder) {
	s := r.s6
	if len(s) == 0 {
		return
	}
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("## Scenario 6: two replicas sharing limits in Redis\n\n")
	p("Non-streaming requests (as scenario 1) with an API key whose policy has a rate and a token budget, checked on every request ")
	p("(the rate and the budget checked before, in one round trip to Redis when shared, the tokens spent after) but never reached. *In-process*: one bridge, limits in memory. ")
	p("*Shared*: two bridges with `state.redis` pointing at one local `redis-server`, requests sent to each in turn. ")
	p("Ratios are shared / in-process, taken within each run.\n\n")
	p("| Concurrency | in-process p50 | shared p50 | added per request | latency ratio | in-process req/s | shared req/s | throughput ratio |\n")
	p("|---|---|---|---|---|---|---|---|\n")
	for _, c := range concurrencies {
		p("| %d | %.0f µs | %.0f µs | %+.0f µs | %.2f | %.0f | %.0f | %.2f |\n", c,
			s.med(key(c, "in-process", "lat")), s.med(key(c, "shared", "lat")), s.med(key(c, "added")), s.med(key(c, "lat_ratio")),
			s.med(key(c, "in-process", "rps")), s.med(key(c, "shared", "rps")), s.med(key(c, "rps_ratio")))
	}
	p("\n")
}

// replicasOnly runs scenario 6 alone (-only replicas) and returns its
// section of the report.
func (b *bench) replicasOnly(ctx context.Context) (string, error) {
	if err := b.replicas(ctx); err != nil {
		return "", err
	}
	var sb strings.Builder
	b.rep.replicasTable(&sb)
	failed := 0
	for prefix, e := range b.rep.errs {
		if strings.HasSuffix(prefix, "/in-process") || strings.HasSuffix(prefix, "/shared") {
			failed += e.n
			fmt.Fprintf(&sb, "%s: %d failed requests, the first: %s\n\n", prefix, e.n, e.first)
		}
	}
	if failed == 0 {
		sb.WriteString("No request failed.\n")
	}
	return sb.String(), nil
}
