package bridge

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/mcp-bridge/mcp-bridge/bridge/observe"
	"github.com/mcp-bridge/mcp-bridge/llm"
	"github.com/mcp-bridge/mcp-bridge/llm/route"
)

// maxUpstreamBody bounds a non-streaming upstream answer.
const maxUpstreamBody = 64 << 20

// errBadUpstream is a stream the bridge cannot read: a line that is not
// JSON, an error event, or a body cut off.
type errBadUpstream struct{ msg string }

func (e *errBadUpstream) Error() string { return e.msg }

// round sends one upstream request and reads its answer, telling the
// observer of the round and of each upstream attempt's first byte.
func (r *run) round(ctx context.Context, n int) (res *roundResult, err error) {
	r.rounds = n
	rs := &observe.RoundStart{RequestID: r.reqID, Round: n, Model: r.req.model, Upstream: r.upstreamLabel()}
	ctx = r.s.obs.RoundStarted(ctx, rs)
	start := time.Now()
	defer func() {
		rs.Upstream = r.upstreamLabel() // the one that answered
		rec := &observe.RoundRecord{RoundStart: *rs, Duration: time.Since(start), Err: err}
		if res != nil {
			rec.ToolCalls = len(res.calls)
			if res.usage != nil {
				rec.PromptTokens, rec.CompletionTokens = res.usage.PromptTokens, res.usage.CompletionTokens
			}
		}
		r.s.obs.RoundFinished(ctx, rec)
	}()
	resp, err := r.send(ctx, n)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	defer func() { err = timedOutAt(r.pin.Name, err) }()
	// Read what the upstream sent, not what was asked for: some servers
	// stream when asked not to, or answer a streaming request with one
	// JSON object. Without a content type, the first byte tells.
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch mt {
	case "text/event-stream":
		return r.readStream(ctx, resp.Body)
	case "application/json":
		return r.readCompletion(resp.Body)
	}
	body := bufio.NewReader(resp.Body)
	if startsWithObject(body) {
		return r.readCompletion(body)
	}
	return r.readStream(ctx, body)
}

// send sends round n: to the built-in model, or through the router to
// the upstream that answered the earlier rounds first, failing over to the
// others before the first byte of an answer (see route.Router.Send).
func (r *run) send(ctx context.Context, n int) (*http.Response, error) {
	tried := func(label string, status int, d time.Duration) {
		if ctx.Err() == nil || status != 0 {
			r.s.obs.UpstreamRequest(ctx, &observe.UpstreamRecord{Upstream: label, Code: status, FirstByte: d})
		}
	}
	if r.s.builtin(r.req.model) {
		start := time.Now()
		resp, err := builtinModel{}.ChatCompletionsBuffers(ctx, r.upstreamBody(n, route.Attempt{}))
		tried("builtin", llm.StatusOf(resp, err), time.Since(start))
		return resp, err
	}
	resp, a, err := r.s.opts.Router.Send(ctx, route.Request{
		Model: r.req.model, Candidates: r.cands, Pin: r.pin.Name,
		Body: func(a route.Attempt) net.Buffers { return r.upstreamBody(n, a) },
		Tried: func(a route.Attempt, status int, d time.Duration, _ error) {
			tried(a.Label, status, d)
		},
	})
	if err != nil {
		return nil, timedOutAt(a.Name, err)
	}
	r.pin = a.Candidate
	return resp, nil
}

// startsWithObject reports whether the first byte of body after
// whitespace, which it skips, opens a JSON object.
func startsWithObject(body *bufio.Reader) bool {
	for {
		b, err := body.Peek(1)
		if err != nil {
			return false
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			_, _ = body.ReadByte()
		default:
			return b[0] == '{'
		}
	}
}

// readCompletion reads a whole chat.completion and emits its content.
func (r *run) readCompletion(body io.Reader) (*roundResult, error) {
	data, err := io.ReadAll(io.LimitReader(body, maxUpstreamBody))
	if err != nil {
		if ue := (*llm.Error)(nil); errors.As(err, &ue) {
			return nil, ue // a timeout, typed for the client's answer
		}
		return nil, &errBadUpstream{"reading upstream answer: " + err.Error()}
	}
	c, err := llm.ParseCompletion(data)
	if err != nil {
		return nil, &errBadUpstream{"upstream answer is not a chat completion: " + snippet(data)}
	}
	if len(c.Error) > 0 {
		return nil, &errBadUpstream{"upstream error: " + snippet(c.Error)}
	}
	r.out.setModel(c.Model)
	res := &roundResult{usage: c.Usage}
	if len(c.Choices) == 0 {
		return res, nil
	}
	m := c.Choices[0].Message
	res.finish = c.Choices[0].FinishReason
	if err := r.reasoning(m.ReasoningContent, m.Reasoning, m.Thinking); err != nil {
		return res, err
	}
	res.reasoning = m.ReasoningContent
	if m.Refusal != "" {
		if err := r.out.refusal(m.Refusal); err != nil {
			return res, err
		}
	}
	if m.Content != "" {
		res.text = m.Content
		if err := r.text(r.roundSeparator() + m.Content); err != nil {
			return res, err
		}
	}
	var acc llm.Accumulator
	acc.Add(m.ToolCalls)
	res.calls = acc.Calls()
	return res, nil
}

