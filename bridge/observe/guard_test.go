package observe

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestGuardEventsCountedAndAudited(t *testing.T) {
	m := NewMetrics(nil)
	var buf bytes.Buffer
	a, err := NewAudit(AuditOptions{Writer: &buf})
	if err != nil {
		t.Fatal(err)
	}
	o := Multi(m, a)
	ctx := context.Background()
	for range 2 {
		o.Guard(ctx, &GuardEvent{Kind: GuardSecret, Rule: "aws-access-token", Action: "mask", Tool: "fs__read", Server: "fs", Where: "result"})
	}
	o.Guard(ctx, &GuardEvent{Identity: "alice", Kind: GuardApproval, Rule: "approval", Action: "approved", Tool: "fs__write"})

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mt := range fams["mcp_bridge_guard_events_total"].GetMetric() {
		key := ""
		for _, l := range mt.GetLabel() {
			key += l.GetName() + "=" + l.GetValue() + " "
		}
		got[key] = mt.GetCounter().GetValue()
	}
	if got["action=mask kind=secret rule=aws-access-token "] != 2 || got["action=approved kind=approval rule=approval "] != 1 || len(got) != 2 {
		t.Errorf("guard series = %v", got)
	}

	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 3 {
		t.Fatalf("audit lines:\n%s", buf.String())
	}
	var l map[string]any
	if err := json.Unmarshal(lines[2], &l); err != nil {
		t.Fatal(err)
	}
	if l["event"] != "guard" || l["kind"] != "approval" || l["action"] != "approved" || l["identity"] != "alice" || l["tool"] != "fs__write" {
		t.Errorf("audit line = %s", lines[2])
	}
}
