package bridge

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	openai "github.com/sashabaranov/go-openai"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/llm"
	"github.com/mcp-bridge/mcp-bridge/llm/route"
)

// chatCaller answers what a server asks while serving a chat completion's
// tool call: sampling goes to the upstream LLM, elicitation is declined
// (there is nobody to ask: the chat client cannot answer a form in the
// middle of a tool call), progress and logs are not shown.
type chatCaller struct {
	s     *Server
	model string // the chat request's model
}

// CreateMessage maps a sampling request to a chat completion upstream.
func (c *chatCaller) CreateMessage(ctx context.Context, server string, p *mcp.CreateMessageParams) (*mcp.CreateMessageResult, error) {
	model := c.s.samplingModel(ctx, p.ModelPreferences, c.model)
	body, err := samplingRequest(p, model)
	if err != nil {
		return nil, fmt.Errorf("sampling for %s: %w", server, err)
	}
	// The same routing as chat requests: aliases, globs, failover.
	resp, _, err := c.s.opts.Router.Send(ctx, route.Request{Model: model, Body: func(a route.Attempt) net.Buffers {
		if a.Model == model {
			return net.Buffers{body}
		}
		b, _ := samplingRequest(p, a.Model) // an alias's model; what failed above fails for none
		return net.Buffers{b}
	}})
	if err != nil {
		return nil, fmt.Errorf("sampling for %s: %s", server, toAPIError(err, c.s.opts.Secrets).Message)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxUpstreamBody))
	if err != nil {
		return nil, fmt.Errorf("sampling for %s: reading the upstream answer: %w", server, err)
	}
	comp, err := llm.ParseCompletion(data)
	if err != nil || len(comp.Choices) == 0 {
		return nil, fmt.Errorf("sampling for %s: the upstream answer is not a chat completion: %s", server, snippet(data))
	}
	ch := comp.Choices[0]
	stop := "endTurn"
	if ch.FinishReason == "length" {
		stop = "maxTokens"
	}
	if comp.Model != "" {
		model = comp.Model
	}
	c.s.log.Debug("answered sampling request", "server", server, "model", model)
	return &mcp.CreateMessageResult{Role: "assistant", Model: model, StopReason: stop,
		Content: &mcp.TextContent{Text: ch.Message.Content}}, nil
}

// Elicit declines: a chat completion has nobody to fill in a form.
func (c *chatCaller) Elicit(ctx context.Context, server string, p *mcp.ElicitParams) (*mcp.ElicitResult, error) {
	c.s.log.Info("declined an elicitation during a chat completion: no client can answer it there",
		"server", server, "message", p.Message)
	return &mcp.ElicitResult{Action: "decline"}, nil
}

func (c *chatCaller) Progress(context.Context, *mcp.ProgressNotificationParams) {}
func (c *chatCaller) Log(context.Context, string, *mcp.LoggingMessageParams)    {}

// samplingModel picks the model of a sampling request: the first hint that
// names (or is part of the name of) a model the upstream has, else the
// configured sampling model, else fallback (the chat request's model).
func (s *Server) samplingModel(ctx context.Context, prefs *mcp.ModelPreferences, fallback string) string {
	if prefs != nil && len(prefs.Hints) > 0 {
		if list, err := s.opts.Router.Models(ctx); err == nil {
			for _, h := range prefs.Hints {
				if h == nil || h.Name == "" {
					continue
				}
				for _, m := range list.Data {
					if m.ID == h.Name {
						return m.ID
					}
				}
				for _, m := range list.Data {
					if strings.Contains(m.ID, h.Name) {
						return m.ID
					}
				}
			}
		}
	}
	if s.opts.SamplingModel != "" {
		return s.opts.SamplingModel
	}
	return fallback
}

// samplingRequest is the OpenAI request of a sampling request: the system
// prompt first, then the messages (text, and images as data URLs), with
// max tokens, temperature and stop sequences.
func samplingRequest(p *mcp.CreateMessageParams, model string) ([]byte, error) {
	if model == "" {
		return nil, errors.New("no model to sample with: set sampling.model")
	}
	var msgs []openai.ChatCompletionMessage
	if p.SystemPrompt != "" {
		msgs = append(msgs, openai.ChatCompletionMessage{Role: openai.ChatMessageRoleSystem, Content: p.SystemPrompt})
	}
	for i, m := range p.Messages {
		if m == nil {
			continue
		}
		role := string(m.Role)
		if role != "assistant" {
			role = "user"
		}
		switch c := m.Content.(type) {
		case *mcp.TextContent:
			msgs = append(msgs, openai.ChatCompletionMessage{Role: role, Content: c.Text})
		case *mcp.ImageContent:
			url := "data:" + c.MIMEType + ";base64," + base64.StdEncoding.EncodeToString(c.Data)
			msgs = append(msgs, openai.ChatCompletionMessage{Role: role, MultiContent: []openai.ChatMessagePart{
				{Type: openai.ChatMessagePartTypeImageURL, ImageURL: &openai.ChatMessageImageURL{URL: url}}}})
		default:
			return nil, fmt.Errorf("message %d: content of type %T cannot be sent to the upstream", i, m.Content)
		}
	}
	if len(msgs) == 0 {
		return nil, errors.New("the sampling request has no messages")
	}
	req := openai.ChatCompletionRequest{Model: model, Messages: msgs, Stop: p.StopSequences}
	if p.MaxTokens > 0 {
		req.MaxTokens = int(p.MaxTokens)
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	if p.Temperature != 0 {
		// go-openai drops a zero temperature; set it on the encoded body
		// so that only a temperature that was asked for is sent.
		o, _ := parseObject(b)
		t, _ := json.Marshal(p.Temperature)
		o.set("temperature", t)
		b = o.marshal()
	}
	return b, nil
}
