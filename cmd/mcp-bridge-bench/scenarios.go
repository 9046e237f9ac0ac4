package main

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// bench runs the scenarios and gathers what the report shows.
type bench struct {
	opts *options
	env  *env
	log  *log.Logger
	rep  *report
}

// key joins the parts of a series key.
func key(parts ...any) string {
	s := make([]string, len(parts))
	for i, p := range parts {
		s[i] = fmt.Sprint(p)
	}
	return strings.Join(s, "/")
}

// Request bodies, as a chat client sends them.
const (
	plainBody = `{"model":"bench","messages":[{"role":"system","content":"You are helpful."},{"role":"user","content":"What is in /tmp/notes.txt?"}],"temperature":0.2}`
	toolBody  = `{"model":"bench-tool","messages":[{"role":"user","content":"Say hello through the echo tool."}],"stream":true}`
	// toolBody2 is toolBody's second round, as the bridge builds it.
	toolBody2 = `{"model":"bench-tool","messages":[{"role":"user","content":"Say hello through the echo tool."},{"role":"assistant","content":"","tool_calls":[{"id":"call_bench1","type":"function","function":{"name":"` + echoToolName + `","arguments":"{\"text\":\"hello\"}"}}]},{"role":"tool","content":"hello","name":"` + echoToolName + `","tool_call_id":"call_bench1"}],"stream":true}`
)

func streamBody(chunks int) string {
	return fmt.Sprintf(`{"model":"bench-stream-%d","messages":[{"role":"user","content":"Write a story."}],"stream":true}`, chunks)
}

// measure runs rq against t and records, under prefix, the median latency
// and time to first byte (µs), the 99th percentile latency, throughput
// (per second), content chunks per second and the process's CPU per
// request and per chunk (µs). Errors are summed.
func (b *bench) measure(ctx context.Context, s series, prefix string, t *target, rq *request, conc int) loadResult {
	r := runLoad(ctx, t, rq, conc, b.opts.duration, b.opts.warm)
	s.add(key(prefix, "lat"), us(pct(r.lat, 50)))
	s.add(key(prefix, "p99"), us(pct(r.lat, 99)))
	s.add(key(prefix, "ttfb"), us(pct(r.ttfb, 50)))
	s.add(key(prefix, "rps"), r.throughput())
	s.add(key(prefix, "chunks_s"), float64(r.chunks)/r.elapsed.Seconds())
	if t.pid > 0 && r.ok > 0 {
		s.add(key(prefix, "cpu_req"), us(r.cpu)/float64(r.ok))
		if r.chunks > 0 {
			s.add(key(prefix, "cpu_chunk"), us(r.cpu)/float64(r.chunks))
		}
	}
	b.rep.addErrors(prefix, r.errs, r.firstErr)
	b.log.Printf("  %-28s c=%-3d %8d ok %4d err  p50 %8.1fµs  ttfb %8.1fµs  %9.0f/s  cpu %v",
		prefix, conc, r.ok, r.errs, us(pct(r.lat, 50)), us(pct(r.ttfb, 50)), r.throughput(), r.cpu)
	return r
}

// rotate returns ts rotated left by n, so that no target always runs first.
func rotate[T any](ts []T, n int) []T {
	if len(ts) == 0 {
		return ts
	}
	n %= len(ts)
	return append(append([]T(nil), ts[n:]...), ts[:n]...)
}

// servers are the processes of scenarios 1 to 3.
type servers struct {
	direct, proxy *target
	bridges       map[int]*target // by tool count
	procs         []*process
}

func (sv *servers) stop() {
	for _, p := range sv.procs {
		p.stop()
	}
	sv.direct.close()
	sv.proxy.close()
	for _, t := range sv.bridges {
		t.close()
	}
}

// startServers starts the proxy and one bridge per tool count, and records
// each bridge's RSS once its tools are loaded.
func (b *bench) startServers() (*servers, error) {
	sv := &servers{direct: newTarget("direct", b.env.upstream.URL, 0), bridges: map[int]*target{}}
	p, err := b.env.startProxy()
	if err != nil {
		return nil, err
	}
	sv.procs = append(sv.procs, p)
	sv.proxy = newTarget("proxy", p.URL, p.Pid())
	for _, n := range b.opts.toolCounts {
		p, err := b.env.startBridge(n)
		if err != nil {
			sv.stop()
			return nil, err
		}
		sv.procs = append(sv.procs, p)
		sv.bridges[n] = newTarget(fmt.Sprintf("bridge-%d", n), p.URL, p.Pid())
	}
	for _, n := range b.opts.toolCounts {
		rss, _ := procRSS(sv.bridges[n].pid)
		b.rep.s5.rssStart[n] = rss
	}
	return sv, nil
}

