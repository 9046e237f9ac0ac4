package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mcp-bridge/mcp-bridge/bridge"
	"github.com/mcp-bridge/mcp-bridge/llm"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// serveProfiledBridge serves the bridge's packages wired as cmd/mcp-bridge
// wires them with a default configuration (the upstream, one stdio MCP
// server of this program with tools tools when tools > 0), plus
// net/http/pprof on pprofAddr, until SIGTERM or SIGINT.
func serveProfiledBridge(listen, upstream string, tools int, pprofAddr string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	up, err := llm.NewClient(llm.Options{BaseURL: upstream})
	if err != nil {
		return err
	}
	var servers []mcpclient.ServerConfig
	if tools > 0 {
		self, err := selfPath()
		if err != nil {
			return err
		}
		servers = append(servers, mcpclient.ServerConfig{Name: benchServerName, Command: self, Args: mcpServerArgs(tools)})
	}
	reg := mcpclient.NewRegistry(servers, nil)
	srv, err := bridge.New(bridge.Options{Upstream: up, Tools: reg, Display: bridge.DisplayStatus})
	if err != nil {
		return err
	}
	reg.Start(ctx)
	defer reg.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	pln, err := net.Listen("tcp", pprofAddr)
	if err != nil {
		return err
	}
	go func() { _ = http.Serve(pln, mux) }()

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 30 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
		_ = hs.Close()
	}()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// profileResult is the evidence for one or more missed targets.
type profileResult struct {
	id      string
	title   string
	targets []string
	// what ran while profiling, and how fast.
	workload string
	// top is go tool pprof's flat top; own lists the bridge's own
	// functions by cumulative share; pkgs sums the flat share by package.
	top, own, pkgs string
	// memstats and goroutines come with heap profiles.
	memstats   string
	goroutines int
	stacks     string // goroutines by function
	file       string
	err        error
}

