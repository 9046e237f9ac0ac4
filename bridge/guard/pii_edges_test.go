package guard

import (
	"context"
	"testing"

	"github.com/mcp-bridge/mcp-bridge/bridge/observe"
)

// TestPersonalDataAtTheBoundsOfEachType checks the bounds of each type's
// check hold at both ends (13 and 19 digits for a card, 15 and 34
// characters for an IBAN, 10 and 15 digits for a phone), that every
// occurrence in a text is masked, not only the first, and that an @
// before an address (a handle) does not hide the address.
func TestPersonalDataAtTheBoundsOfEachType(t *testing.T) {
	g, rec := newGuard(t, Options{PII: Mask})
	for _, tc := range []struct{ name, in, want, rule string }{
		{"card of 13 digits", "card 4222222222222.", "card [REDACTED:card-number].", RuleCard},
		{"card of 19 digits", "card 6011000990139424124.", "card [REDACTED:card-number].", RuleCard},
		{"iban of 15 characters", "iban NO9386011117947.", "iban [REDACTED:iban].", RuleIBAN},
		{"iban of 34 characters", "iban LC8812345678901234567890ABCDEFGHIJ.", "iban [REDACTED:iban].", RuleIBAN},
		{"phone of 10 digits", "call 212-555-0187.", "call [REDACTED:phone].", RulePhone},
		{"phone of 15 digits", "call +86 138 0013 8000 12.", "call [REDACTED:phone].", RulePhone},
		{"two addresses", "jane.doe@example.org and john.roe@example.org", "[REDACTED:email] and [REDACTED:email]", RuleEmail},
		{"two cards", "4111 1111 1111 1111 or 5500005555555559", "[REDACTED:card-number] or [REDACTED:card-number]", RuleCard},
		{"an address after a handle", "@jane wrote from jane.doe@example.org", "@jane wrote from [REDACTED:email]", RuleEmail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := resultText(g.Result(context.Background(), testTool, textResult(tc.in))); got != tc.want {
				t.Errorf("masked %q as %q, want %q", tc.in, got, tc.want)
			}
			if !rec.has(observe.GuardPII, tc.rule, Mask) {
				t.Errorf("no pii event of rule %s", tc.rule)
			}
		})
	}
	// One digit or character past each bound is no longer the type.
	for _, s := range []string{"phone +86 138 0013 8000 123", "iban LC8812345678901234567890ABCDEFGHIJK"} {
		if got := resultText(g.Result(context.Background(), testTool, textResult(s))); got != s {
			t.Errorf("%q masked as %q, want it unchanged", s, got)
		}
	}
}
