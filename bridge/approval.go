package bridge

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/mcp-bridge/mcp-bridge/bridge/observe"
	"github.com/mcp-bridge/mcp-bridge/llm"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// Approval of tool calls in chat.
//
// A round whose bridge calls include one that needs a person's approval
// (Options.Approver) does not run them: the answer ends with an assistant
// message that shows the calls and asks the user to reply "approve" or
// "deny", with an approval code. The round is remembered, bound to the
// caller (callerID) and to the conversation that led to it, and expires
// with PendingTTL. When the same caller's next request carries the reply
// as its last user message, after the question and the same conversation,
// the round resumes as if it had not paused: approved, its calls run (the
// approved ones with the Approver's leave); denied, the calls that needed
// approval get a tool message saying so and the others run; either way the
// loop goes on with the model. Any other request, another caller's above
// all, approves nothing. Each decision is reported to the observers.

// Approver decides which chat tool calls wait for a person's yes; the
// guard is one.
type Approver interface {
	// NeedsApproval reports whether calls of the exposed tool name do.
	NeedsApproval(tool string) bool
	// Approved returns ctx with calls of tools approved, for the registry.
	Approved(ctx context.Context, tools ...string) context.Context
}

// pausedRound is a round waiting for approval.
type pausedRound struct {
	code      string
	owner     string
	conv      [sha256.Size]byte // the client's conversation before the question
	base      int               // how many messages of the conversation came from the client
	extra     []json.RawMessage // messages of the earlier rounds, which the client never saw
	assistant json.RawMessage   // the round's assistant message
	calls     []llm.ToolCall    // the bridge's calls of the round
	theirs    []llm.ToolCall    // the client's calls of the round, returned to it once the bridge's ran
	needs     []string          // the tools that need approval
}

// approvals holds paused rounds in a TurnStore (memTurns in process,
// bounded, or one shared by the replicas): one per caller and
// conversation, the newest, each for ttl and at most maxEntry bytes
// before encoding, taken at once by the request that resumes it. A round
// the store cannot take or give is lost for its reply, logged. It is
// safe for concurrent use.
type approvals struct {
	ttl      time.Duration
	maxEntry int64
	store    TurnStore
	log      *slog.Logger // for the store's failures
}

// newApprovals keeps rounds in store for ttl, each at most maxEntry
// bytes, and logs the store's failures to log (nil discards them).
func newApprovals(store TurnStore, ttl time.Duration, maxEntry int64, log *slog.Logger) *approvals {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &approvals{ttl: ttl, maxEntry: maxEntry, store: store, log: log}
}

// sharedRound is a pausedRound as the store keeps it.
type sharedRound struct {
	Code      string            `json:"code"`
	Base      int               `json:"base"`
	Extra     []json.RawMessage `json:"extra,omitempty"`
	Assistant json.RawMessage   `json:"assistant"`
	Calls     []llm.ToolCall    `json:"calls"`
	Theirs    []llm.ToolCall    `json:"theirs,omitempty"`
	Needs     []string          `json:"needs"`
}

// approvalKey is where the store keeps owner's round paused after
// conversation conv.
func approvalKey(owner string, conv [sha256.Size]byte) string {
	return "approval\x00" + owner + "\x00" + hex.EncodeToString(conv[:])
}

// put keeps p in place of the round its caller paused after the same
// conversation, if any. It reports false when p is larger than an entry
// may be, and is not kept; true even when the store fails (that is
// logged: the answer still asks, and its reply approves nothing).
func (a *approvals) put(p *pausedRound) bool {
	size := int64(len(p.assistant))
	for _, m := range p.extra {
		size += int64(len(m))
	}
	if size > a.maxEntry {
		return false
	}
	b, err := json.Marshal(sharedRound{Code: p.code, Base: p.base, Extra: p.extra, Assistant: p.assistant,
		Calls: p.calls, Theirs: p.theirs, Needs: p.needs})
	if err == nil {
		err = a.store.Put(context.Background(), []string{approvalKey(p.owner, p.conv)}, b, a.ttl)
	}
	if err != nil {
		a.log.Warn("a round paused for approval could not be stored; its reply will approve nothing", "err", err)
	}
	return true
}

