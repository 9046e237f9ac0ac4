package bridge

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/mcp-bridge/mcp-bridge/llm"
)

// maxUpstreamBody bounds a non-streaming upstream answer.
const maxUpstreamBody = 64 << 20

// errBadUpstream is a stream the bridge cannot read: a line that is not
// JSON, an error event, or a body cut off.
type errBadUpstream struct{ msg string }

func (e *errBadUpstream) Error() string { return e.msg }

// round sends one upstream request and reads its answer.
func (r *run) round(ctx context.Context, n int) (*roundResult, error) {
	resp, err := r.s.opts.Upstream.ChatCompletionsBuffers(ctx, r.upstreamBody(n))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	// Read what the upstream sent, not what was asked for: some servers
	// stream when asked not to, or answer a streaming request with one
	// JSON object.
	body := bufio.NewReader(resp.Body)
	if isEventStream(resp, body) {
		return r.readStream(ctx, body)
	}
	return r.readCompletion(body)
}

// isEventStream tells an SSE answer from a JSON one, by its content type or,
// when there is none, by its first byte.
func isEventStream(resp *http.Response, body *bufio.Reader) bool {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch mt {
	case "text/event-stream":
		return true
	case "application/json":
		return false
	}
	for {
		b, err := body.Peek(1)
		if err != nil {
			return false
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			_, _ = body.ReadByte()
		case '{':
			return false
		default:
			return true
		}
	}
}

// readCompletion reads a whole chat.completion and emits its content.
func (r *run) readCompletion(body io.Reader) (*roundResult, error) {
	data, err := io.ReadAll(io.LimitReader(body, maxUpstreamBody))
	if err != nil {
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

// event is one item of the upstream stream, read by a helper goroutine.
type event struct {
	ev  llm.Event
	err error
}

// readStream reads an upstream SSE answer, forwarding text as it arrives
// and sending keepalives while the upstream is silent.
func (r *run) readStream(ctx context.Context, body io.Reader) (*roundResult, error) {
	events := make(chan event, 16)
	done := make(chan struct{})
	defer close(done)
	go func() {
		er := llm.NewEventReader(body)
		for {
			ev, err := er.Next()
			select {
			case events <- event{ev, err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()

	res := &roundResult{}
	var acc llm.Accumulator
	var text, reasoning strings.Builder
	firstText := true
	keep := r.keepaliveTicker()
	defer keep.Stop()
	for {
		select {
		case <-ctx.Done():
			return res, context.Cause(ctx)
		case <-keep.C:
			if err := r.keepaliveIfIdle(); err != nil {
				return res, err
			}
		case e := <-events:
			if e.err == io.EOF {
				// A stream that ends without [DONE] is still complete
				// when it got this far; some servers omit it.
				res.calls, res.text, res.reasoning = acc.Calls(), text.String(), reasoning.String()
				return res, nil
			}
			if e.err != nil {
				if ctx.Err() != nil {
					return res, context.Cause(ctx)
				}
				return res, &errBadUpstream{"reading upstream stream: " + e.err.Error()}
			}
			data := bytes.TrimSpace(e.ev.Data)
			if len(data) == 0 {
				continue
			}
			if string(data) == "[DONE]" {
				res.calls, res.text, res.reasoning = acc.Calls(), text.String(), reasoning.String()
				return res, nil
			}
			ch, err := llm.ParseChunk(data)
			if err != nil {
				return res, &errBadUpstream{"upstream sent an event that is not JSON: " + snippet(data)}
			}
			if len(ch.Error) > 0 {
				return res, &errBadUpstream{"upstream error: " + snippet(ch.Error)}
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
					return res, err
				}
				reasoning.WriteString(d.ReasoningContent)
				if d.Refusal != "" {
					if err := r.out.refusal(d.Refusal); err != nil {
						return res, err
					}
				}
				if d.Content != "" {
					t := d.Content
					if firstText {
						t = r.roundSeparator() + t
						firstText = false
					}
					text.WriteString(d.Content)
					if err := r.text(t); err != nil {
						return res, err
					}
				}
				if len(d.ToolCalls) > 0 {
					acc.Add(d.ToolCalls)
				}
				if c.FinishReason != "" {
					res.finish = c.FinishReason
				}
			}
		}
	}
}

// keepaliveTicker ticks at the keepalive interval, or never when keepalives
// are off or the answer is not streamed.
func (r *run) keepaliveTicker() *time.Ticker {
	if r.s.opts.Keepalive <= 0 || !r.req.stream {
		t := time.NewTicker(time.Hour)
		t.Stop()
		return t
	}
	return time.NewTicker(r.s.opts.Keepalive / 2)
}

// keepaliveIfIdle sends a keepalive when nothing was written for a whole
// interval.
func (r *run) keepaliveIfIdle() error {
	w, ok := r.out.(*sseWriter)
	if !ok {
		return nil
	}
	if w.wrote && time.Since(w.lastSend) < r.s.opts.Keepalive {
		return nil
	}
	return w.keepalive()
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