// profileMisses profiles the workload behind every missed target (every
// target with -profile=all) in a profiled bridge process.
func (b *bench) profileMisses(ctx context.Context) error {
	if b.opts.profile == "none" {
		return nil
	}
	rows := b.rep.missed()
	if b.opts.profile == "all" {
		rows = b.rep.targets
	}
	byID := map[string][]string{}
	var ids []string
	for _, t := range rows {
		if _, ok := byID[t.profile]; !ok {
			ids = append(ids, t.profile)
		}
		byID[t.profile] = append(byID[t.profile], t.name)
	}
	if len(ids) == 0 {
		return nil
	}
	dir := b.opts.profileDir
	if dir == "" {
		dir = filepath.Join(b.env.dir, "profiles")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, id := range ids {
		b.log.Printf("profiling %s", id)
		pr := b.profile(ctx, id, dir)
		pr.targets = byID[id]
		if pr.err != nil {
			b.log.Printf("  %v", pr.err)
		}
		b.rep.profiles = append(b.rep.profiles, pr)
	}
	return nil
}

// startProfiledBridge starts this program as a profiled bridge.
func (b *bench) startProfiledBridge(tools int) (*process, string, error) {
	addr, err := freePort()
	if err != nil {
		return nil, "", err
	}
	paddr, err := freePort()
	if err != nil {
		return nil, "", err
	}
	p, err := startProcess("profiled bridge", addr, b.env.self, "-serve-bridge", "-listen", addr, "-upstream", b.env.upstream.URL,
		"-tools", strconv.Itoa(tools), "-pprof", paddr)
	if err != nil {
		return nil, "", err
	}
	err = p.waitHTTP("http://"+addr+"/readyz", 60*time.Second, func(status int, body []byte) bool {
		return status == http.StatusOK && strings.Contains(string(body), fmt.Sprintf(`"tools":%d`, tools))
	})
	if err != nil {
		p.stop()
		return nil, "", err
	}
	return p, "http://" + paddr, nil
}

func (b *bench) profile(ctx context.Context, id, dir string) profileResult {
	pr := profileResult{id: id}
	kind, tools := parseProfileID(id)
	p, pprofURL, err := b.startProfiledBridge(tools)
	if err != nil {
		pr.err = err
		return pr
	}
	defer p.stop()
	t := newTarget("bridge", p.URL, p.Pid())
	defer t.close()
	secs := b.opts.profileTime

	if kind == profHeldStream {
		pr.title = fmt.Sprintf("Heap of %d held streams (bridge, %d tools)", b.opts.streams, tools)
		pr.workload = fmt.Sprintf("%d streams held open, a chunk every %s", b.opts.streams, b.opts.holdInterval)
		pr.file = filepath.Join(dir, id+".heap.pprof")
		hold := max(10*time.Second, 2*secs)
		warmUp(ctx, t)
		res := holdStreams(ctx, []*target{t}, b.opts.streams, b.opts.holdInterval, hold, func() {
			time.Sleep(time.Second)
			if err := fetch(ctx, pprofURL+"/debug/pprof/heap?gc=1", pr.file); err != nil {
				pr.err = err
				return
			}
			pr.memstats = b.memstats(ctx, pprofURL)
			pr.goroutines, pr.stacks = goroutines(ctx, pprofURL)
		})
		if len(res) > 0 {
			pr.workload += fmt.Sprintf("; %d errors, RSS %s", res[0].errs, fmb(res[0].rssMed))
		}
		if pr.err != nil {
			return pr
		}
		pr.top, pr.own, pr.pkgs, pr.err = pprofTop(ctx, b.opts.root, pr.file, "-sample_index=inuse_space")
		return pr
	}

	var rq *request
	conc := 1
	switch kind {
	case profPlainC64, profPlainC1:
		rq = &request{body: []byte(plainBody)}
		if kind == profPlainC64 {
			conc = 64
		}
		pr.title = fmt.Sprintf("CPU of pass-through, concurrency %d, %d tools", conc, tools)
	case profStream:
		rq = &request{body: []byte(streamBody(b.opts.chunks)), stream: true, chunks: b.opts.chunks}
		pr.title = fmt.Sprintf("CPU of streaming %d chunks, concurrency 1, %d tools", b.opts.chunks, tools)
	case profTool:
		rq = &request{body: []byte(toolBody), stream: true, chunks: toolAnswerChunks}
		pr.title = fmt.Sprintf("CPU of a tool round over stdio, concurrency 1, %d tools", tools)
	case profAgentJSON, profAgentStream:
		rq, conc = agentRequest(kind == profAgentStream), b.opts.agentConc
		pr.title = fmt.Sprintf("CPU of the agent round (%s), concurrency %d, %d tools", kind, conc, tools)
	default:
		pr.err = fmt.Errorf("unknown profile %q", id)
		return pr
	}
	pr.file = filepath.Join(dir, id+".cpu.pprof")
	done := make(chan loadResult, 1)
	go func() { done <- runLoad(ctx, t, rq, conc, secs+time.Second, 300*time.Millisecond) }()
	time.Sleep(400 * time.Millisecond)
	pr.err = fetch(ctx, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", pprofURL, int(secs.Seconds())), pr.file)
	r := <-done
	pr.workload = fmt.Sprintf("%s at concurrency %d: %.0f requests/s, p50 %s, bridge CPU %s per request", kind, conc, r.throughput(), fus(us(pct(r.lat, 50))), fus(us(r.cpu)/float64(max(r.ok, 1))))
	if pr.err != nil {
		return pr
	}
	pr.top, pr.own, pr.pkgs, pr.err = pprofTop(ctx, b.opts.root, pr.file)
	return pr
}

// parseProfileID splits "kind-Ntools".
func parseProfileID(id string) (kind string, tools int) {
	i := strings.LastIndexByte(id, '-')
	if i < 0 {
		return id, 0
	}
	tools, _ = strconv.Atoi(strings.TrimSuffix(id[i+1:], "tools"))
	return id[:i], tools
}

func fetch(ctx context.Context, url, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetching %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching %s: status %d", url, resp.StatusCode)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// memstats returns the runtime's memory figures of the profiled process.
func (b *bench) memstats(ctx context.Context, pprofURL string) string {
	var out []string
	get := func(url string) string {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return string(data)
	}
	want := map[string]bool{"HeapInuse": true, "HeapAlloc": true, "Stack": true, "Sys": true, "HeapSys": true, "NumGC": true}
	sc := bufio.NewScanner(strings.NewReader(get(pprofURL + "/debug/pprof/heap?debug=1")))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		l := strings.TrimPrefix(sc.Text(), "# ")
		name, v, ok := strings.Cut(l, " = ")
		if !ok || !want[name] {
			continue
		}
		if n, err := strconv.ParseInt(strings.Fields(v)[0], 10, 64); err == nil && name != "NumGC" {
			v = fmb(n) // Stack is "inuse / sys": keep the first
		}
		if name == "Stack" {
			name = "StackInuse"
		}
		out = append(out, name+" "+v)
	}
	return strings.Join(out, ", ")
}

// goroutines returns the goroutine count of the profiled process and the
// counts by the function each goroutine was started with (the last frame
// of its stack outside the runtime).
func goroutines(ctx context.Context, pprofURL string) (int, string) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, pprofURL+"/debug/pprof/goroutine?debug=1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	total := 0
	by := map[string]int{}
	n, entry := 0, ""
	flush := func() {
		if entry != "" {
			by[entry] += n
		}
		entry = ""
	}
	for _, l := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(l, "goroutine profile: total "):
			total, _ = strconv.Atoi(strings.TrimPrefix(l, "goroutine profile: total "))
		case strings.Contains(l, " @ 0x"):
			flush()
			n, _ = strconv.Atoi(strings.Fields(l)[0])
		case strings.HasPrefix(l, "#\t0x"):
			f := strings.Fields(l)
			if len(f) < 3 {
				continue
			}
			fn := f[2]
			if i := strings.LastIndexByte(fn, '+'); i > 0 {
				fn = fn[:i]
			}
			if packageOf(fn) != "runtime" {
				entry = fn
			}
		}
	}
	flush()
	type kv struct {
		k string
		v int
	}
	var all []kv
	for k, v := range by {
		all = append(all, kv{k, v})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v > all[j].v || all[i].v == all[j].v && all[i].k < all[j].k })
	var lines []string
	for _, e := range all[:min(len(all), 12)] {
		lines = append(lines, fmt.Sprintf("%6d  %s", e.v, e.k))
	}
	return total, strings.Join(lines, "\n")
}

