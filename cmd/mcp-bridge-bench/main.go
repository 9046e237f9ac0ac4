// Command mcp-bridge-bench measures mcp-bridge against the upstream it
// forwards to and against a bare httputil.ReverseProxy, in one run on one
// machine, and writes the results as a markdown report.
//
// It starts a mock OpenAI-compatible upstream and the load generator in its
// own process, and the proxy and the bridge (the real binary, built from
// ./cmd/mcp-bridge) as separate processes, so that their CPU time and
// memory are measured alone from /proc. The MCP tools the bridge injects
// come from this program too, run as a stdio MCP server. Every figure is
// the median over several runs; every comparison is a ratio or difference
// taken within one run.
//
// Usage:
//
//	go run ./cmd/mcp-bridge-bench [-out BENCHMARKS.md] [flags]
//
// Where a target is missed, the scenario is run again against the bridge's
// packages in a profiled process, and the CPU or heap profile's top
// entries go into the report.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the benchmark's settings, from flags.
type options struct {
	out            string
	runs           int
	duration, warm time.Duration
	toolCounts     []int
	streamTools    int // tool count of the bridge in scenarios 2 to 5
	chunks         int
	streams        int
	growthStreams  []int
	hold           time.Duration
	growthHold     time.Duration
	holdInterval   time.Duration
	latency        time.Duration
	chunkDelay     time.Duration
	profile        string
	profileTime    time.Duration
	profileDir     string
	micro          bool
	microBenchtime string
	root           string
	only           string // "replicas": scenario 6 alone; "cost": scenarios 7 to 9
	catalogueTools []int  // tool counts of scenario 7
	agentConc      int    // concurrency of scenario 9
}

func main() {
	// Modes in which this program is one of the benchmark's servers.
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "-serve-mcp":
			n := 0
			if len(os.Args) > 2 {
				n, _ = strconv.Atoi(os.Args[2])
			}
			exit(serveMCP(n))
		case "-serve-proxy", "-serve-bridge":
			exit(serveMode(os.Args[1], os.Args[2:]))
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	exit(err)
}