// reasoning forwards reasoning text under the field each part came in.
func (r *run) reasoning(reasoningContent, reasoning, thinking string) error {
	for _, f := range [...]struct{ name, v string }{{"reasoning_content", reasoningContent}, {"reasoning", reasoning}, {"thinking", thinking}} {
		if f.v != "" {
			if err := r.out.reasoning(f.name, f.v); err != nil {
				return err
			}
		}
	}
	return nil
}

// maxBatch bounds the events handled between two flushes.
const maxBatch = 64

// readStream reads an upstream SSE answer in the request's goroutine,
// forwarding text as it arrives. The events that arrived together (the one
// waited for and every one already read with it) are written to the client
// with one flush. A cancelled request ends the read: the upstream request
// shares its context. Keepalives meanwhile come from sseWriter's timer.
func (r *run) readStream(ctx context.Context, body io.Reader) (*roundResult, error) {
	sr := &streamRound{r: r, res: &roundResult{}, firstText: true}
	er := llm.NewEventReader(body)
	defer er.Release()
	for {
		ev, err := er.Next()
		if err != nil {
			if err == io.EOF {
				// A stream that ends without [DONE] is still complete when
				// it got this far; some servers omit it.
				sr.finish()
				return sr.res, nil
			}
			if ctx.Err() != nil {
				return sr.res, context.Cause(ctx)
			}
			if ue := (*llm.Error)(nil); errors.As(err, &ue) {
				return sr.res, ue // a timeout, typed for the client's answer
			}
			return sr.res, &errBadUpstream{"reading upstream stream: " + err.Error()}
		}
		r.out.startBatch()
		end, err := sr.event(ev)
		for n := 1; !end && err == nil && n < maxBatch; n++ {
			next, ok, _ := er.TryNext() // an error comes back from Next
			if !ok {
				break
			}
			end, err = sr.event(next)
		}
		if ferr := r.out.endBatch(); err == nil {
			err = ferr
		}
		if err != nil || end {
			return sr.res, err
		}
	}
}

// streamRound is the state of one streamed round.
type streamRound struct {
	r         *run
	res       *roundResult
	acc       llm.Accumulator
	text      strings.Builder
	reasoning strings.Builder
	firstText bool
}

func (sr *streamRound) finish() {
	sr.res.calls, sr.res.text, sr.res.reasoning = sr.acc.Calls(), sr.text.String(), sr.reasoning.String()
}

// event handles one upstream event.
func (sr *streamRound) event(ev llm.Event) (end bool, err error) {
	r, res := sr.r, sr.res
	data := bytes.TrimSpace(ev.Data)
	if len(data) == 0 {
		return false, nil
	}
	if string(data) == "[DONE]" {
		sr.finish()
		return true, nil
	}
	ch, err := llm.ParseChunk(data)
	if err != nil {
		return false, &errBadUpstream{"upstream sent an event that is not JSON: " + snippet(data)}
	}
	if len(ch.Error) > 0 {
		return false, &errBadUpstream{"upstream error: " + snippet(ch.Error)}
	}
	r.out.setModel(ch.Model)
	if ch.Usage != nil {
		u := *ch.Usage
		res.usage = &u
	}
	for i := range ch.Choices {
		c := &ch.Choices[i]
		if c.Index != 0 {
			continue
		}
		d := &c.Delta
		if err := r.reasoning(d.ReasoningContent, d.Reasoning, d.Thinking); err != nil {
			return false, err
		}
		sr.reasoning.WriteString(d.ReasoningContent)
		if d.Refusal != "" {
			if err := r.out.refusal(d.Refusal); err != nil {
				return false, err
			}
		}
		if d.Content != "" {
			t := d.Content
			if sr.firstText {
				t = r.roundSeparator() + t
				sr.firstText = false
			}
			sr.text.WriteString(d.Content)
			if err := r.text(t); err != nil {
				return false, err
			}
		}
		if len(d.ToolCalls) > 0 {
			sr.acc.Add(d.ToolCalls)
		}
		if c.FinishReason != "" {
			res.finish = c.FinishReason
		}
	}
	return false, nil
}

// snippet shortens upstream data for an error message.
func snippet(b []byte) string {
	const max = 200
	s := string(bytes.TrimSpace(b))
	if len(s) > max {
		s = s[:max] + "..."
	}
	return fmt.Sprintf("%q", s)
}
