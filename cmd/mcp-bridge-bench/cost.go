package main

// What a request costs: the tool catalogue injected into every request,
// all against search (tools.exposure), how well search_tools finds the
// right tool among real ones, and the CPU of the agent round (two
// upstream calls and one tool call) against a bare reverse proxy.

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The mock upstream's models of these scenarios.
const (
	// agentModel calls the echo tool, then answers once it sees the
	// tool's result, streaming or not as asked.
	agentModel = "bench-agent"
	// searchModel calls search_tools with the user's message as the
	// query, then answers with what the search returned.
	searchModel = "bench-search"
)

// agent answers a bench-agent round: a call of the echo tool, or, when the
// body carries a tool message, the final answer, counting the tool results
// that hold the echo's real output.
func (u *upstream) agent(w http.ResponseWriter, r *http.Request, body []byte, stream bool) {
	u.agentCalls.Add(1)
	if bytes.Contains(body, []byte(`"role":"tool"`)) {
		if bytes.Contains(body, []byte(`"content":"`+agentEcho+`"`)) {
			u.agentResults.Add(1)
		}
		if stream {
			u.writeStream(w, r, u.streamEvents(toolAnswerChunks))
			return
		}
		writeJSON(w, plainCompletion)
		return
	}
	if stream {
		u.writeStream(w, r, toolCallEvents)
		return
	}
	writeJSON(w, toolCallCompletion)
}

// agentEcho is what the echo tool is asked to return (see toolCallEvents).
const agentEcho = "hello"

var toolCallCompletion = []byte(`{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_bench1","type":"function","function":{"name":"` + echoToolName + `","arguments":"{\"text\":\"` + agentEcho + `\"}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":20,"completion_tokens":8,"total_tokens":28}}`)

func writeJSON(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

// search answers a bench-search round (never streamed): round 1 calls
// search_tools with the last user message as the query and a limit of
// 10; round 2 answers with the search's result as the content.
func (u *upstream) search(w http.ResponseWriter, body []byte) {
	var req struct {
		Messages []struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(body, &req); err != nil || len(req.Messages) == 0 {
		http.Error(w, `{"error":{"message":"bad body"}}`, http.StatusBadRequest)
		return
	}
	last := req.Messages[len(req.Messages)-1]
	var msg map[string]any
	if last.Role == "tool" {
		msg = map[string]any{"role": "assistant", "content": last.Content}
	} else {
		args, _ := json.Marshal(map[string]any{"query": last.Content, "limit": 10})
		msg = map[string]any{"role": "assistant", "content": nil, "tool_calls": []any{map[string]any{
			"id": "call_search", "type": "function", "function": map[string]any{"name": "search_tools", "arguments": string(args)}}}}
	}
	b, _ := json.Marshal(map[string]any{"id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000, "model": searchModel,
		"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": "stop"}}})
	writeJSON(w, b)
}

// costResult is what the three scenarios measured, for the report.
type costResult struct {
	catalogue []catalogueRow
	retrieval *retrievalResult
	agent     []agentRow
	profiles  []profileResult
	notes     []string
}

type catalogueRow struct {
	tools, bytesAll, bytesSearch int
	addedAll, addedSearch        float64 // µs, median over runs
	cpuAll, cpuSearch            float64 // µs per request
}

type retrievalResult struct {
	tools, queries int
	recall1        float64
	recall5        float64
	mrr            float64
	misses         []string
}

type agentRow struct {
	stream                 bool
	proxyCPU, bridgeCPU    float64 // µs per request, medians
	ratio                  float64 // median of the runs' ratios
	ratioMin, ratioMax     float64
	upstreamPerReq, toolOK float64 // upstream calls and real tool results per request
	bridgeRPS, proxyRPS    float64
}