func exit(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "mcp-bridge-bench:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// serveMode runs the proxy or the profiled bridge.
func serveMode(mode string, args []string) error {
	fs := flag.NewFlagSet(mode, flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	up := fs.String("upstream", "", "upstream API base URL")
	tools := fs.Int("tools", 0, "MCP tools (profiled bridge)")
	pprofAddr := fs.String("pprof", "", "address of the pprof server (profiled bridge)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if mode == "-serve-proxy" {
		return serveProxy(*listen, *up)
	}
	return serveProfiledBridge(*listen, *up, *tools, *pprofAddr)
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q is not a count", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("mcp-bridge-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.out, "out", "", "write the markdown report to this file (it is always printed)")
	fs.IntVar(&o.runs, "runs", 7, "runs of every measurement; figures are medians over runs")
	fs.DurationVar(&o.duration, "duration", 700*time.Millisecond, "length of one measurement")
	fs.DurationVar(&o.warm, "warm", 100*time.Millisecond, "warm-up before every measurement")
	tools := fs.String("tools", "0,10,100,1000", "MCP tool counts of scenario 1")
	fs.IntVar(&o.streamTools, "stream-tools", 10, "MCP tools of the bridge in scenarios 2 to 5 (at least 1: the echo tool)")
	fs.IntVar(&o.chunks, "chunks", 500, "content chunks per answer in scenario 2")
	fs.IntVar(&o.streams, "streams", 1000, "concurrent streams of scenario 4")
	growth := fs.String("growth-streams", "10,100", "smaller stream counts of scenario 5 (scenario 4's is added)")
	fs.DurationVar(&o.hold, "hold", 30*time.Second, "how long scenario 4 holds its streams open")
	fs.DurationVar(&o.growthHold, "growth-hold", 5*time.Second, "how long scenario 5's smaller stream counts are held")
	fs.DurationVar(&o.holdInterval, "hold-interval", time.Second, "interval between chunks of held streams")
	fs.DurationVar(&o.latency, "upstream-latency", 0, "mock upstream: delay before every answer")
	fs.DurationVar(&o.chunkDelay, "chunk-delay", 0, "mock upstream: delay between streamed chunks")
	fs.StringVar(&o.profile, "profile", "missed", "profile the bridge for targets that are missed, for all, or none: missed|all|none")
	fs.DurationVar(&o.profileTime, "profile-time", 5*time.Second, "length of each profile")
	fs.StringVar(&o.profileDir, "profile-dir", "", "keep the profiles in this directory (default: a temporary one, removed)")
	fs.BoolVar(&o.micro, "micro", false, "also run the micro-benchmarks (go test -bench) and add them to the report")
	fs.StringVar(&o.microBenchtime, "micro-benchtime", "1s", "-benchtime of the micro-benchmarks")
	fs.StringVar(&o.only, "only", "", "run scenarios alone and print their sections: replicas (scenario 6, needs redis-server), cost (7 to 9: catalogue, retrieval, agent round)")
	catalogue := fs.String("catalogue-tools", "10,100,1000,5000", "MCP tool counts of scenario 7 (all against search)")
	fs.IntVar(&o.agentConc, "agent-concurrency", 50, "concurrent clients of scenario 9 (the agent round)")
	fs.StringVar(&o.root, "root", "", "root of the mcp-bridge module (default: found with go list)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	var err error
	if o.toolCounts, err = parseInts(*tools); err != nil {
		return nil, fmt.Errorf("-tools: %w", err)
	}
	if o.catalogueTools, err = parseInts(*catalogue); err != nil {
		return nil, fmt.Errorf("-catalogue-tools: %w", err)
	}
	if o.growthStreams, err = parseInts(*growth); err != nil {
		return nil, fmt.Errorf("-growth-streams: %w", err)
	}
	switch {
	case o.runs < 1:
		return nil, errors.New("-runs must be at least 1")
	case o.streamTools < 1:
		return nil, errors.New("-stream-tools must be at least 1 (the echo tool)")
	case o.chunks < 1 || o.streams < 1 || o.holdInterval <= 0:
		return nil, errors.New("-chunks, -streams and -hold-interval must be positive")
	case o.profile != "missed" && o.profile != "all" && o.profile != "none":
		return nil, errors.New("-profile must be missed, all or none")
	case o.only != "" && o.only != "replicas" && o.only != "cost":
		return nil, errors.New("-only must be replicas or cost")
	case o.agentConc < 1:
		return nil, errors.New("-agent-concurrency must be at least 1")
	}
	if !containsInt(o.toolCounts, o.streamTools) {
		o.toolCounts = append(o.toolCounts, o.streamTools)
	}
	return o, nil
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// run runs every scenario and writes the report.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	lg := log.New(stderr, "", log.Ltime)
	if o.root == "" {
		if o.root, err = moduleRoot(ctx); err != nil {
			return err
		}
	}
	if err := raiseFileLimit(3*(2*o.streams+100), lg); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "mcp-bridge-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	rep := newReport(o)
	rep.machine = collectMachine(ctx, o.root)
	lg.Printf("machine: %s; load before: %s", rep.machine.summary(), rep.machine.loadBefore)

	lg.Printf("building the bridge")
	e := &env{dir: dir}
	if e.bridgeBin, err = buildBridge(ctx, o.root, dir); err != nil {
		return err
	}
	if e.self, err = selfPath(); err != nil {
		return err
	}
	if e.upstream, err = startUpstream(upstreamOptions{Latency: o.latency, ChunkDelay: o.chunkDelay}); err != nil {
		return err
	}
	defer e.upstream.Close()
	b := &bench{opts: o, env: e, log: lg, rep: rep}
	if o.only == "replicas" {
		md, err := b.replicasOnly(ctx)
		if err == nil {
			fmt.Fprint(stdout, md)
		}
		return err
	}
	if o.only == "cost" {
		res, err := b.cost(ctx)
		if err != nil {
			return err
		}
		rep.machine.loadAfter = loadAvg()
		fmt.Fprint(stdout, res.markdown(o, rep.machine))
		return nil
	}

	start := time.Now()
	sv, err := b.startServers()
	if err != nil {
		return err
	}
	b.passThrough(ctx, sv)
	if ctx.Err() == nil {
		b.streaming(ctx, sv)
	}
	if ctx.Err() == nil {
		if err := b.toolRound(ctx, sv); err != nil {
			sv.stop()
			return err
		}
	}
	sv.stop()
	if ctx.Err() == nil {
		res, err := b.cost(ctx)
		if err != nil {
			return err
		}
		rep.cost = res.markdown(o, rep.machine)
	}
	if ctx.Err() == nil {
		if err := b.holds(ctx); err != nil {
			return err
		}
	}
	if ctx.Err() == nil {
		if err := b.replicas(ctx); err != nil {
			// Not every machine has redis-server; the rest stands.
			lg.Printf("scenario 6: %v", err)
			rep.notes = append(rep.notes, "Scenario 6 (replicas sharing limits in Redis) did not run: "+err.Error())
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	rep.evaluate()
	if err := b.profileMisses(ctx); err != nil {
		lg.Printf("profiling: %v", err)
		rep.notes = append(rep.notes, "Profiling failed: "+err.Error())
	}
	if o.micro {
		rep.micro = runMicro(ctx, o, stdout)
	}
	rep.elapsed = time.Since(start)
	rep.machine.loadAfter = loadAvg()

	md := rep.markdown()
	fmt.Fprint(stdout, md)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(md), 0o644); err != nil {
			return err
		}
		lg.Printf("wrote %s", o.out)
	}
	return nil
}

// raiseFileLimit raises the soft limit of open files to at least need, up
// to the hard limit, and fails when the hard limit is too low.
func raiseFileLimit(need int, lg *log.Logger) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("reading the open-file limit: %w", err)
	}
	if lim.Cur >= uint64(need) {
		return nil
	}
	if lim.Max < uint64(need) {
		return fmt.Errorf("scenario 4 needs about %d open files, the hard limit is %d: raise it (ulimit -Hn) or lower -streams", need, lim.Max)
	}
	old := lim.Cur
	lim.Cur = uint64(need)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raising the open-file limit from %d to %d: %w", old, need, err)
	}
	lg.Printf("raised the open-file limit from %d to %d", old, need)
	return nil
}
