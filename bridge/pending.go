package bridge

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/mcp-bridge/mcp-bridge/llm"
)

// pendingTurns remembers the bridge's half of mixed turns: when a round
// called both client tools and bridge tools, the client receives only its own
// calls, and its follow-up request carries back an assistant message with
// only those. The full assistant message and the bridge's tool messages are
// kept here until that follow-up splices them back in.
//
// A turn belongs to its caller and its conversation: it is stored under
// the caller's identity (see callerID) and each client call id, with a
// hash of the conversation that led to it, and is spliced only into a
// request of the same caller whose messages before the assistant message
// hash the same. Another client that sends the same call id gets nothing.
//
// Entries expire after ttl; each is at most maxEntry bytes. In process
// (store nil), at most max are kept, all together at most maxTotal bytes
// (the oldest go first). With a store, turns live there, shared by the
// replicas, with the same binding and time to live; a turn the store
// cannot take or give is lost for its follow-up, logged. It is safe for
// concurrent use.
type pendingTurns struct {
	ttl      time.Duration
	max      int
	maxEntry int64
	maxTotal int64
	now      func() time.Time
	store    TurnStore    // nil: the maps below
	log      *slog.Logger // for the store's failures

	mu    sync.Mutex
	byKey map[string]*pendingTurn // owner + "\x00" + call id
	order []*pendingTurn          // insertion order, for eviction
	total int64                   // bytes held
}

type pendingTurn struct {
	keys      []string // the keys it is stored under
	conv      [sha256.Size]byte
	assistant json.RawMessage
	tools     []json.RawMessage
	size      int64
	expires   time.Time
}

func newPendingTurns(ttl time.Duration, max int, maxEntry, maxTotal int64) *pendingTurns {
	return &pendingTurns{ttl: ttl, max: max, maxEntry: maxEntry, maxTotal: maxTotal, now: time.Now, byKey: map[string]*pendingTurn{}}
}

func pendingKey(owner, callID string) string { return owner + "\x00" + callID }

// put stores a turn of owner, whose conversation before the turn hashes to
// conv, under the ids of the client's calls. It reports false when the
// turn is larger than one entry may be, and is not kept.
func (p *pendingTurns) put(owner string, conv [sha256.Size]byte, clientCalls []llm.ToolCall, assistant json.RawMessage, tools []json.RawMessage) bool {
	t := &pendingTurn{conv: conv, assistant: assistant, tools: tools, size: int64(len(assistant))}
	for _, m := range tools {
		t.size += int64(len(m))
	}
	if t.size > p.maxEntry {
		return false
	}
	for _, c := range clientCalls {
		t.keys = append(t.keys, pendingKey(owner, c.ID))
	}
	if p.store != nil {
		return p.putShared(t)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	t.expires = now.Add(p.ttl)
	p.evict(now)
	for len(p.order) > 0 && (len(p.order) >= p.max || p.total+t.size > p.maxTotal) {
		p.remove(p.order[0])
	}
	for _, k := range t.keys {
		if old, ok := p.byKey[k]; ok {
			p.remove(old)
		}
		p.byKey[k] = t
	}
	p.order = append(p.order, t)
	p.total += t.size
	return true
}

// evict drops expired turns. p.mu is held.
func (p *pendingTurns) evict(now time.Time) {
	for len(p.order) > 0 && now.After(p.order[0].expires) {
		p.remove(p.order[0])
	}
}

// remove deletes t. p.mu is held.
func (p *pendingTurns) remove(t *pendingTurn) {
	for _, k := range t.keys {
		if p.byKey[k] == t {
			delete(p.byKey, k)
		}
	}
	for i, o := range p.order {
		if o == t {
			p.order = append(p.order[:i], p.order[i+1:]...)
			p.total -= t.size
			break
		}
	}
}

// len returns the number of turns held and their bytes.
func (p *pendingTurns) len() (int, int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.order), p.total
}