// take removes and returns owner's round paused after conversation conv
// when its code is code ("" matches any); nil when there is none. A reply
// with another round's code takes nothing: the round is put back.
func (a *approvals) take(owner string, conv [sha256.Size]byte, code string) *pausedRound {
	key := approvalKey(owner, conv)
	b, err := a.store.Take(context.Background(), key)
	if err != nil {
		a.log.Warn("a round paused for approval could not be read from the shared state; the reply approves nothing", "err", err)
		return nil
	}
	var sr sharedRound
	if b == nil || json.Unmarshal(b, &sr) != nil {
		return nil
	}
	if code != "" && !strings.EqualFold(code, sr.Code) {
		if err := a.store.Put(context.Background(), []string{key}, b, a.ttl); err != nil {
			a.log.Warn("a round paused for approval could not be put back", "err", err)
		}
		return nil
	}
	return &pausedRound{code: sr.Code, owner: owner, conv: conv, base: sr.Base, extra: sr.Extra, assistant: sr.Assistant,
		calls: sr.Calls, theirs: sr.Theirs, needs: sr.Needs}
}

// approvalReplyRE is a user's reply to an approval question.
var approvalReplyRE = regexp.MustCompile(`(?i)^\s*(approve|approved|deny|denied)(?:\s*[:,]?\s*([a-z0-9]{4,16}))?\s*[.!]?\s*$`)

// approvalReply reads msgs' last message as a reply to an approval
// question: ok when it is a user message that says approve or deny, with
// the code it gives ("" for none).
func approvalReply(msgs []json.RawMessage) (approve bool, code string, ok bool) {
	if len(msgs) < 2 {
		return false, "", false
	}
	var m struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	if json.Unmarshal(msgs[len(msgs)-1], &m) != nil || m.Role != "user" {
		return false, "", false
	}
	var text string
	if json.Unmarshal(m.Content, &text) != nil {
		var parts []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		if json.Unmarshal(m.Content, &parts) != nil {
			return false, "", false
		}
		for _, p := range parts {
			if p.Type == "text" {
				text += p.Text
			}
		}
	}
	sub := approvalReplyRE.FindStringSubmatch(text)
	if sub == nil {
		return false, "", false
	}
	return strings.HasPrefix(strings.ToLower(sub[1]), "approve"), sub[2], true
}

// resumeFrom checks whether the request answers an approval question of
// its caller; if so the paused round is taken and the conversation made
// what it was at the pause. stripped are the client's messages without
// the bridge's details blocks.
func (r *run) resumeFrom(stripped []json.RawMessage) {
	if r.s.opts.Approver == nil {
		return
	}
	approve, code, ok := approvalReply(stripped)
	if !ok {
		return
	}
	p := r.s.approvals.take(r.owner, conversationHash(stripped[:len(stripped)-2]), code)
	if p == nil {
		return
	}
	n := min(p.base, len(r.messages)-2)
	r.messages = append(append(r.messages[:n:n], p.extra...), p.assistant)
	r.base, r.grown = n, true
	r.resume, r.resumeApproved = p, approve
}

