package main

import (
	_ "embed"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// report is everything the markdown report shows.
type report struct {
	opts    *options
	machine machine
	s1      series // pass-through: key(concurrency, target, metric)
	s2      series // streaming: key(concurrency, role, metric)
	s3      series // tool round: key(role, metric)
	s6      series // replicas: key(concurrency, target, metric)
	s5      struct{ rssStart, rssLoaded map[int]int64 }
	// holds are scenario 5's stream counts then scenario 4's, each with the
	// results of direct, proxy and bridge.
	holds    [][]holdResult
	errs     map[string]errCount
	targets  []targetRow
	profiles []profileResult
	micro    string
	cost     string // scenarios 7 to 9 (cost.go)
	notes    []string
	elapsed  time.Duration
}

type errCount struct {
	n     int
	first string
}

// targetRow is one of the targets and how the run did against it.
type targetRow struct {
	name, goal, measured string
	met                  bool
	measuredOK           bool // false when the figure could not be measured
	by                   string
	profile              string // the workload that explains a miss
	context              string // reference figures of the same run
}

func newReport(o *options) *report {
	r := &report{opts: o, s1: series{}, s2: series{}, s3: series{}, s6: series{}, errs: map[string]errCount{}}
	r.s5.rssStart, r.s5.rssLoaded = map[int]int64{}, map[int]int64{}
	return r
}

func (r *report) addErrors(prefix string, n int, first error) {
	if n == 0 {
		return
	}
	e := r.errs[prefix]
	e.n += n
	if e.first == "" && first != nil {
		e.first = first.Error()
	}
	r.errs[prefix] = e
}

// holdAt returns the results of the level with n streams, nil when none.
func (r *report) holdAt(n int) []holdResult {
	for _, h := range r.holds {
		if len(h) > 0 && h[0].n == n {
			return h
		}
	}
	return nil
}

func findHold(h []holdResult, name string) *holdResult {
	for i := range h {
		if h[i].target == name {
			return &h[i]
		}
	}
	return nil
}

// Workloads profiled to explain a missed target.
const (
	profPlainC64   = "plain-c64"
	profPlainC1    = "plain-c1"
	profStream     = "stream"
	profTool       = "tool"
	profHeldStream = "held-streams"
	// The agent round, not streamed and streamed (cost.go).
	profAgentJSON   = "agent-json"
	profAgentStream = "agent-stream"
)

// profileID names the workload of a profile: kind and tool count.
func profileID(kind string, tools int) string { return fmt.Sprintf("%s-%dtools", kind, tools) }

// evaluate fills in the targets from the measurements.
func (r *report) evaluate() {
	o := r.opts
	atLeast := func(name string, goal, v float64, unit string, prof string) {
		t := targetRow{name: name, goal: fmt.Sprintf("≥ %.2f%s", goal, unit), measured: fmt.Sprintf("%.2f%s", v, unit), profile: prof}
		t.measuredOK = !math.IsNaN(v)
		t.met = t.measuredOK && v >= goal
		if t.measuredOK && !t.met {
			t.by = fmt.Sprintf("%.2f%s short (%.0f%% below)", goal-v, unit, 100*(goal-v)/goal)
		}
		r.targets = append(r.targets, t)
	}
	atMost := func(name string, goal, v float64, unit, format string, prof string) {
		t := targetRow{name: name, goal: "≤ " + fmt.Sprintf(format, goal) + unit, measured: fmt.Sprintf(format, v) + unit, profile: prof}
		t.measuredOK = !math.IsNaN(v)
		t.met = t.measuredOK && v <= goal
		if t.measuredOK && !t.met {
			t.by = fmt.Sprintf("over by "+format+"%s (%.1f× the goal)", v-goal, unit, v/goal)
		}
		r.targets = append(r.targets, t)
	}
	note := func(format string, args ...any) { r.targets[len(r.targets)-1].context = fmt.Sprintf(format, args...) }
	// spread adds the range over runs of the figure just measured.
	spread := func(sr series, k, format string) {
		if lo, hi := sr.span(k); len(sr[k]) > 1 {
			t := &r.targets[len(r.targets)-1]
			t.measured += fmt.Sprintf(" (runs: "+format+" to "+format+")", lo, hi)
		}
	}
	s1, s2, s3 := r.s1, r.s2, r.s3
	if containsInt(o.toolCounts, 0) {
		atLeast("Pass-through throughput at concurrency 64, no tools, bridge ÷ proxy", 0.7, s1.med(key(64, "bridge-0", "vs_proxy")), "×", profileID(profPlainC64, 0))
		spread(s1, key(64, "bridge-0", "vs_proxy"), "%.2f")
		note("bridge %s, bare proxy %s, upstream directly %s", frate(s1.med(key(64, "bridge-0", "rps"))), frate(s1.med(key(64, "proxy", "rps"))), frate(s1.med(key(64, "direct", "rps"))))
	}
	if containsInt(o.toolCounts, 100) {
		atLeast("Pass-through throughput at concurrency 64, 100 tools injected, bridge ÷ proxy", 0.6, s1.med(key(64, "bridge-100", "vs_proxy")), "×", profileID(profPlainC64, 100))
		spread(s1, key(64, "bridge-100", "vs_proxy"), "%.2f")
		note("bridge %s, bare proxy %s", frate(s1.med(key(64, "bridge-100", "rps"))), frate(s1.med(key(64, "proxy", "rps"))))
	}
	for _, c := range []struct {
		tools int
		goal  float64
	}{{10, 100}, {1000, 300}} {
		if !containsInt(o.toolCounts, c.tools) {
			continue
		}
		bn := fmt.Sprintf("bridge-%d", c.tools)
		atMost(fmt.Sprintf("Added median latency at concurrency 1, %d tools", c.tools), c.goal, s1.med(key(1, bn, "added")), " µs", "%.0f", profileID(profPlainC1, c.tools))
		spread(s1, key(1, bn, "added"), "%.0f")
		note("the bare proxy alone adds %s (one more process on the path); the bridge adds %s more than the proxy",
			fus(s1.med(key(1, "proxy", "added"))), fus(s1.med(key(1, bn, "added_proxy"))))
	}
	cpu := math.Max(s2.med(key(1, "bridge", "cpu_chunk")), s2.med(key(64, "bridge", "cpu_chunk")))
	atMost("Streaming: bridge CPU per chunk (the larger of concurrency 1 and 64)", 5, cpu, " µs", "%.2f", profileID(profStream, o.streamTools))
	note("bridge %.2f µs at concurrency 1, %.2f µs at 64; bare proxy %.2f µs and %.2f µs",
		s2.med(key(1, "bridge", "cpu_chunk")), s2.med(key(64, "bridge", "cpu_chunk")), s2.med(key(1, "proxy", "cpu_chunk")), s2.med(key(64, "proxy", "cpu_chunk")))
	atMost("Streaming: time added to the first chunk, concurrency 1", 200, s2.med(key(1, "bridge", "ttfb_added")), " µs", "%.0f", profileID(profStream, o.streamTools))
	spread(s2, key(1, "bridge", "ttfb_added"), "%.0f")
	note("bare proxy adds %s; with a one-chunk answer the bridge adds %s (bare proxy %s)",
		fus(s2.med(key(1, "proxy", "ttfb_added"))), fus(s2.med(key("one", "bridge", "ttfb_added"))), fus(s2.med(key("one", "proxy", "ttfb_added"))))
	atMost("One tool round over stdio: time added beyond the upstream's and the tool's", 500, s3.med("bridge/added"), " µs", "%.0f", profileID(profTool, o.streamTools))
	spread(s3, "bridge/added", "%.0f")
	note("the bare proxy adds %s to the same two rounds; the echo call itself takes %s", fus(s3.med("proxy/added")), fus(s3.med("tool/lat")))
	h := r.holdAt(o.streams)
	held, heldProxy := findHold(h, "bridge"), findHold(h, "proxy")
	rss, errs := math.NaN(), math.NaN()
	if held != nil {
		rss, errs = float64(held.rssPeak)/1e6, float64(held.errs)
	}
	atMost(fmt.Sprintf("%d concurrent streams: bridge RSS (peak)", o.streams), 100, rss, " MB", "%.1f", profileID(profHeldStream, o.streamTools))
	if held != nil && heldProxy != nil {
		note("%s before the streams, %s per stream; bare proxy %s before, %s per stream", fmb(held.rssBase),
			fkb(float64(held.rssMed-held.rssBase)/float64(held.n)), fmb(heldProxy.rssBase), fkb(float64(heldProxy.rssMed-heldProxy.rssBase)/float64(heldProxy.n)))
	}
	atMost(fmt.Sprintf("%d concurrent streams: errors", o.streams), 0, errs, "", "%.0f", profileID(profHeldStream, o.streamTools))
	if heldProxy != nil {
		note("bare proxy: %d errors", heldProxy.errs)
	}
}

// missed returns the targets that were missed.
func (r *report) missed() []targetRow {
	var out []targetRow
	for _, t := range r.targets {
		if t.measuredOK && !t.met {
			out = append(out, t)
		}
	}
	return out
}

// Formatting helpers; NaN shows as "–".
func fus(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	if math.Abs(v) >= 10000 {
		return fmt.Sprintf("%.1f ms", v/1000)
	}
	return fmt.Sprintf("%.1f µs", v)
}

func fx(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.2f×", v)
}

func frate(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.0f/s", v)
}

func fmb(b int64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f MB", float64(b)/1e6)
}

func fkb(b float64) string {
	if math.IsNaN(b) {
		return "–"
	}
	return fmt.Sprintf("%.1f kB", b/1e3)
}

// markdown renders the report.
// findings is what the changes made for the targets bought, and why the
// targets still missed are missed: written by hand, kept with the harness,
// and put into every report.
//
//go:embed findings.md
var findings string

func (r *report) markdown() string {
	var b strings.Builder
	o, m := r.opts, r.machine
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	p("# Benchmarks\n\n")
	p("Written by `task bench` (`go run ./cmd/mcp-bridge-bench -out BENCHMARKS.md`). Do not edit by hand: run it again.\n\n")
	p("| | |\n|---|---|\n")
	p("| Date | %s |\n", m.date.Format("2006-01-02 15:04 MST"))
	p("| Commit | %s |\n", m.commit)
	p("| Go | %s |\n", m.goVersion)
	p("| CPU | %d cores, %s |\n", m.cpus, orUnknown(m.cpuModel))
	p("| Memory | %.1f GB |\n", float64(m.memTotal)/1e9)
	p("| Kernel | Linux %s |\n", orUnknown(m.kernel))
	p("| Load average (1, 5, 15 min) | %s before, %s after |\n", m.loadBefore, m.loadAfter)
	p("| Settings | %d runs of %s per measurement (after %s of warm-up); streams held %s, chunk every %s; upstream latency %s |\n",
		o.runs, o.duration, o.warm, o.hold, o.holdInterval, o.latency)
	p("| Total time | %s |\n\n", r.elapsed.Round(time.Second))
	if busy(m.loadBefore, m.cpus) {
		p("**The machine was busy when the run started** (load average %s on %d cores): absolute figures are pessimistic; ratios taken within one run are less affected.\n\n", m.loadBefore, m.cpus)
	}
	p("How it is measured: the mock upstream and the load generator run in the benchmark's process; the bare `httputil.ReverseProxy` ")
	p("and the bridge (the `mcp-bridge` binary built from this commit) each run as a process of their own, so their CPU time and RSS ")
	p("are read alone from `/proc/<pid>/stat` and `/proc/<pid>/status`. All three share the machine's cores. The load generator is closed-loop: ")
	p("a fixed number of clients, each sending its next request when the last answer has been read. ")
	p("Every figure is the median over the runs; every ratio and every *added* time is computed within one run (same run, same minute) and then the median is taken; ")
	p("the targets table also gives the range over runs. ")
	p("*Added* is the bridge's median minus the upstream's median measured directly. ")
	p("The proxy is `httputil.ReverseProxy` with the transport settings of the bridge's upstream client; it turns on full duplex for each request, ")
	p("without which a few percent of its streamed answers were cut short (the HTTP/1 server closes the request body when the response starts, ")
	p("racing the transport's last read of it).\n\n")

	r.targetsTable(&b)
	b.WriteString(findings)
	b.WriteString("\n")
	r.passThroughTables(&b)
	r.streamingTables(&b)
	r.toolTable(&b)
	r.holdTables(&b)
	r.growthTables(&b)
	r.replicasTable(&b)
	b.WriteString(r.cost)
	r.errorsSection(&b)
	r.profilesSection(&b)
	if r.micro != "" {
		p("## Micro-benchmarks\n\n`go test -run='^$' -bench=. -benchmem -benchtime=%s ./...`\n\n```\n%s\n```\n\n", o.microBenchtime, r.micro)
	}
	for _, n := range r.notes {
		p("%s\n\n", n)
	}
	return b.String()
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// busy reports whether the 1-minute load average shows other work.
func busy(load string, cpus int) bool {
	var l float64
	if _, err := fmt.Sscan(load, &l); err != nil {
		return false
	}
	return l > 0.25*float64(cpus)
}

func (r *report) targetsTable(b *strings.Builder) {
	fmt.Fprintf(b, "## Targets\n\n| Target | Goal | Measured | Result | Same run, for reference |\n|---|---|---|---|---|\n")
	for _, t := range r.targets {
		res := "met"
		switch {
		case !t.measuredOK:
			res = "not measured"
		case !t.met:
			res = "**missed**: " + t.by
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", t.name, t.goal, t.measured, res, t.context)
	}
	b.WriteString("\n")
	if len(r.missed()) > 0 {
		b.WriteString("Why each missed target is missed: see [Profiles](#profiles) below.\n\n")
	}
}

func (r *report) passThroughTables(b *strings.Builder) {
	s, o := r.s1, r.opts
	fmt.Fprintf(b, "## 1. Pass-through\n\nNon-streaming requests, no tool calls; the bridge injects N MCP tools into each request it forwards (the direct and proxy requests carry none).\n\n")
	for _, c := range concurrencies {
		fmt.Fprintf(b, "### Concurrency %d\n\n", c)
		b.WriteString("| Server | p50 latency | p99 latency | added p50 vs direct | added p50 vs proxy | throughput | ÷ proxy | ÷ direct | CPU per request |\n")
		b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
		fmt.Fprintf(b, "| upstream directly | %s | %s | | | %s | | | |\n", fus(s.med(key(c, "direct", "lat"))), fus(s.med(key(c, "direct", "p99"))), frate(s.med(key(c, "direct", "rps"))))
		fmt.Fprintf(b, "| bare proxy | %s | %s | %s | | %s | | %s | %s |\n", fus(s.med(key(c, "proxy", "lat"))), fus(s.med(key(c, "proxy", "p99"))),
			fus(s.med(key(c, "proxy", "added"))), frate(s.med(key(c, "proxy", "rps"))), fx(s.med(key(c, "proxy", "vs_direct"))), fus(s.med(key(c, "proxy", "cpu_req"))))
		for _, n := range o.toolCounts {
			bn := fmt.Sprintf("bridge-%d", n)
			fmt.Fprintf(b, "| bridge, %d tools | %s | %s | %s | %s | %s | %s | %s | %s |\n", n,
				fus(s.med(key(c, bn, "lat"))), fus(s.med(key(c, bn, "p99"))), fus(s.med(key(c, bn, "added"))), fus(s.med(key(c, bn, "added_proxy"))),
				frate(s.med(key(c, bn, "rps"))), fx(s.med(key(c, bn, "vs_proxy"))), fx(s.med(key(c, bn, "vs_direct"))), fus(s.med(key(c, bn, "cpu_req"))))
		}
		b.WriteString("\n")
	}
}

func (r *report) streamingTables(b *strings.Builder) {
	s, o := r.s2, r.opts
	fmt.Fprintf(b, "## 2. Streaming\n\nAnswers of %d content chunks, flushed one by one by the upstream; the bridge has %d tools. "+
		"First chunk: time until the first byte of the answer's body. CPU per chunk: the process's CPU time during the run divided by the content chunks delivered.\n\n", o.chunks, o.streamTools)
	for _, c := range concurrencies {
		fmt.Fprintf(b, "### Concurrency %d\n\n", c)
		b.WriteString("| Server | p50 first chunk | added to first chunk | p50 whole answer | answers/s | chunks/s | ÷ proxy | ÷ direct | CPU per chunk |\n")
		b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
		for _, role := range []string{"direct", "proxy", "bridge"} {
			name := map[string]string{"direct": "upstream directly", "proxy": "bare proxy", "bridge": "bridge"}[role]
			added, vsProxy, vsDirect := "", "", ""
			if role != "direct" {
				added, vsDirect = fus(s.med(key(c, role, "ttfb_added"))), fx(s.med(key(c, role, "vs_direct")))
			}
			if role == "bridge" {
				vsProxy = fx(s.med(key(c, role, "vs_proxy")))
			}
			cpu := ""
			if role != "direct" {
				cpu = fmt.Sprintf("%.2f µs", s.med(key(c, role, "cpu_chunk")))
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", name, fus(s.med(key(c, role, "ttfb"))), added, fus(s.med(key(c, role, "lat"))),
				frate(s.med(key(c, role, "rps"))), frate(s.med(key(c, role, "chunks_s"))), vsProxy, vsDirect, cpu)
		}
		b.WriteString("\n")
	}
	b.WriteString("For reference, the first chunk of a one-chunk answer (concurrency 1), where no burst of chunks follows it:\n\n")
	b.WriteString("| Server | p50 first chunk | added to first chunk |\n|---|---|---|\n")
	for _, role := range []string{"direct", "proxy", "bridge"} {
		added := ""
		if role != "direct" {
			added = fus(s.med(key("one", role, "ttfb_added")))
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", targetLabel(role), fus(s.med(key("one", role, "ttfb"))), added)
	}
	b.WriteString("\n")
}

func (r *report) toolTable(b *strings.Builder) {
	s := r.s3
	fmt.Fprintf(b, "## 3. One tool round\n\nStreaming, concurrency 1. The model calls `echo` of a stdio MCP server once, then answers in %d chunks. "+
		"Without the bridge the client plays its part: it reads the tool call and sends the second round itself (the tool is not called); "+
		"the tool's own time is measured by calling the same server over stdio from the benchmark. "+
		"Added = bridge − direct − tool.\n\n", toolAnswerChunks)
	b.WriteString("| Server | p50 whole answer | echo over stdio, p50 | added beyond upstream and tool | CPU per request |\n|---|---|---|---|---|\n")
	tool := fus(s.med("tool/lat"))
	fmt.Fprintf(b, "| upstream directly (2 rounds by hand) | %s | %s | | |\n", fus(s.med("direct/lat")), tool)
	fmt.Fprintf(b, "| bare proxy (2 rounds by hand) | %s | %s | %s (proxy − direct) | %s |\n", fus(s.med("proxy/lat")), tool, fus(s.med("proxy/added")), fus(s.med("proxy/cpu_req")))
	fmt.Fprintf(b, "| bridge | %s | %s | %s (%s vs proxy) | %s |\n\n", fus(s.med("bridge/lat")), tool, fus(s.med("bridge/added")), fus(s.med("bridge/added_proxy")), fus(s.med("bridge/cpu_req")))
}

func (r *report) holdTable(b *strings.Builder, h []holdResult) {
	b.WriteString("| Server | streams | errors | all open after | p50 first chunk | chunk lag p50 | chunk lag p99 | RSS before | RSS held (median) | RSS peak | RSS per stream | CPU while held |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, x := range h {
		name := targetLabel(x.target)
		per, cpu := "–", "–"
		if x.rssMed > 0 {
			per = fkb(float64(x.rssMed-x.rssBase) / float64(x.n))
			cpu = fmt.Sprintf("%.1f%%", 100*x.cpuShare.Seconds())
		}
		errs := fmt.Sprint(x.errs)
		if x.errs > 0 {
			errs = fmt.Sprintf("**%d** (%s)", x.errs, shorten(x.firstErr, 80))
		}
		fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", name, x.n, errs, x.open.Round(time.Millisecond),
			fus(us(pct(x.ttfb, 50))), fus(us(pct(x.lags, 50))), fus(us(pct(x.lags, 99))), fmb(x.rssBase), fmb(x.rssMed), fmb(x.rssPeak), per, cpu)
	}
	b.WriteString("\n")
}

// targetLabel names a target in tables.
func targetLabel(name string) string {
	switch {
	case name == "direct":
		return "upstream directly"
	case name == "proxy":
		return "bare proxy"
	case strings.HasPrefix(name, "bridge-") && strings.HasSuffix(name, "tools"):
		return "bridge, " + strings.TrimSuffix(strings.TrimPrefix(name, "bridge-"), "tools") + " tools"
	}
	return name
}

func shorten(s string, n int) string {
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func (r *report) holdTables(b *strings.Builder) {
	o := r.opts
	fmt.Fprintf(b, "## 4. %d concurrent streams held for %s\n\n", o.streams, o.hold)
	fmt.Fprintf(b, "%d streams are opened at once against each of the upstream, a fresh proxy and a fresh bridge (%d tools), all at the same time; "+
		"the upstream sends a chunk every %s. RSS is sampled every 0.5 s while every stream is open; per stream = (median held − before) ÷ streams. "+
		"Chunk lag: from the upstream writing a chunk to the client reading it, for chunks sent once every stream was open. "+
		"One run: the hold is long, and the RSS figure is itself a median of samples.\n\n", o.streams, o.streamTools, o.holdInterval)
	if h := r.holdAt(o.streams); h != nil {
		r.holdTable(b, h)
	} else {
		b.WriteString("Not run.\n\n")
	}
}

func (r *report) growthTables(b *strings.Builder) {
	o, s := r.opts, r.s1
	b.WriteString("## 5. Growth\n\n### With the number of tools\n\nFrom scenario 1. RSS at start: once the tools are listed; after: at the end of scenario 1.\n\n")
	b.WriteString("| Tools | added p50, c=1 | added p50, c=64 | throughput ÷ proxy, c=64 | CPU per request, c=1 | CPU per request, c=64 | RSS at start | RSS after scenario 1 |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, n := range o.toolCounts {
		bn := fmt.Sprintf("bridge-%d", n)
		fmt.Fprintf(b, "| %d | %s | %s | %s | %s | %s | %s | %s |\n", n, fus(s.med(key(1, bn, "added"))), fus(s.med(key(64, bn, "added"))),
			fx(s.med(key(64, bn, "vs_proxy"))), fus(s.med(key(1, bn, "cpu_req"))), fus(s.med(key(64, bn, "cpu_req"))), fmb(r.s5.rssStart[n]), fmb(r.s5.rssLoaded[n]))
	}
	b.WriteString("\n### With the number of concurrent streams\n\n")
	fmt.Fprintf(b, "Each count held for %s (%s for %d), a fresh bridge and proxy each time; at %d streams a bridge with %d tools is held at the same time. "+
		"Lag added: the bridge's median chunk lag minus the upstream's, measured at the same time.\n\n", o.growthHold, o.hold, o.streams, slices.Max(append([]int{0}, o.growthStreams...)), slices.Max(o.toolCounts))
	most := slices.Max(o.toolCounts)
	fmt.Fprintf(b, "| Streams | bridge RSS held | bridge RSS per stream | bridge with %d tools, RSS per stream | proxy RSS per stream | bridge chunk lag added, p50 | p99 | bridge first chunk p50 | bridge CPU while held | bridge errors |\n", most)
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	hs := append([][]holdResult(nil), r.holds...)
	sort.Slice(hs, func(i, j int) bool { return hs[i][0].n < hs[j][0].n })
	for _, h := range hs {
		d, p, br := findHold(h, "direct"), findHold(h, "proxy"), findHold(h, "bridge")
		if d == nil || p == nil || br == nil {
			continue
		}
		bigPer := "–"
		if big := findHold(h, fmt.Sprintf("bridge-%dtools", most)); big != nil {
			bigPer = fkb(float64(big.rssMed-big.rssBase) / float64(big.n))
		}
		fmt.Fprintf(b, "| %d | %s | %s | %s | %s | %s | %s | %s | %.1f%% | %d |\n", br.n, fmb(br.rssMed),
			fkb(float64(br.rssMed-br.rssBase)/float64(br.n)), bigPer, fkb(float64(p.rssMed-p.rssBase)/float64(p.n)),
			fus(us(pct(br.lags, 50)-pct(d.lags, 50))), fus(us(pct(br.lags, 99)-pct(d.lags, 99))), fus(us(pct(br.ttfb, 50))), 100*br.cpuShare.Seconds(), br.errs)
	}
	b.WriteString("\n")
}

func (r *report) errorsSection(b *strings.Builder) {
	if len(r.errs) == 0 {
		b.WriteString("No request failed in scenarios 1 to 3.\n\n")
		return
	}
	b.WriteString("### Failed requests in scenarios 1 to 3\n\n| Measurement | failures | first error |\n|---|---|---|\n")
	keys := make([]string, 0, len(r.errs))
	for k := range r.errs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(b, "| %s | %d | %s |\n", k, r.errs[k].n, shorten(r.errs[k].first, 120))
	}
	b.WriteString("\n")
}
