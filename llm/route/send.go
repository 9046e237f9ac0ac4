package route

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mcp-bridge/mcp-bridge/llm"
)

// Attempt is one try of a request on one candidate.
type Attempt struct {
	Candidate
	// NoStream asks the upstream for a whole answer (stream: false) even
	// when the client asked for a stream: the upstream refused to stream
	// an answer with tools (llama.cpp's 500 "Cannot use tools with
	// stream"). The bridge still streams to its client.
	NoStream bool
}

// Request is a chat-completion request to route.
type Request struct {
	// Model is the model the client asked for.
	Model string
	// Candidates are the upstreams to try, from Router.Candidates: an
	// answer of several rounds routes once and keeps them. nil means
	// Candidates(Model).
	Candidates []Candidate
	// Pin, when it names one of the candidates, is tried first: the
	// upstream that answered an earlier round of the same answer. "" pins
	// nothing.
	Pin string
	// Body returns the body sent on an attempt: the request with the
	// attempt's model, its profile's tools, and stream: false when
	// NoStream. Required.
	Body func(a Attempt) net.Buffers
	// Tried, when set, is told of every attempt once it has an answer's
	// first byte or has failed: the HTTP status (0 when none came), the
	// time since it was sent, and its error (nil when it succeeded).
	Tried func(a Attempt, status int, elapsed time.Duration, err error)
}

// Send sends req to its candidates in turn until one answers, and returns
// that answer with its first byte already read (and still in the body) and
// the attempt that got it. The caller closes the body.
//
// A candidate whose breaker is open or that is cooling down after a 429 is
// tried only after every other one. The next candidate is tried when one
// fails before the first byte of its answer: it could not be reached, it
// timed out (llm.ErrFirstByteTimeout), or it answered 5xx or 429 (whose
// Retry-After cools it down). Another 4xx is the request's fault and is
// returned at once, as is the end of ctx. When every candidate failed, the
// last failure is returned. It returns a *NoRouteError when no upstream
// takes req.Model.
//
// Once Send has returned, nothing fails over: an error reading the body
// is the caller's to report.
func (r *Router) Send(ctx context.Context, req Request) (*http.Response, Attempt, error) {
	cands := slices.Clone(req.Candidates)
	if cands == nil {
		var err error
		if cands, err = r.Candidates(req.Model); err != nil {
			return nil, Attempt{}, err
		}
	}
	if req.Pin != "" {
		for i, c := range cands {
			if c.Name == req.Pin && i > 0 {
				pinned := c
				copy(cands[1:i+1], cands[:i])
				cands[0] = pinned
				break
			}
		}
	}
	sendCtx := ctx
	if len(cands) > 1 {
		// Somewhere else to go: a rate-limited upstream is not waited for.
		sendCtx = llm.WithFailover(ctx)
	}
	thr := r.opts.BreakerFailures
	var resting []Candidate
	var last error
	var lastAttempt Attempt
	for i, c := range cands {
		v := c.up.health.admit(r.opts.now(), thr)
		if v == skip {
			resting = append(resting, c)
			continue
		}
		more := i < len(cands)-1 || len(resting) > 0
		resp, a, next, err := r.try(ctx, sendCtx, req, c, v == probe, more)
		if !next {
			return resp, a, err
		}
		last, lastAttempt = err, a
	}
	// Every candidate that was up has failed: the resting ones are the
	// last resort.
	for i, c := range resting {
		resp, a, next, err := r.try(ctx, sendCtx, req, c, false, i < len(resting)-1)
		if !next {
			return resp, a, err
		}
		last, lastAttempt = err, a
	}
	return nil, lastAttempt, last
}

// try sends req to c. next reports that the failure (err) lets another
// candidate be tried; more, that there is one, which its log line says.
func (r *Router) try(ctx, sendCtx context.Context, req Request, c Candidate, probing, more bool) (resp *http.Response, a Attempt, next bool, err error) {
	then := ""
	if more {
		then = ": trying the next one"
	}
	u := c.up
	a = Attempt{Candidate: c, NoStream: u.noStreamTools.Load()}
	thr := r.opts.BreakerFailures
	for {
		start := r.opts.now()
		resp, err = u.Client.ChatCompletionsBuffers(sendCtx, req.Body(a))
		if err == nil {
			err = readFirstByte(resp)
		}
		status := llm.StatusOf(resp, err)
		var ue *llm.Error
		errors.As(err, &ue)
		if req.Tried != nil {
			req.Tried(a, status, r.opts.now().Sub(start), err)
		}
		if err == nil {
			if u.health.succeeded(thr) {
				r.log.Info("upstream is answering again: circuit closed", "upstream", u.Name)
			}
			return resp, a, false, nil
		}
		if ctx.Err() != nil {
			if probing {
				u.health.released()
			}
			return nil, a, false, err
		}
		if !a.NoStream && u.Profile.StreamFallback && refusesStreamWithTools(ue) {
			// Old llama-server: ask this round again for a whole answer,
			// and every later one.
			u.noStreamTools.Store(true)
			a.NoStream = true
			r.log.Info("upstream cannot stream answers with tools: asking it for whole answers", "upstream", u.Name)
			continue
		}
		switch {
		case status == http.StatusTooManyRequests:
			wait := ue.RetryAfter
			if wait <= 0 {
				wait = time.Second
			}
			u.health.coolDown(r.opts.now(), wait)
			r.log.Warn("upstream is rate limited"+then, "upstream", u.Name, "retry_after", wait)
			return nil, a, true, err
		case status == 0 || status >= 500:
			if u.health.failed(r.opts.now(), thr, r.opts.BreakerCooldown) {
				r.log.Warn("upstream keeps failing: circuit open", "upstream", u.Name, "cooldown", r.opts.BreakerCooldown)
			}
			r.log.Warn("upstream failed before answering"+then, "upstream", u.Name, "status", status, "err", err)
			return nil, a, true, err
		default:
			// The upstream answered: the request is at fault, not it.
			u.health.succeeded(thr)
			return nil, a, false, err
		}
	}
}

// readFirstByte waits for the first byte of resp's body, keeping it in
// the body, so that an upstream that answers nothing can be left for
// another. An empty body is not a failure here. On failure the body is
// closed.
func readFirstByte(resp *http.Response) error {
	pb := &peekedBody{ReadCloser: resp.Body}
	for {
		n, err := resp.Body.Read(pb.first[:])
		if n == 1 {
			pb.has = true
			break
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			resp.Body.Close()
			return err
		}
	}
	resp.Body = pb
	return nil
}

// peekedBody is a body whose first byte was read ahead: it is read again
// first. It holds one byte rather than a buffer of its own, so that the
// answer is not copied through one more buffer on its way to llm's reader.
type peekedBody struct {
	first [1]byte
	has   bool // first is still to be read
	io.ReadCloser
}

func (b *peekedBody) Read(p []byte) (int, error) {
	if !b.has {
		return b.ReadCloser.Read(p)
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0], b.has = b.first[0], false
	return 1, nil
}

// refusesStreamWithTools reports whether e is llama-server's refusal to
// stream an answer with tools: HTTP 500 "Cannot use tools with stream".
func refusesStreamWithTools(e *llm.Error) bool {
	if e == nil || e.StatusCode != http.StatusInternalServerError {
		return false
	}
	m := strings.ToLower(e.Message)
	return strings.Contains(m, "tools") && strings.Contains(m, "stream")
}