// pprofTop runs go tool pprof on file and returns its flat top 15, the
// module's own functions by cumulative share, and the flat share summed
// by package.
func pprofTop(ctx context.Context, root, file string, extra ...string) (top, own, pkgs string, err error) {
	run := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "go", append(append([]string{"tool", "pprof"}, extra...), append(args, file)...)...)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("go tool pprof: %w\n%s", err, out)
		}
		return string(out), nil
	}
	flat, err := run("-top", "-nodecount=100000")
	if err != nil {
		return "", "", "", err
	}
	cum, err := run("-top", "-cum", "-nodecount=100000")
	if err != nil {
		return "", "", "", err
	}
	header, rows := splitTop(flat)
	top = header + strings.Join(rows[:min(len(rows), 16)], "\n")
	_, cumRows := splitTop(cum)
	var mine []string
	for _, l := range cumRows {
		if strings.Contains(l, "mcp-bridge/mcp-bridge/") {
			mine = append(mine, l)
		}
	}
	if len(cumRows) > 0 {
		mine = append([]string{cumRows[0]}, mine...) // the column header
	}
	own = strings.Join(mine[:min(len(mine), 21)], "\n")
	pkgs = breakdown(cumRows)
	return top, own, pkgs, nil
}

// splitTop splits pprof -top output into its header (the lines up to the
// column titles) and its rows, the column titles first.
func splitTop(out string) (string, []string) {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	for i, l := range lines {
		if strings.Contains(l, "flat%") && strings.Contains(l, "cum%") {
			var head []string
			for _, h := range lines[:i] {
				if strings.HasPrefix(h, "Duration") || strings.HasPrefix(h, "Type") || strings.HasPrefix(h, "Showing nodes") {
					head = append(head, h)
				}
			}
			return strings.Join(head, "\n") + "\n", lines[i:]
		}
	}
	return out, nil
}