// pauseForApproval pauses the round when one of calls needs approval: it
// remembers the round and ends the answer with the question. It reports
// whether it did; the error is that of writing the answer.
func (r *run) pauseForApproval(res *roundResult, calls, theirs []llm.ToolCall) (bool, error) {
	ap := r.s.opts.Approver
	if ap == nil {
		return false, nil
	}
	var needs []string
	for _, c := range calls {
		if r.searching && c.Name == searchToolName {
			continue // searching runs nothing
		}
		if ap.NeedsApproval(c.Name) && !slices.Contains(needs, c.Name) {
			needs = append(needs, c.Name)
		}
	}
	if len(needs) == 0 {
		return false, nil
	}
	p := &pausedRound{code: strings.ToUpper(rand.Text()[:6]), owner: r.owner, conv: r.convHash(), base: r.base,
		extra: slices.Clone(r.messages[r.base:]), assistant: assistantMessage(res, res.calls), calls: calls, theirs: theirs, needs: needs}
	if !r.s.approvals.put(p) {
		return true, r.stop("The model wants to run tools that need your approval, but this conversation is too large to hold while waiting for it. Nothing was run.")
	}
	for _, name := range needs {
		r.s.obs.Guard(context.Background(), &observe.GuardEvent{RequestID: r.reqID, Identity: identity(r.p),
			Kind: observe.GuardApproval, Rule: "approval", Action: "asked", Tool: name, Server: r.s.serverOf(name), Where: "arguments"})
	}
	var b strings.Builder
	b.WriteString(r.roundSeparator())
	b.WriteString("Approval needed: the model wants to run\n")
	for _, c := range calls {
		mark := ""
		if slices.Contains(needs, c.Name) {
			mark = " (needs approval)"
		}
		fmt.Fprintf(&b, "- %s%s with `%s`\n", c.Name, mark, mcpclient.Redact(shownArguments(c.Arguments), r.s.opts.Secrets))
	}
	fmt.Fprintf(&b, "\nReply **approve** to run it, or **deny** (approval code %s).", p.code)
	return true, r.stop(b.String())
}

// resumeApproval runs the paused round a reply resumed: its tool messages
// join the conversation and the loop goes on, or, when the round called
// the client's tools too, those are returned to the client as in any
// mixed turn (done is then true: the answer is complete).
func (r *run) resumeApproval(ctx context.Context) (done bool, err error) {
	p := r.resume
	if p == nil {
		return false, nil
	}
	r.resume = nil
	action := "denied"
	if r.resumeApproved {
		action = "approved"
	}
	for _, name := range p.needs {
		r.s.obs.Guard(ctx, &observe.GuardEvent{RequestID: r.reqID, Identity: identity(r.p), Kind: observe.GuardApproval,
			Rule: "approval", Action: action, Tool: name, Server: r.s.serverOf(name), Where: "arguments"})
	}
	run := p.calls
	if r.resumeApproved {
		ctx = r.s.opts.Approver.Approved(ctx, p.needs...)
	} else {
		run = nil
		for _, c := range p.calls {
			if !slices.Contains(p.needs, c.Name) {
				run = append(run, c)
			}
		}
	}
	outcomes, err := r.execute(ctx, run)
	if err != nil {
		return false, err
	}
	byID := map[string]toolOutcome{}
	for _, o := range outcomes {
		byID[o.call.ID] = o
	}
	var toolMsgs []json.RawMessage
	for _, c := range p.calls {
		o, ran := byID[c.ID]
		if !ran {
			o = toolOutcome{call: c, isError: true, text: fmt.Sprintf("Error: the user denied the call to %s; it was not run. Do not call it again unless the user asks.", c.Name)}
		}
		toolMsgs = append(toolMsgs, toolMessage(o))
		r.addFound(o.found)
	}
	if len(p.theirs) > 0 {
		return true, r.handBack(p.theirs, p.assistant, toolMsgs, len(p.calls))
	}
	r.messages = append(r.messages, toolMsgs...)
	return false, nil
}

// shownArguments are a call's arguments as the question shows them: on
// one line, cut past 2000 bytes.
func shownArguments(args string) string {
	s := strings.TrimSpace(args)
	if s == "" {
		s = "{}"
	}
	s = strings.NewReplacer("\n", " ", "\r", " ", "`", "'").Replace(s)
	if len(s) > 2000 {
		s = strings.ToValidUTF8(s[:2000], "") + "..."
	}
	return s
}