// passThrough is scenario 1: non-streaming requests without tool calls, at
// each concurrency, against the upstream, the proxy and a bridge per tool
// count, all in the same run.
func (b *bench) passThrough(ctx context.Context, sv *servers) {
	s := b.rep.s1
	rq := &request{body: []byte(plainBody)}
	for run := range b.opts.runs {
		for _, c := range concurrencies {
			b.log.Printf("scenario 1, run %d/%d, concurrency %d", run+1, b.opts.runs, c)
			ts := []*target{sv.direct, sv.proxy}
			for _, n := range b.opts.toolCounts {
				ts = append(ts, sv.bridges[n])
			}
			for _, t := range rotate(ts, run) {
				b.measure(ctx, s, key(c, t.name), t, rq, c)
			}
			last := func(k string) float64 { v := s[k]; return v[len(v)-1] }
			for _, n := range b.opts.toolCounts {
				bn := fmt.Sprintf("bridge-%d", n)
				s.add(key(c, bn, "vs_proxy"), last(key(c, bn, "rps"))/last(key(c, "proxy", "rps")))
				s.add(key(c, bn, "vs_direct"), last(key(c, bn, "rps"))/last(key(c, "direct", "rps")))
				s.add(key(c, bn, "added"), last(key(c, bn, "lat"))-last(key(c, "direct", "lat")))
				s.add(key(c, bn, "added_proxy"), last(key(c, bn, "lat"))-last(key(c, "proxy", "lat")))
			}
			s.add(key(c, "proxy", "added"), last(key(c, "proxy", "lat"))-last(key(c, "direct", "lat")))
			s.add(key(c, "proxy", "vs_direct"), last(key(c, "proxy", "rps"))/last(key(c, "direct", "rps")))
		}
	}
	for _, n := range b.opts.toolCounts {
		rss, _ := procRSS(sv.bridges[n].pid)
		b.rep.s5.rssLoaded[n] = rss
	}
}

// streaming is scenario 2: answers of opts.chunks content chunks.
func (b *bench) streaming(ctx context.Context, sv *servers) {
	s := b.rep.s2
	bridge := sv.bridges[b.opts.streamTools]
	rq := &request{body: []byte(streamBody(b.opts.chunks)), stream: true, chunks: b.opts.chunks}
	for run := range b.opts.runs {
		for _, c := range concurrencies {
			b.log.Printf("scenario 2, run %d/%d, concurrency %d", run+1, b.opts.runs, c)
			for _, t := range rotate([]*target{sv.direct, sv.proxy, bridge}, run) {
				b.measure(ctx, s, key(c, roleOf(t)), t, rq, c)
			}
			last := func(k string) float64 { v := s[k]; return v[len(v)-1] }
			for _, r := range []string{"proxy", "bridge"} {
				s.add(key(c, r, "ttfb_added"), last(key(c, r, "ttfb"))-last(key(c, "direct", "ttfb")))
				s.add(key(c, r, "vs_direct"), last(key(c, r, "rps"))/last(key(c, "direct", "rps")))
			}
			s.add(key(c, "bridge", "vs_proxy"), last(key(c, "bridge", "rps"))/last(key(c, "proxy", "rps")))
		}
		// The first chunk with no burst behind it, for reference.
		one := &request{body: []byte(streamBody(1)), stream: true, chunks: 1}
		for _, t := range rotate([]*target{sv.direct, sv.proxy, bridge}, run) {
			b.measure(ctx, s, key("one", roleOf(t)), t, one, 1)
		}
		last := func(k string) float64 { v := s[k]; return v[len(v)-1] }
		for _, r := range []string{"proxy", "bridge"} {
			s.add(key("one", r, "ttfb_added"), last(key("one", r, "ttfb"))-last(key("one", "direct", "ttfb")))
		}
	}
}

// roleOf names a target by its role: direct, proxy or bridge.
func roleOf(t *target) string {
	if strings.HasPrefix(t.name, "bridge") {
		return "bridge"
	}
	return t.name
}

