package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The mock upstream answers POST /v1/chat/completions from a script named
// by the request's model, so that the same request behaves the same sent
// directly, through the proxy or through the bridge (which forwards the
// model byte for byte):
//
//	bench                       a chat.completion (or, with "stream":true, one content chunk)
//	bench-stream-N              N content chunks, streamed
//	bench-tool                  a streamed call of bench__echo; once the
//	                            conversation holds a tool message, a streamed
//	                            answer of toolAnswerChunks chunks
//	bench-hold-INTERVAL-HOLD    a chunk every INTERVAL ms for HOLD ms; each
//	                            chunk's content is its send time in Unix ns
//
// Every stream ends with a finish chunk, a usage chunk and [DONE], and is
// flushed after every event, as LLM servers do.

// toolAnswerChunks is the length of the answer after the tool round.
const toolAnswerChunks = 5

// upstreamOptions configures the mock upstream.
type upstreamOptions struct {
	// Latency is waited before the answer's first byte.
	Latency time.Duration
	// ChunkDelay is waited between the chunks of scripted streams (not
	// hold streams, which have their own interval).
	ChunkDelay time.Duration
}

// upstream is the mock upstream server.
type upstream struct {
	opts upstreamOptions
	srv  *http.Server
	ln   net.Listener
	// URL is the API base URL, ending in /v1.
	URL string

	mu      sync.Mutex
	streams map[int][][]byte // pre-encoded events of bench-stream-N

	// lastBody is the size of the last request body (the catalogue
	// scenario runs one request at a time).
	lastBody atomic.Int64
	// agentCalls counts bench-agent requests, agentResults those that
	// carried the echo tool's real result (cost.go).
	agentCalls, agentResults atomic.Int64
}