// startBridgeWith starts the bridge binary with a configuration of its own
// and waits until wantTools tools are served.
func (e *env) startBridgeWith(name, cfg string, addr string, wantTools int, timeout time.Duration) (*process, error) {
	path := filepath.Join(e.dir, strings.ReplaceAll(name, " ", "-")+"-"+strings.ReplaceAll(addr, ":", "_")+".yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	p, err := startProcess(name, addr, e.bridgeBin, "-c", path, "serve")
	if err != nil {
		return nil, err
	}
	err = p.waitHTTP("http://"+addr+"/readyz", timeout, func(status int, body []byte) bool {
		var r struct {
			Tools int `json:"tools"`
		}
		return status == http.StatusOK && json.Unmarshal(body, &r) == nil && r.Tools >= wantTools
	})
	if err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// withExposure is a bench bridge configuration (bridgeConfig's, which
// injects all tools) with tools.exposure set.
func withExposure(cfg, exposure string) string {
	return strings.Replace(cfg, "  exposure: all\n", "  exposure: "+exposure+"\n", 1)
}

// cost runs the three scenarios.
func (b *bench) cost(ctx context.Context) (*costResult, error) {
	res := &costResult{}
	if err := b.catalogue(ctx, res); err != nil {
		return nil, err
	}
	if ctx.Err() == nil {
		if err := b.retrieval(ctx, res); err != nil {
			b.log.Printf("retrieval: %v", err)
			res.notes = append(res.notes, "The retrieval table did not run: "+err.Error())
		}
	}
	if ctx.Err() == nil {
		if err := b.agentRound(ctx, res); err != nil {
			return nil, err
		}
	}
	if ctx.Err() == nil {
		b.profileAgent(ctx, res)
	}
	return res, ctx.Err()
}

// profileAgent profiles the agent rounds whose CPU is more than twice the
// proxy's (every one with -profile=all, none with -profile=none).
func (b *bench) profileAgent(ctx context.Context, res *costResult) {
	dir := b.opts.profileDir
	if dir == "" {
		dir = filepath.Join(b.env.dir, "profiles")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		res.notes = append(res.notes, "Profiling failed: "+err.Error())
		return
	}
	for _, r := range res.agent {
		if b.opts.profile == "none" || (b.opts.profile == "missed" && r.ratio <= 2) {
			continue
		}
		kind := profAgentJSON
		if r.stream {
			kind = profAgentStream
		}
		b.log.Printf("profiling %s", kind)
		pr := b.profile(ctx, profileID(kind, b.opts.streamTools), dir)
		if pr.err != nil {
			b.log.Printf("  %v", pr.err)
		}
		res.profiles = append(res.profiles, pr)
	}
}

// catalogue measures, for each tool count, one plain request through a
// bridge exposing all tools and through one exposing search_tools: the
// bytes the upstream receives beyond the client's body, and the latency
// added to the upstream's (concurrency 1).
func (b *bench) catalogue(ctx context.Context, res *costResult) error {
	direct := newTarget("direct", b.env.upstream.URL, 0)
	defer direct.close()
	rq := &request{body: []byte(plainBody)}
	for _, n := range b.opts.catalogueTools {
		row := catalogueRow{tools: n}
		for _, mode := range []string{"all", "search"} {
			addr, err := freePort()
			if err != nil {
				return err
			}
			p, err := b.env.startBridgeWith(fmt.Sprintf("bridge %d tools %s", n, mode), withExposure(b.env.bridgeConfig(addr, n), mode), addr, n, 120*time.Second)
			if err != nil {
				return err
			}
			t := newTarget(fmt.Sprintf("bridge-%d-%s", n, mode), p.URL, p.Pid())
			var added, cpu []float64
			size := 0
			for run := range b.opts.runs {
				b.log.Printf("catalogue, %d tools, %s, run %d/%d", n, mode, run+1, b.opts.runs)
				s := series{}
				for _, tg := range rotate([]*target{direct, t}, run) {
					b.measure(ctx, s, tg.name, tg, rq, 1)
					if tg == t {
						size = int(b.env.upstream.lastBody.Load()) - len(plainBody)
					}
				}
				added = append(added, s[key(t.name, "lat")][0]-s[key("direct", "lat")][0])
				if v := s[key(t.name, "cpu_req")]; len(v) > 0 {
					cpu = append(cpu, v[0])
				}
			}
			t.close()
			p.stop()
			if mode == "all" {
				row.bytesAll, row.addedAll, row.cpuAll = size, median(added), median(cpu)
			} else {
				row.bytesSearch, row.addedSearch, row.cpuSearch = size, median(added), median(cpu)
			}
		}
		res.catalogue = append(res.catalogue, row)
	}
	return nil
}

//go:embed testdata/queries.tsv
var queriesTSV string

// costFindings is what the changes to the agent round bought and where its
// CPU goes, written from the profiles of scenario 9.
//
//go:embed cost_findings.md
var costFindings string

// labelledQuery is a question for search_tools and the tool that answers it.
type labelledQuery struct{ query, want string }

func parseQueries(tsv string) ([]labelledQuery, error) {
	var out []labelledQuery
	sc := bufio.NewScanner(strings.NewReader(tsv))
	for line := 1; sc.Scan(); line++ {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		q, want, ok := strings.Cut(l, "\t")
		if !ok || strings.TrimSpace(q) == "" || strings.TrimSpace(want) == "" {
			return nil, fmt.Errorf("queries.tsv line %d: want QUERY<tab>TOOL", line)
		}
		out = append(out, labelledQuery{strings.TrimSpace(q), strings.TrimSpace(want)})
	}
	return out, nil
}

// retrievalConfig is a bridge serving the real npm servers' tools and
// GitHub's REST API from @octokit/openapi, all through search_tools.
func (b *bench) retrievalConfig(addr string) (string, error) {
	nm := filepath.Join(b.opts.root, "e2e", "node_modules")
	fs := filepath.Join(nm, "@modelcontextprotocol/server-filesystem/dist/index.js")
	ev := filepath.Join(nm, "@modelcontextprotocol/server-everything/dist/index.js")
	spec := filepath.Join(nm, "@octokit/openapi/generated/api.github.com.json")
	for _, f := range []string{fs, ev, spec} {
		if _, err := os.Stat(f); err != nil {
			return "", fmt.Errorf("%s is missing: run npm ci --prefix e2e", f)
		}
	}
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	return fmt.Sprintf(`listen: %s
upstream:
  base_url: %s
tools:
  exposure: search
log:
  level: error
mcpServers:
  fs:
    command: node
    args: [%s, %s]
  everything:
    command: node
    args: [%s, "stdio"]
openapiServers:
  github:
    spec: %s
`, addr, b.env.upstream.URL, q(fs), q(b.env.dir), q(ev), q(spec)), nil
}

// retrieval asks search_tools each labelled query through the bridge's
// chat path and scores where the labelled tool ranks.
func (b *bench) retrieval(ctx context.Context, res *costResult) error {
	queries, err := parseQueries(queriesTSV)
	if err != nil {
		return err
	}
	addr, err := freePort()
	if err != nil {
		return err
	}
	cfg, err := b.retrievalConfig(addr)
	if err != nil {
		return err
	}
	b.log.Printf("retrieval: %d labelled queries", len(queries))
	p, err := b.env.startBridgeWith("bridge (retrieval)", cfg, addr, 1000, 180*time.Second)
	if err != nil {
		return err
	}
	defer p.stop()
	var ready struct {
		Tools int `json:"tools"`
	}
	if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
		_ = json.NewDecoder(resp.Body).Decode(&ready)
		resp.Body.Close()
	}
	r := &retrievalResult{tools: ready.Tools, queries: len(queries)}
	hc := &http.Client{Timeout: 30 * time.Second}
	for _, lq := range queries {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		found, err := askSearch(ctx, hc, p.URL, lq.query)
		if err != nil {
			return fmt.Errorf("query %q: %w", lq.query, err)
		}
		rank := slices.Index(found, lq.want)
		switch {
		case rank == 0:
			r.recall1++
			fallthrough
		case rank >= 0 && rank < 5:
			r.recall5++
		}
		if rank >= 0 {
			r.mrr += 1 / float64(rank+1)
		}
		if rank < 0 || rank >= 5 {
			top := found[:min(3, len(found))]
			r.misses = append(r.misses, fmt.Sprintf("%q → %s (rank %s; first: %s)", lq.query, lq.want, rankText(rank), strings.Join(top, ", ")))
		}
	}
	n := float64(len(queries))
	r.recall1, r.recall5, r.mrr = r.recall1/n, r.recall5/n, r.mrr/n
	res.retrieval = r
	b.log.Printf("retrieval: recall@5 %.3f, MRR %.3f over %d tools", r.recall5, r.mrr, r.tools)
	return nil
}

func rankText(rank int) string {
	if rank < 0 {
		return "not in the top 10"
	}
	return strconv.Itoa(rank + 1)
}

// askSearch sends one chat request whose scripted model searches query
// and answers with the result, and returns the names found, best first.
func askSearch(ctx context.Context, hc *http.Client, base, query string) ([]string, error) {
	body, _ := json.Marshal(map[string]any{"model": searchModel, "messages": []any{map[string]any{"role": "user", "content": query}}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/chat/completions", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var c struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil || len(c.Choices) == 0 {
		return nil, fmt.Errorf("status %d, answer not a completion: %v", resp.StatusCode, err)
	}
	var found struct {
		Tools []struct {
			Name string `json:"name"`
		} `json:"tools"`
	}
	content := c.Choices[0].Message.Content
	if strings.HasPrefix(content, "No tool matches") {
		return nil, nil
	}
	if err := json.Unmarshal([]byte(content), &found); err != nil {
		return nil, fmt.Errorf("search_tools answered %.200q", content)
	}
	names := make([]string, len(found.Tools))
	for i, t := range found.Tools {
		names[i] = t.Name
	}
	return names, nil
}

// agentRequest is a request whose model calls the echo tool once, then
// answers.
func agentRequest(stream bool) *request {
	body := `{"model":"` + agentModel + `","messages":[{"role":"user","content":"Say hello through the echo tool."}]}`
	if !stream {
		return &request{body: []byte(body)}
	}
	return &request{body: []byte(strings.Replace(body, `]}`, `],"stream":true}`, 1)), stream: true, chunks: toolAnswerChunks}
}

// agentRound measures one agent round, non-streaming then streaming, at
// opts.agentConc clients: the bridge answering a request whose model calls
// the stdio echo tool once and then answers, against the bare proxy
// forwarding one request of the same kind (the same final answer). CPU
// per request of each process, as a ratio within each run. The upstream
// counts its calls and the tool results it received, so that the figures
// are known to include two upstream calls and a real tool call each.
func (b *bench) agentRound(ctx context.Context, res *costResult) error {
	addr, err := freePort()
	if err != nil {
		return err
	}
	bp, err := b.env.startBridgeWith("bridge (agent)", b.env.bridgeConfig(addr, b.opts.streamTools), addr, b.opts.streamTools, 60*time.Second)
	if err != nil {
		return err
	}
	defer bp.stop()
	pp, err := b.env.startProxy()
	if err != nil {
		return err
	}
	defer pp.stop()
	bridge, proxy := newTarget("bridge", bp.URL, bp.Pid()), newTarget("proxy", pp.URL, pp.Pid())
	defer bridge.close()
	defer proxy.close()
	c := b.opts.agentConc
	for _, stream := range []bool{false, true} {
		mode := "json"
		viaBridge, viaProxy := agentRequest(false), &request{body: []byte(plainBody)}
		if stream {
			mode = "stream"
			viaBridge = agentRequest(true)
			viaProxy = &request{body: []byte(streamBody(toolAnswerChunks)), stream: true, chunks: toolAnswerChunks}
		}
		row := agentRow{stream: stream, ratioMin: -1}
		var ratios, bcpu, pcpu, brps, prps, perReq, toolOK []float64
		for run := range b.opts.runs {
			b.log.Printf("agent round (%s), run %d/%d, concurrency %d", mode, run+1, b.opts.runs, c)
			s := series{}
			for _, t := range rotate([]*target{proxy, bridge}, run) {
				rq := viaProxy
				if t == bridge {
					rq = viaBridge
					_ = closedLoop(ctx, t, rq, c, b.opts.warm)
					b.env.upstream.agentCalls.Store(0)
					b.env.upstream.agentResults.Store(0)
					r := runLoad(ctx, t, rq, c, b.opts.duration, 0)
					b.rep.addErrors("agent/"+mode, r.errs, r.firstErr)
					if sent := r.ok + r.errs; sent > 0 {
						perReq = append(perReq, float64(b.env.upstream.agentCalls.Load())/float64(sent))
						toolOK = append(toolOK, float64(b.env.upstream.agentResults.Load())/float64(sent))
					}
					if r.ok > 0 {
						s.add("bridge/cpu_req", us(r.cpu)/float64(r.ok))
						s.add("bridge/rps", r.throughput())
					}
					b.log.Printf("  %-28s c=%-3d %8d ok %4d err  cpu %v", "bridge (agent "+mode+")", c, r.ok, r.errs, r.cpu)
					continue
				}
				b.measure(ctx, s, key("agent", mode, t.name), t, rq, c)
				if v := s[key("agent", mode, t.name, "cpu_req")]; len(v) > 0 {
					s.add("proxy/cpu_req", v[0])
					s.add("proxy/rps", s[key("agent", mode, t.name, "rps")][0])
				}
			}
			if len(s["bridge/cpu_req"]) > 0 && len(s["proxy/cpu_req"]) > 0 {
				bc, pc := s["bridge/cpu_req"][0], s["proxy/cpu_req"][0]
				ratios, bcpu, pcpu = append(ratios, bc/pc), append(bcpu, bc), append(pcpu, pc)
				brps, prps = append(brps, s["bridge/rps"][0]), append(prps, s["proxy/rps"][0])
			}
		}
		if len(ratios) > 0 {
			row.ratio, row.bridgeCPU, row.proxyCPU = median(ratios), median(bcpu), median(pcpu)
			row.ratioMin, row.ratioMax = slices.Min(ratios), slices.Max(ratios)
			row.bridgeRPS, row.proxyRPS = median(brps), median(prps)
		}
		row.upstreamPerReq, row.toolOK = median(perReq), median(toolOK)
		res.agent = append(res.agent, row)
	}
	return nil
}

// markdown is the report's sections of these scenarios.
func (res *costResult) markdown(o *options, m machine) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	when := fmt.Sprintf("%s, commit %s, %d cores (%s), load average %s before", m.date.Format("2006-01-02 15:04 MST"), m.commit, m.cpus, orUnknown(m.cpuModel), m.loadBefore)

	if busy(m.loadBefore, m.cpus) {
		p("**The machine was busy when these scenarios started** (load average %s on %d cores): absolute figures are pessimistic; ratios taken within one run are less affected.\n\n", m.loadBefore, m.cpus)
	}
	p("## 7. The catalogue: tools injected per request, all against search\n\n")
	p("%s. One plain request at concurrency 1 (no tool call), through a bridge with `tools.exposure: all` and one with `search`, %d runs of %s. ", when, o.runs, o.duration)
	p("*Injected* is what the upstream received beyond the client's own body; tokens are estimated as bytes ÷ 4. *Added* is the bridge's median latency minus the upstream's, measured directly in the same run. ")
	p("In search mode a request carries only `search_tools` (and the `always` tools); a question that needs a tool pays one more round, whose tools are the few found.\n\n")
	p("| Tools | injected, all | ≈ tokens, all | injected, search | ≈ tokens, search | added latency, all | added latency, search | bridge CPU per request, all | search |\n")
	p("|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range res.catalogue {
		p("| %d | %s | %d | %s | %d | %.0f µs | %.0f µs | %.0f µs | %.0f µs |\n", r.tools, size(r.bytesAll), r.bytesAll/4, size(r.bytesSearch), r.bytesSearch/4,
			r.addedAll, r.addedSearch, r.cpuAll, r.cpuSearch)
	}
	p("\n")

	p("## 8. Tool search: retrieval\n\n")
	if r := res.retrieval; r != nil {
		p("%s. %d labelled queries (`cmd/mcp-bridge-bench/testdata/queries.tsv`) asked through the chat path: a scripted model calls `search_tools` with the query (limit 10) and answers with the result. ", when, r.queries)
		p("The bridge serves %d real tools: `@modelcontextprotocol/server-filesystem`, `server-everything`, and GitHub's REST API from `@octokit/openapi` imported by `openapiServers`. ", r.tools)
		p("The ranking's constants (field weights, synonym weight, name bonus) were chosen on these same queries: there is no held-out set, so read these as an upper bound for other catalogues.\n\n")
		p("| Queries | Tools | recall@1 | recall@5 | MRR |\n|---|---|---|---|---|\n")
		p("| %d | %d | %.3f | %.3f | %.3f |\n\n", r.queries, r.tools, r.recall1, r.recall5, r.mrr)
		if len(r.misses) > 0 {
			p("Not in the top 5:\n\n")
			for _, m := range r.misses {
				p("- %s\n", m)
			}
			p("\n")
		}
	}
	p("## 9. The agent round against a bare proxy\n\n")
	p("%s. Concurrency %d, %d runs of %s. The bridge answers a request whose model calls `echo` of a stdio MCP server once, then answers (%d chunks when streamed); ", when, o.agentConc, o.runs, o.duration, toolAnswerChunks)
	p("the bare `httputil.ReverseProxy` forwards one request of the same kind with the same final answer. The mock upstream counts the calls it gets and the tool messages that carry the echo's real output: ")
	p("two upstream calls and one real tool result per request prove the tool ran in both modes. The ratio is the bridge's CPU per request over the proxy's, taken within each run.\n\n")
	p("| Mode | upstream calls per request | real tool results per request | bridge CPU per request | proxy CPU per request | ratio (range over runs) | bridge req/s | proxy req/s |\n")
	p("|---|---|---|---|---|---|---|---|\n")
	for _, r := range res.agent {
		mode := "non-streaming"
		if r.stream {
			mode = "streaming"
		}
		p("| %s | %.2f | %.2f | %.0f µs | %.0f µs | %.2f× (%.2f to %.2f) | %.0f | %.0f |\n", mode, r.upstreamPerReq, r.toolOK, r.bridgeCPU, r.proxyCPU, r.ratio, r.ratioMin, r.ratioMax, r.bridgeRPS, r.proxyRPS)
	}
	p("\n%s\n", costFindings)
	for _, pr := range res.profiles {
		p("### %s\n\nWorkload (this program in `-serve-bridge` mode: the same packages, with pprof): %s.\n\n", pr.title, pr.workload)
		if pr.err != nil {
			p("Profiling failed: %s\n\n", shorten(pr.err.Error(), 500))
			continue
		}
		p("Where the samples fall:\n\n```\n%s\n```\n\nThe module's own functions (cumulative):\n\n```\n%s\n```\n\n", pr.pkgs, pr.own)
	}
	for _, n := range res.notes {
		p("%s\n\n", n)
	}
	return b.String()
}

// size formats a byte count.
func size(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
