package bridge

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/bridge/observe"
	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// upstreamAttempts records the upstream attempts the observers are told of.
type upstreamAttempts struct {
	observe.Nop
	lockedList[int]
}

func (u *upstreamAttempts) UpstreamRequest(_ context.Context, r *observe.UpstreamRecord) {
	u.add(r.Code)
}

// TestUpstreamAttemptsReported checks an attempt that got no answer is
// reported (code 0) while the request is live, an answered one with its
// status, and one cut by the request's own end (the deadline here, a
// client that left alike) is not: it is not the upstream's failure.
func TestUpstreamAttemptsReported(t *testing.T) {
	reg := mcpclient.NewRegistry(nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg.Start(ctx)
	defer reg.Close()
	dead := &upstreamAttempts{}
	b, err := New(Options{Upstream: deadUpstream(t), Tools: reg, Observer: dead})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b.Handler())
	defer srv.Close()
	dh := &harness{t: t, srv: srv}
	if status, v := dh.postJSON(`{"model":"m","messages":[{"role":"user","content":"x"}]}`); status != http.StatusBadGateway {
		t.Fatalf("upstream down: %d %v", status, v)
	}
	if got := dead.all(); len(got) != 1 || got[0] != 0 {
		t.Errorf("attempts reported with the upstream down: %v, want one of code 0", got)
	}

	answered := &upstreamAttempts{}
	h := newHarness(t, Options{Observer: answered}, nil, llmtest.Completion("hi"))
	if status, _ := h.postJSON(`{"model":"m","messages":[{"role":"user","content":"x"}]}`); status != http.StatusOK {
		t.Fatalf("answered: %d", status)
	}
	if got := answered.all(); len(got) != 1 || got[0] != http.StatusOK {
		t.Errorf("attempts reported of an answer: %v, want one of code 200", got)
	}

	cut := &upstreamAttempts{}
	h = newHarness(t, Options{Observer: cut, Deadline: 200 * time.Millisecond, Keepalive: -1}, nil, llmtest.Silent())
	if status, _ := h.postJSON(`{"model":"m","messages":[{"role":"user","content":"x"}]}`); status != http.StatusGatewayTimeout {
		t.Fatalf("deadline: %d", status)
	}
	if got := cut.all(); len(got) != 0 {
		t.Errorf("attempts reported when the request itself ended: %v, want none", got)
	}
}

// batchCounter is a collector that counts the batches it is given.
type batchCounter struct {
	*collector
	batches int
}

func (b *batchCounter) startBatch() { b.batches++ }

// TestStreamBatchesOf64Events checks events that arrived together are
// handled in batches of at most 64, each flushed once: 65 events read at
// once (3 KB, within one read of the event reader) make batches of 64
// and 1.
func TestStreamBatchesOf64Events(t *testing.T) {
	out := &batchCounter{collector: &collector{}}
	r := &run{out: out}
	res, err := r.readStream(context.Background(), strings.NewReader(strings.Repeat("data:{\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n", 65)))
	if err != nil {
		t.Fatal(err)
	}
	if res.text != strings.Repeat("x", 65) || out.batches != 2 {
		t.Errorf("%d bytes of text in %d batches, want 65 in 2", len(res.text), out.batches)
	}
}