// startUpstream starts the mock upstream on a free loopback port.
func startUpstream(opts upstreamOptions) (*upstream, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the mock upstream: %w", err)
	}
	u := &upstream{opts: opts, ln: ln, URL: "http://" + ln.Addr().String() + "/v1", streams: map[int][][]byte{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", u.chat)
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"object":"list","data":[{"id":"bench","object":"model","created":1700000000,"owned_by":"bench"}]}`)
	})
	u.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = u.srv.Serve(ln) }()
	return u, nil
}

// Close stops the server and ends every open stream.
func (u *upstream) Close() error { return u.srv.Close() }

var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (u *upstream) chat(w http.ResponseWriter, r *http.Request) {
	buf := bodyPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bodyPool.Put(buf)
	if _, err := buf.ReadFrom(r.Body); err != nil {
		return
	}
	body := buf.Bytes()
	u.lastBody.Store(int64(len(body)))
	model := modelOf(body)
	stream := bytes.Contains(body, []byte(`"stream":true`))
	if u.opts.Latency > 0 {
		if !sleepCtx(r.Context(), u.opts.Latency) {
			return
		}
	}
	switch {
	case model == "bench" && !stream:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(plainCompletion)))
		_, _ = w.Write(plainCompletion)
	case model == "bench":
		u.writeStream(w, r, u.streamEvents(1))
	case strings.HasPrefix(model, "bench-stream-"):
		n, err := strconv.Atoi(strings.TrimPrefix(model, "bench-stream-"))
		if err != nil || n < 1 || n > 100000 {
			http.Error(w, `{"error":{"message":"bad chunk count"}}`, http.StatusBadRequest)
			return
		}
		u.writeStream(w, r, u.streamEvents(n))
	case model == "bench-tool":
		if bytes.Contains(body, []byte(`"role":"tool"`)) {
			u.writeStream(w, r, u.streamEvents(toolAnswerChunks))
		} else {
			u.writeStream(w, r, toolCallEvents)
		}
	case model == agentModel:
		u.agent(w, r, body, stream)
	case model == searchModel:
		u.search(w, body)
	case strings.HasPrefix(model, "bench-hold-"):
		interval, hold, ok := parseHold(model)
		if !ok {
			http.Error(w, `{"error":{"message":"bad hold model"}}`, http.StatusBadRequest)
			return
		}
		u.hold(w, r, interval, hold)
	default:
		http.Error(w, `{"error":{"message":"unknown model"}}`, http.StatusNotFound)
	}
}

// modelOf returns the string value of the first "model" member of a
// compact JSON body, without decoding the rest: a body with a thousand
// tool definitions must not make the mock slow.
func modelOf(body []byte) string {
	const key = `"model":"`
	i := bytes.Index(body, []byte(key))
	if i < 0 {
		return ""
	}
	rest := body[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

// parseHold parses "bench-hold-INTERVAL-HOLD" (milliseconds).
func parseHold(model string) (interval, hold time.Duration, ok bool) {
	a, b, found := strings.Cut(strings.TrimPrefix(model, "bench-hold-"), "-")
	if !found {
		return 0, 0, false
	}
	i, err1 := strconv.Atoi(a)
	h, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || i <= 0 || h < 0 {
		return 0, 0, false
	}
	return time.Duration(i) * time.Millisecond, time.Duration(h) * time.Millisecond, true
}

func holdModel(interval, hold time.Duration) string {
	return fmt.Sprintf("bench-hold-%d-%d", interval.Milliseconds(), hold.Milliseconds())
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

var plainCompletion = []byte(`{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench","choices":[{"index":0,"message":{"role":"assistant","content":"The file holds three lines of notes."},"finish_reason":"stop"}],"usage":{"prompt_tokens":20,"completion_tokens":8,"total_tokens":28}}`)

const chunkHead = `data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"bench","choices":[{"index":0,"delta":`

// contentEvent is one content chunk; the first of an answer carries the
// role, as upstreams send it.
func contentEvent(text string, first bool) []byte {
	role := ""
	if first {
		role = `"role":"assistant",`
	}
	return []byte(chunkHead + `{` + role + `"content":` + strconv.Quote(text) + `},"finish_reason":null}]}` + "\n\n")
}

func finishEvent(reason string) []byte {
	return []byte(chunkHead + `{},"finish_reason":"` + reason + `"}]}` + "\n\n")
}

var (
	usageEvent = []byte(`data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"bench","choices":[],"usage":{"prompt_tokens":20,"completion_tokens":8,"total_tokens":28}}` + "\n\n")
	doneEvent  = []byte("data: [DONE]\n\n")
)

// toolCallEvents is a streamed call of bench__echo, its arguments split over
// two chunks.
var toolCallEvents = [][]byte{
	[]byte(chunkHead + `{"role":"assistant","tool_calls":[{"index":0,"id":"call_bench1","type":"function","function":{"name":"` + echoToolName + `","arguments":""}}]},"finish_reason":null}]}` + "\n\n"),
	[]byte(chunkHead + `{"tool_calls":[{"index":0,"function":{"arguments":"{\"text\":"}}]},"finish_reason":null}]}` + "\n\n"),
	[]byte(chunkHead + `{"tool_calls":[{"index":0,"function":{"arguments":"\"hello\"}"}}]},"finish_reason":null}]}` + "\n\n"),
	finishEvent("tool_calls"),
	usageEvent,
	doneEvent,
}

// streamEvents returns the events of an answer of n content chunks, built
// once per n.
func (u *upstream) streamEvents(n int) [][]byte {
	u.mu.Lock()
	defer u.mu.Unlock()
	if ev, ok := u.streams[n]; ok {
		return ev
	}
	words := []string{" the", " quick", " brown", " fox", " jumps", " over", " a", " lazy", " dog."}
	ev := make([][]byte, 0, n+3)
	for i := range n {
		ev = append(ev, contentEvent(words[i%len(words)], i == 0))
	}
	ev = append(ev, finishEvent("stop"), usageEvent, doneEvent)
	u.streams[n] = ev
	return ev
}

func startSSE(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
}

// writeStream writes events, flushing after each. The headers go out with
// the first event.
func (u *upstream) writeStream(w http.ResponseWriter, r *http.Request, events [][]byte) {
	startSSE(w)
	rc := http.NewResponseController(w)
	for i, ev := range events {
		if i > 0 && u.opts.ChunkDelay > 0 && !sleepCtx(r.Context(), u.opts.ChunkDelay) {
			return
		}
		if _, err := w.Write(ev); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// hold streams a chunk every interval until hold has passed; each chunk's
// content is the decimal Unix time in nanoseconds at which it was sent.
func (u *upstream) hold(w http.ResponseWriter, r *http.Request, interval, hold time.Duration) {
	startSSE(w)
	rc := http.NewResponseController(w)
	end := time.Now().Add(hold)
	t := time.NewTicker(interval)
	defer t.Stop()
	send := func(ev []byte) bool {
		if _, err := w.Write(ev); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	first := true
	for {
		now := time.Now()
		if !send(contentEvent(strconv.FormatInt(now.UnixNano(), 10), first)) {
			return
		}
		first = false
		if !now.Before(end) {
			break
		}
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
	}
	for _, ev := range [][]byte{finishEvent("stop"), usageEvent, doneEvent} {
		if !send(ev) {
			return
		}
	}
}
