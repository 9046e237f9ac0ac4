package mcpclient

import (
	"context"
	"errors"
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// A server of the stateless revision asks for sampling, elicitation or
// roots by answering a request with input_required: its questions in
// inputRequests, under ids of its own, and an opaque requestState. The
// client answers them and sends the request again with inputResponses and
// the state. The registry does that for its callers (askAgain), except for
// a caller that speaks the revision itself (InputPasser): that one gets
// the server's result as it is, ids and state included, and comes back
// with its answers (WithInputResponses). go-sdk's client has the loop
// built in, but it would answer before the registry could pass the
// questions on untouched, so it is turned off.

// maxInputRounds bounds the input_required answers to one request.
const maxInputRounds = 10

// InputPasser is a Caller that takes a server's input_required results as
// they are, to put the questions to its own client.
type InputPasser interface {
	Caller
	PassesInput() bool
}

// CapabilityDeclarer is a Caller whose own client declared its
// capabilities with its request (the stateless revision): a stateless
// server is sent those, so that it asks only for what the client can
// answer, or refuses as the revision says.
type CapabilityDeclarer interface {
	Caller
	// DeclaredCapabilities returns the client's clientCapabilities as
	// sent in its _meta; nil when it sent none.
	DeclaredCapabilities() any
}

// declareCapabilities puts the capabilities the caller of ctx declared in
// meta (a copy is returned), for a server of the stateless revision.
func (s *server) declareCapabilities(ctx context.Context, meta mcp.Meta) mcp.Meta {
	if s.sessionProtocol() < LatestProtocolVersion {
		return meta
	}
	ci, ok := callerOf(ctx)
	if !ok {
		return meta
	}
	d, ok := ci.c.(CapabilityDeclarer)
	if !ok {
		return meta
	}
	caps := d.DeclaredCapabilities()
	if caps == nil {
		return meta
	}
	out := make(mcp.Meta, len(meta)+1)
	for k, v := range meta {
		out[k] = v
	}
	out[mcp.MetaKeyClientCapabilities] = caps
	return out
}

type inputKey struct{}

type inputRetry struct {
	responses mcp.InputResponseMap
	state     string
}

// WithInputResponses returns ctx whose request (a tool call, a prompt, a
// resource read) is a retry: it carries the client's answers and the
// requestState of the input_required result they answer.
func WithInputResponses(ctx context.Context, responses mcp.InputResponseMap, state string) context.Context {
	return context.WithValue(ctx, inputKey{}, inputRetry{responses, state})
}

func inputRetryOf(ctx context.Context) inputRetry {
	r, _ := ctx.Value(inputKey{}).(inputRetry)
	return r
}

// passesInput reports whether the caller of ctx takes input_required
// results itself.
func passesInput(ctx context.Context) bool {
	ci, ok := callerOf(ctx)
	if !ok {
		return false
	}
	p, ok := ci.c.(InputPasser)
	return ok && p.PassesInput()
}

// askAgain sends a request with send until its result needs no input,
// answering each input_required with the server's caller, or until the
// result goes to a caller that passes input on. pending returns a
// result's questions (nil for none) and its requestState.
func askAgain[R any](ctx context.Context, s *server, send func(mcp.InputResponseMap, string) (R, error),
	pending func(R) (mcp.InputRequestMap, string)) (R, error) {
	retry := inputRetryOf(ctx)
	responses, state := retry.responses, retry.state
	for round := 0; ; round++ {
		res, err := send(responses, state)
		if err != nil {
			return res, err
		}
		questions, st := pending(res)
		if questions == nil || passesInput(ctx) {
			return res, nil
		}
		var zero R
		if len(questions) == 0 {
			return zero, fmt.Errorf("server %q is busy (input_required without questions)", s.cfg.Name)
		}
		if round == maxInputRounds {
			return zero, fmt.Errorf("server %q asked for input more than %d times for one request", s.cfg.Name, maxInputRounds)
		}
		if responses, err = s.answer(ctx, questions); err != nil {
			return zero, err
		}
		state = st
	}
}

// answer answers a server's questions through the caller of ctx (see
// server.caller), and roots from the registry's.
func (s *server) answer(ctx context.Context, questions mcp.InputRequestMap) (mcp.InputResponseMap, error) {
	out := make(mcp.InputResponseMap, len(questions))
	for id, q := range questions {
		var (
			r   mcp.InputResponse
			err error
		)
		switch q := q.(type) {
		case *mcp.ElicitParams:
			r, err = s.elicit(ctx, &mcp.ElicitRequest{Params: q})
		case *mcp.CreateMessageParams:
			r, err = s.sample(ctx, q)
		case *mcp.CreateMessageWithToolsParams:
			var p *mcp.CreateMessageParams
			if p, err = baseSampling(q); err == nil {
				r, err = s.sample(ctx, p)
			}
		case *mcp.ListRootsParams:
			r = &mcp.ListRootsResult{Roots: append([]*mcp.Root{}, s.opts.Roots...)}
		default:
			err = fmt.Errorf("unknown question %T", q)
		}
		if err != nil {
			return nil, fmt.Errorf("answering %s's question %q: %w", s.cfg.Name, id, err)
		}
		out[id] = r
	}
	return out, nil
}

// sample answers a sampling question through the caller of ctx.
func (s *server) sample(ctx context.Context, p *mcp.CreateMessageParams) (*mcp.CreateMessageResult, error) {
	c, ok := s.caller(ctx)
	if !ok {
		return nil, fmt.Errorf("sampling: %w", ErrNoCaller)
	}
	return c.CreateMessage(ctx, s.cfg.Name, p)
}

// baseSampling is p as a sampling request with one content block per
// message, which is what callers answer.
func baseSampling(p *mcp.CreateMessageWithToolsParams) (*mcp.CreateMessageParams, error) {
	if len(p.Tools) > 0 {
		return nil, errors.New("sampling with tools is not passed on")
	}
	out := &mcp.CreateMessageParams{Meta: p.Meta, IncludeContext: p.IncludeContext, MaxTokens: p.MaxTokens,
		Metadata: p.Metadata, ModelPreferences: p.ModelPreferences, StopSequences: p.StopSequences,
		SystemPrompt: p.SystemPrompt, Temperature: p.Temperature}
	for _, m := range p.Messages {
		if len(m.Content) != 1 {
			return nil, fmt.Errorf("a sampling message with %d content blocks is not passed on", len(m.Content))
		}
		out.Messages = append(out.Messages, &mcp.SamplingMessage{Role: m.Role, Content: m.Content[0]})
	}
	return out, nil
}
