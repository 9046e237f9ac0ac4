package observe

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

// Guard event kinds (GuardEvent.Kind).
const (
	GuardSecret   = "secret"   // a credential in a tool result or arguments
	GuardPII      = "pii"      // personal data in a tool result or arguments
	GuardPattern  = "pattern"  // a configured pattern
	GuardScan     = "scan"     // a tool definition that looks like an attack on the model
	GuardPin      = "pin"      // a tool definition that changed since it was pinned
	GuardApproval = "approval" // a call that needed a person's yes
)

// GuardEvent is one thing the guardrails found or decided. It names
// rules, never the values they matched.
type GuardEvent struct {
	RequestID string
	// Identity is the caller's name, when known.
	Identity string
	// Kind is one of the Guard constants.
	Kind string
	// Rule is the rule that matched: a secret rule's id, email, phone,
	// card-number, iban, a pattern's name, a scan check; for approvals,
	// "approval".
	Rule string
	// Action is what was done: log, mask, block or warn; for pins,
	// approved too (mcp-bridge pins approve); for approvals asked (a chat
	// answer put the question), approved, denied or required (no one
	// could be asked).
	Action string
	// Tool and Server are the tool concerned, when there is one.
	Tool, Server string
	// Where is what was inspected: "result", "arguments" or "definition".
	Where string
	// Reason says more, for pins, scans and approvals ("" otherwise).
	Reason string
}

func newGuardCounter(reg *prometheus.Registry) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "mcp_bridge", Name: "guard_events_total",
		Help: "What the guardrails found or decided, by kind (secret, pii, pattern, scan, pin, approval), rule and action."},
		[]string{"kind", "rule", "action"})
	reg.MustRegister(c)
	return c
}

// Guard counts the event.
func (m *Metrics) Guard(_ context.Context, e *GuardEvent) {
	m.guard.WithLabelValues(e.Kind, e.Rule, e.Action).Inc()
}

// Guard writes a guard line: the rule and the action, never the value.
func (a *Audit) Guard(_ context.Context, e *GuardEvent) {
	a.write(struct {
		line
		Kind   string `json:"kind"`
		Rule   string `json:"rule"`
		Action string `json:"action"`
		Server string `json:"server,omitempty"`
		Tool   string `json:"tool,omitempty"`
		Where  string `json:"where,omitempty"`
		Reason string `json:"reason,omitempty"`
	}{newLine("guard", e.RequestID, e.Identity), e.Kind, cut(e.Rule, 256), e.Action, e.Server, cut(e.Tool, 256), e.Where,
		cut(a.redact(e.Reason), maxValueBytes)})
}