// breakdownNodes are the functions whose cumulative share says where a
// bridge process spends its time. Shares overlap: a function's share
// includes everything it calls.
var breakdownNodes = []struct{ label, fn string }{
	{"HTTP server connections (client side of the bridge, whole)", "net/http.(*conn).serve"},
	{"  chat handler (bridge.(*Server).chat)", "github.com/mcp-bridge/mcp-bridge/bridge.(*Server).chat"},
	{"    request parsing (bridge.parseChatRequest)", "github.com/mcp-bridge/mcp-bridge/bridge.parseChatRequest"},
	{"    upstream body encoding (bridge.(*run).upstreamBody)", "github.com/mcp-bridge/mcp-bridge/bridge.(*run).upstreamBody"},
	{"    upstream call until headers (llm.(*Client).ChatCompletions)", "github.com/mcp-bridge/mcp-bridge/llm.(*Client).ChatCompletions"},
	{"    reading the upstream stream (bridge.(*run).readStream)", "github.com/mcp-bridge/mcp-bridge/bridge.(*run).readStream"},
	{"    stream reader goroutine (bridge.(*run).readStream.func1)", "github.com/mcp-bridge/mcp-bridge/bridge.(*run).readStream.func1"},
	{"    chunk parsing (llm.ParseChunk)", "github.com/mcp-bridge/mcp-bridge/llm.ParseChunk"},
	{"    chunk writing (bridge.(*sseWriter).chunk)", "github.com/mcp-bridge/mcp-bridge/bridge.(*sseWriter).chunk"},
	{"    flushing to the client (http.(*ResponseController).Flush)", "net/http.(*ResponseController).Flush"},
	{"    non-streaming answer (bridge.(*run).readCompletion)", "github.com/mcp-bridge/mcp-bridge/bridge.(*run).readCompletion"},
	{"    non-streaming answer encoding (bridge.(*collector).completion)", "github.com/mcp-bridge/mcp-bridge/bridge.(*collector).completion"},
	{"    tool execution (bridge.(*run).execute)", "github.com/mcp-bridge/mcp-bridge/bridge.(*run).execute"},
	{"    tool calls (mcpclient.(*Registry).Call)", "github.com/mcp-bridge/mcp-bridge/mcpclient.(*Registry).Call"},
	{"upstream connection reader (http.(*persistConn).readLoop)", "net/http.(*persistConn).readLoop"},
	{"upstream connection writer (http.(*persistConn).writeLoop)", "net/http.(*persistConn).writeLoop"},
	{"MCP session (jsonrpc2 connection, go-sdk)", "github.com/modelcontextprotocol/go-sdk/internal/jsonrpc2.(*Connection).readIncoming"},
	{"encoding/json.Marshal", "encoding/json.Marshal"},
	{"encoding/json.Unmarshal", "encoding/json.Unmarshal"},
	{"memory allocation (runtime.mallocgc)", "runtime.mallocgc"},
	{"garbage collection, background (runtime.gcBgMarkWorker)", "runtime.gcBgMarkWorker"},
	{"system calls (Syscall6)", "internal/runtime/syscall/linux.Syscall6"},
	{"scheduler (runtime.schedule)", "runtime.schedule"},
	{"timers and netpoll wake-ups (runtime.findRunnable)", "runtime.findRunnable"},
}

// breakdown picks the breakdown nodes' cumulative shares out of pprof
// -top -cum rows.
func breakdown(rows []string) string {
	cum := map[string]string{}
	for _, l := range rows[min(1, len(rows)):] {
		f := strings.Fields(l)
		if len(f) < 6 {
			continue
		}
		cum[f[5]] = f[4]
	}
	var out []string
	for _, n := range breakdownNodes {
		if v, ok := cum[n.fn]; ok {
			out = append(out, fmt.Sprintf("%7s  %s", v, n.label))
		}
	}
	return strings.Join(out, "\n")
}

// packageOf returns the import path of a symbol such as
// "github.com/x/y/pkg.(*T).M.func1" or "runtime.mallocgc".
func packageOf(sym string) string {
	slash := strings.LastIndexByte(sym, '/')
	dot := strings.IndexByte(sym[slash+1:], '.')
	if dot < 0 {
		return sym
	}
	return sym[:slash+1+dot]
}

func (r *report) profilesSection(b *strings.Builder) {
	if len(r.profiles) == 0 {
		if len(r.missed()) == 0 {
			b.WriteString("## Profiles\n\nEvery target was met; nothing was profiled (`-profile=all` profiles anyway).\n\n")
		}
		return
	}
	b.WriteString("## Profiles\n\n")
	b.WriteString("The bridge binary does not serve pprof, so each workload behind a missed target is run again against this program in `-serve-bridge` mode: ")
	b.WriteString("the same packages (`llm`, `mcpclient`, `bridge`) wired as `cmd/mcp-bridge` wires them, in a process of its own, with `net/http/pprof` on a separate port. ")
	b.WriteString("The profiles show only the bridge's process.\n\n")
	for _, p := range r.profiles {
		fmt.Fprintf(b, "### %s\n\nExplains: %s.\n\nWorkload: %s.\n\n", p.title, strings.Join(p.targets, "; "), p.workload)
		if p.err != nil {
			fmt.Fprintf(b, "Profiling failed: %s\n\n", shorten(p.err.Error(), 500))
			continue
		}
		if p.memstats != "" {
			fmt.Fprintf(b, "Runtime memory while the streams were open: %s.\n\n", p.memstats)
			fmt.Fprintf(b, "%d goroutines, by the function they were started with:\n\n```\n%s\n```\n\n", p.goroutines, p.stacks)
		} else {
			fmt.Fprintf(b, "Where the samples fall (cumulative share of the node and everything it calls; nested lines are part of the line above):\n\n```\n%s\n```\n\n", p.pkgs)
		}
		fmt.Fprintf(b, "Top functions (flat):\n\n```\n%s\n```\n\n", p.top)
		fmt.Fprintf(b, "The module's own functions (cumulative):\n\n```\n%s\n```\n\n", p.own)
	}
}
