package bridge

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/mcp-bridge/mcp-bridge/llm"
)

// pendingTurns remembers the bridge's half of mixed turns: when a round
// called both client tools and bridge tools, the client receives only its own
// calls, and its follow-up request carries back an assistant message with
// only those. The full assistant message and the bridge's tool messages are
// kept here, under each client call id, until that follow-up splices them
// back in. Entries expire after ttl; at most max are kept (the oldest go
// first). It is safe for concurrent use.
type pendingTurns struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu    sync.Mutex
	byID  map[string]*pendingTurn
	order []*pendingTurn // insertion order, for eviction
}

type pendingTurn struct {
	ids       []string // the client call ids it is stored under
	assistant json.RawMessage
	tools     []json.RawMessage
	expires   time.Time
}

func newPendingTurns(ttl time.Duration, max int) *pendingTurns {
	return &pendingTurns{ttl: ttl, max: max, now: time.Now, byID: map[string]*pendingTurn{}}
}

// put stores a turn under the ids of the client's calls.
func (p *pendingTurns) put(clientCalls []llm.ToolCall, assistant json.RawMessage, tools []json.RawMessage) {
	t := &pendingTurn{assistant: assistant, tools: tools}
	for _, c := range clientCalls {
		t.ids = append(t.ids, c.ID)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	t.expires = now.Add(p.ttl)
	p.evict(now)
	for len(p.order) >= p.max && len(p.order) > 0 {
		p.remove(p.order[0])
	}
	for _, id := range t.ids {
		p.byID[id] = t
	}
	p.order = append(p.order, t)
}

// evict drops expired turns. p.mu is held.
func (p *pendingTurns) evict(now time.Time) {
	for len(p.order) > 0 && now.After(p.order[0].expires) {
		p.remove(p.order[0])
	}
}

// remove deletes t. p.mu is held.
func (p *pendingTurns) remove(t *pendingTurn) {
	for _, id := range t.ids {
		if p.byID[id] == t {
			delete(p.byID, id)
		}
	}
	for i, o := range p.order {
		if o == t {
			p.order = append(p.order[:i], p.order[i+1:]...)
			break
		}
	}
}

// splice returns msgs with every remembered turn restored: an assistant
// message that carries a remembered client call id is replaced by the full
// assistant message, followed by the bridge's tool messages. It returns msgs
// itself when nothing was restored.
func (p *pendingTurns) splice(msgs []json.RawMessage) []json.RawMessage {
	p.mu.Lock()
	empty := len(p.byID) == 0
	p.mu.Unlock()
	if empty {
		return msgs
	}
	var out []json.RawMessage
	for i, m := range msgs {
		t := p.match(m)
		if t == nil {
			if out != nil {
				out = append(out, m)
			}
			continue
		}
		if out == nil {
			out = append(make([]json.RawMessage, 0, len(msgs)+len(t.tools)), msgs[:i]...)
		}
		out = append(out, t.assistant)
		out = append(out, t.tools...)
	}
	if out == nil {
		return msgs
	}
	return out
}

// match returns the remembered turn of an assistant message, if any. The
// turn stays remembered until it expires: clients send the whole history
// again with every later request, and each must see the same conversation.
func (p *pendingTurns) match(m json.RawMessage) *pendingTurn {
	var msg struct {
		Role      string `json:"role"`
		ToolCalls []struct {
			ID string `json:"id"`
		} `json:"tool_calls"`
	}
	if json.Unmarshal(m, &msg) != nil || msg.Role != "assistant" || len(msg.ToolCalls) == 0 {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range msg.ToolCalls {
		if t, ok := p.byID[c.ID]; ok && !p.now().After(t.expires) {
			return t
		}
	}
	return nil
}