// toolRound is scenario 3: the model calls the stdio echo tool once, then
// answers. Without the bridge the client plays its part: it sends the
// second round itself, and the tool's own time is measured by calling the
// same MCP server over stdio from here.
func (b *bench) toolRound(ctx context.Context, sv *servers) error {
	s := b.rep.s3
	bridge := sv.bridges[b.opts.streamTools]
	handRound := &request{body: []byte(toolBody), body2: []byte(toolBody2), stream: true, chunks: toolAnswerChunks}
	viaBridge := &request{body: []byte(toolBody), stream: true, chunks: toolAnswerChunks}

	cmd := exec.Command(b.env.self, mcpServerArgs(b.opts.streamTools)...)
	client := mcp.NewClient(&mcp.Implementation{Name: "mcp-bridge-bench", Version: "1.0.0"}, nil)
	sess, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		return fmt.Errorf("connecting to the MCP server: %w", err)
	}
	defer sess.Close()
	callTool := func() (time.Duration, error) {
		t0 := time.Now()
		res, err := sess.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "hello"}})
		if err == nil && res.IsError {
			err = fmt.Errorf("echo failed")
		}
		return time.Since(t0), err
	}
	for range 50 { // warm-up
		if _, err := callTool(); err != nil {
			return err
		}
	}

	for run := range b.opts.runs {
		b.log.Printf("scenario 3, run %d/%d", run+1, b.opts.runs)
		for _, t := range rotate([]*target{sv.direct, sv.proxy, bridge}, run) {
			rq := handRound
			if t == bridge {
				rq = viaBridge
			}
			b.measure(ctx, s, roleOf(t), t, rq, 1)
		}
		var calls []time.Duration
		for end := time.Now().Add(b.opts.duration); time.Now().Before(end); {
			d, err := callTool()
			if err != nil {
				return fmt.Errorf("calling echo: %w", err)
			}
			calls = append(calls, d)
		}
		sortDurations(calls)
		s.add("tool/lat", us(pct(calls, 50)))
		b.log.Printf("  %-28s c=1   %8d calls          p50 %8.1fµs", "tool (stdio, direct)", len(calls), us(pct(calls, 50)))
		last := func(k string) float64 { v := s[k]; return v[len(v)-1] }
		s.add("bridge/added", last("bridge/lat")-last("direct/lat")-last("tool/lat"))
		s.add("bridge/added_proxy", last("bridge/lat")-last("proxy/lat")-last("tool/lat"))
		s.add("proxy/added", last("proxy/lat")-last("direct/lat"))
	}
	return nil
}

// holds is scenarios 4 and 5 (streams): for each level, a fresh bridge and
// proxy, warmed up, then level streams held open against the upstream,
// the proxy and the bridge at once. Below scenario 4's count, a second
// bridge with the most tools of scenario 1 is held at the same time, to show
// how the memory of a stream grows with the tools.
func (b *bench) holds(ctx context.Context) error {
	levels := append(append([]int(nil), b.opts.growthStreams...), b.opts.streams)
	for _, n := range levels {
		hold := b.opts.growthHold
		if n == b.opts.streams {
			hold = b.opts.hold
		}
		b.log.Printf("scenarios 4/5: %d streams per target held for %s", n, hold)
		var procs []*process
		stop := func() {
			for _, p := range procs {
				p.stop()
			}
		}
		start := func(f func() (*process, error)) (*process, error) {
			p, err := f()
			if err == nil {
				procs = append(procs, p)
			}
			return p, err
		}
		bp, err := start(func() (*process, error) { return b.env.startBridge(b.opts.streamTools) })
		if err != nil {
			stop()
			return err
		}
		pp, err := start(b.env.startProxy)
		if err != nil {
			stop()
			return err
		}
		ts := []*target{newTarget("direct", b.env.upstream.URL, 0), newTarget("proxy", pp.URL, pp.Pid()), newTarget("bridge", bp.URL, bp.Pid())}
		if most := slices.Max(b.opts.toolCounts); len(b.opts.growthStreams) > 0 && n == slices.Max(b.opts.growthStreams) && n < b.opts.streams && most > b.opts.streamTools {
			bm, err := start(func() (*process, error) { return b.env.startBridge(most) })
			if err != nil {
				stop()
				return err
			}
			ts = append(ts, newTarget(fmt.Sprintf("bridge-%dtools", most), bm.URL, bm.Pid()))
		}
		for _, t := range ts {
			warmUp(ctx, t)
		}
		time.Sleep(300 * time.Millisecond)
		res := holdStreams(ctx, ts, n, b.opts.holdInterval, hold, nil)
		for _, r := range res {
			b.log.Printf("  %-18s %5d streams  %d errors  open in %v  rss %s -> %s (peak %s)  lag p50 %.0fµs  cpu %v/s",
				r.target, r.n, r.errs, r.open.Round(time.Millisecond), mib(r.rssBase), mib(r.rssMed), mib(r.rssPeak), us(pct(r.lags, 50)), r.cpuShare)
			if r.firstErr != "" {
				b.log.Printf("  %s: first error: %s", r.target, r.firstErr)
			}
		}
		b.rep.holds = append(b.rep.holds, res)
		for _, t := range ts {
			t.close()
		}
		stop()
	}
	return nil
}

// warmUp sends t the same few requests before its memory is measured: the
// bridge's tool definitions get built, connection pools filled, the
// runtime's heap grown a first time. A fixed count rather than a duration,
// so that a slower target is not warmed less.
func warmUp(ctx context.Context, t *target) {
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			br := bufio.NewReaderSize(nil, 32<<10)
			for range 25 {
				_, _ = t.send(ctx, &request{body: []byte(plainBody)}, br)
			}
			for range 5 {
				_, _ = t.send(ctx, &request{body: []byte(streamBody(20)), stream: true}, br)
			}
		}()
	}
	wg.Wait()
	t.close()
}

// concurrencies of scenarios 1 and 2.
var concurrencies = []int{1, 64}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
