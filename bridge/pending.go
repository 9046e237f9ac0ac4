package bridge

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"log/slog"
	"strings"
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
// Turns live in a TurnStore: memTurns in process, bounded, or one shared
// by the replicas (Redis), with the same binding and time to live. Each
// expires after ttl and is at most maxEntry bytes before encoding; a
// larger one is not kept. A turn the store cannot take or give is lost
// for its follow-up, logged. It is safe for concurrent use.
type pendingTurns struct {
	ttl      time.Duration
	maxEntry int64
	store    TurnStore
	mem      *memTurns    // store, when it is in process; nil otherwise
	log      *slog.Logger // for the store's failures
}

// pendingTurn is a turn as splice restores it.
type pendingTurn struct {
	assistant json.RawMessage
	tools     []json.RawMessage
}

// newPendingTurns keeps turns in store for ttl, each at most maxEntry
// bytes, and logs the store's failures to log (nil discards them).
func newPendingTurns(store TurnStore, ttl time.Duration, maxEntry int64, log *slog.Logger) *pendingTurns {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &pendingTurns{ttl: ttl, maxEntry: maxEntry, store: store, log: log}
	p.mem, _ = store.(*memTurns)
	return p
}

func pendingKey(owner, callID string) string { return owner + "\x00" + callID }

// sharedTurn is a turn as the store keeps it.
type sharedTurn struct {
	Conv      []byte            `json:"conv"`
	Assistant json.RawMessage   `json:"assistant"`
	Tools     []json.RawMessage `json:"tools,omitempty"`
}

// put stores a turn of owner, whose conversation before the turn hashes to
// conv, under the ids of the client's calls. It reports false when the
// turn is larger than one entry may be, and is not kept; true even when
// the store fails (that is logged).
func (p *pendingTurns) put(owner string, conv [sha256.Size]byte, clientCalls []llm.ToolCall, assistant json.RawMessage, tools []json.RawMessage) bool {
	size := int64(len(assistant))
	for _, m := range tools {
		size += int64(len(m))
	}
	if size > p.maxEntry {
		return false
	}
	keys := make([]string, 0, len(clientCalls))
	for _, c := range clientCalls {
		keys = append(keys, pendingKey(owner, c.ID))
	}
	b, err := json.Marshal(sharedTurn{Conv: conv[:], Assistant: assistant, Tools: tools})
	if err == nil {
		err = p.store.Put(context.Background(), keys, b, p.ttl)
	}
	if err != nil {
		p.log.Warn("the bridge's half of a mixed tool turn could not be stored; the follow-up will lack its tool results", "err", err)
	}
	return true
}

// splice returns msgs, a request of owner, with every remembered turn of
// owner restored: an assistant message that carries a remembered client
// call id, after the same conversation, is replaced by the full assistant
// message, followed by the bridge's tool messages. It returns msgs itself
// when nothing was restored.
func (p *pendingTurns) splice(owner string, msgs []json.RawMessage) []json.RawMessage {
	if p.mem != nil && p.mem.empty() {
		return msgs // nothing to find: the messages need not be read
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
// follows the messages before, if any. The client's calls of one
// assistant message were stored together, so its first call id finds
// the turn. The turn stays remembered until it expires: clients send the
// whole history again with every later request, and each must see the
// same conversation.
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
	b, err := p.store.Get(context.Background(), pendingKey(owner, msg.ToolCalls[0].ID))
	if err != nil {
		p.log.Warn("a mixed tool turn could not be read from the shared state; the request goes on without it", "err", err)
		return nil
	}
	var st sharedTurn
	if b == nil || json.Unmarshal(b, &st) != nil || len(st.Conv) != sha256.Size {
		return nil
	}
	if conv := conversationHash(before); !bytes.Equal(conv[:], st.Conv) {
		return nil
	}
	return &pendingTurn{assistant: st.Assistant, tools: st.Tools}
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