// splice returns msgs, a request of owner, with every remembered turn of
// owner restored: an assistant message that carries a remembered client
// call id, after the same conversation, is replaced by the full assistant
// message, followed by the bridge's tool messages. It returns msgs itself
// when nothing was restored.
func (p *pendingTurns) splice(owner string, msgs []json.RawMessage) []json.RawMessage {
	if p.store == nil {
		p.mu.Lock()
		empty := len(p.byKey) == 0
		p.mu.Unlock()
		if empty {
			return msgs
		}
	}
	var out []json.RawMessage
	for i, m := range msgs {
		t := p.match(owner, m, msgs[:i])
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

// match returns owner's remembered turn of an assistant message that
// follows the messages before, if any. The turn stays remembered until it
// expires: clients send the whole history again with every later request,
// and each must see the same conversation.
func (p *pendingTurns) match(owner string, m json.RawMessage, before []json.RawMessage) *pendingTurn {
	var msg struct {
		Role      string `json:"role"`
		ToolCalls []struct {
			ID string `json:"id"`
		} `json:"tool_calls"`
	}
	if json.Unmarshal(m, &msg) != nil || msg.Role != "assistant" || len(msg.ToolCalls) == 0 {
		return nil
	}
	if p.store != nil {
		return p.matchShared(owner, msg.ToolCalls[0].ID, before)
	}
	p.mu.Lock()
	var t *pendingTurn
	for _, c := range msg.ToolCalls {
		if found, ok := p.byKey[pendingKey(owner, c.ID)]; ok && !p.now().After(found.expires) {
			t = found
			break
		}
	}
	p.mu.Unlock()
	if t == nil || conversationHash(before) != t.conv {
		return nil
	}
	return t
}

// sharedTurn is a turn as the store keeps it.
type sharedTurn struct {
	Conv      []byte            `json:"conv"`
	Assistant json.RawMessage   `json:"assistant"`
	Tools     []json.RawMessage `json:"tools,omitempty"`
}

// putShared stores t in the store. It reports true even when the store
// fails (that is logged): the turn was small enough to keep.
func (p *pendingTurns) putShared(t *pendingTurn) bool {
	b, err := json.Marshal(sharedTurn{Conv: t.conv[:], Assistant: t.assistant, Tools: t.tools})
	if err == nil {
		err = p.store.Put(context.Background(), t.keys, b, p.ttl)
	}
	if err != nil {
		p.log.Warn("the bridge's half of a mixed tool turn could not be stored; the follow-up will lack its tool results", "err", err)
	}
	return true
}

// matchShared is match with the store. The client's calls of one
// assistant message were stored together, so its first call id finds
// the turn.
func (p *pendingTurns) matchShared(owner, callID string, before []json.RawMessage) *pendingTurn {
	b, err := p.store.Get(context.Background(), pendingKey(owner, callID))
	if err != nil {
		p.log.Warn("a mixed tool turn could not be read from the shared state; the request goes on without it", "err", err)
		return nil
	}
	var st sharedTurn
	if b == nil || json.Unmarshal(b, &st) != nil || len(st.Conv) != sha256.Size {
		return nil
	}
	t := &pendingTurn{assistant: st.Assistant, tools: st.Tools}
	copy(t.conv[:], st.Conv)
	if conversationHash(before) != t.conv {
		return nil
	}
	return t
}

// conversationHash identifies a conversation by the role and content of
// each message, so that a client that re-encodes its history (other key
// order, other whitespace, extra fields) still matches, and another
// conversation does not.
func conversationHash(msgs []json.RawMessage) [sha256.Size]byte {
	h := sha256.New()
	for _, m := range msgs {
		var msg struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		}
		_ = json.Unmarshal(m, &msg)
		h.Write([]byte(msg.Role))
		h.Write([]byte{0})
		var text string
		if json.Unmarshal(msg.Content, &text) == nil {
			h.Write([]byte(strings.TrimSpace(text)))
		} else if v := any(nil); json.Unmarshal(msg.Content, &v) == nil {
			b, _ := json.Marshal(v) // map keys sorted: one encoding
			h.Write(bytes.TrimSpace(b))
		}
		h.Write([]byte{0})
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}
