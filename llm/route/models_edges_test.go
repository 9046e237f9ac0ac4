package route

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/llm"
)

// listing answers a model list of ids, each created at created.
func listing(created int64, ids ...string) *fake {
	return &fake{models: func(context.Context) (*llm.ModelList, error) {
		l := &llm.ModelList{Object: "list"}
		for _, id := range ids {
			l.Data = append(l.Data, llm.Model{ID: id, Object: "model", Created: created})
		}
		return l, nil
	}}
}

// TestModelsLoneUpstreamIsWaitedFor: with one upstream, its list is asked
// for under the caller's context alone, with no ModelsTimeout cut-off.
func TestModelsLoneUpstreamIsWaitedFor(t *testing.T) {
	var deadline []bool
	f := &fake{models: func(ctx context.Context) (*llm.ModelList, error) {
		_, ok := ctx.Deadline()
		deadline = append(deadline, ok)
		return &llm.ModelList{Object: "list", Data: []llm.Model{{ID: "m", Object: "model"}}}, nil
	}}
	r, _ := New(Options{Upstreams: []Upstream{{Name: "only", Client: f}}, ModelsTimeout: time.Millisecond})
	if l, err := r.Models(context.Background()); err != nil || len(l.Data) != 1 || len(deadline) != 1 || deadline[0] {
		t.Errorf("models %+v, %v; the lone upstream's context had a deadline: %v", l, err, deadline)
	}
}

// TestModelsTimeoutDefaultsTo3s: with several upstreams and no
// ModelsTimeout, each list is asked for with 3 s to answer, and a set
// ModelsTimeout is kept.
func TestModelsTimeoutDefaultsTo3s(t *testing.T) {
	for _, c := range []struct {
		set, want time.Duration
	}{{0, 3 * time.Second}, {time.Hour, time.Hour}} {
		deadlines := make(chan time.Time, 2)
		f := &fake{models: func(ctx context.Context) (*llm.ModelList, error) {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			d, _ := ctx.Deadline()
			deadlines <- d
			return &llm.ModelList{Object: "list"}, nil
		}}
		r, _ := New(Options{Upstreams: []Upstream{{Name: "a", Client: f}, {Name: "b", Client: f}}, ModelsTimeout: c.set})
		before := time.Now()
		_, err := r.Models(context.Background())
		after := time.Now()
		if err != nil {
			t.Fatalf("ModelsTimeout %v: %v", c.set, err)
		}
		close(deadlines)
		n := 0
		for d := range deadlines {
			n++
			if d.Before(before.Add(c.want)) || d.After(after.Add(c.want)) {
				t.Errorf("ModelsTimeout %v: deadline %v after the call began, want %v", c.set, d.Sub(before), c.want)
			}
		}
		if n != 2 {
			t.Errorf("ModelsTimeout %v: %d upstreams asked with a live context, want 2", c.set, n)
		}
	}
}

// TestModelsErrorIsTheFirstUpstreams: when no upstream lists its models,
// the error is the first upstream's.
func TestModelsErrorIsTheFirstUpstreams(t *testing.T) {
	errA, errB := errors.New("a is down"), errors.New("b is down")
	a := &fake{models: func(context.Context) (*llm.ModelList, error) { return nil, errA }}
	b := &fake{models: func(context.Context) (*llm.ModelList, error) { return nil, errB }}
	r, _ := New(Options{Upstreams: []Upstream{{Name: "a", Client: a}, {Name: "b", Client: b}}})
	if l, err := r.Models(context.Background()); l != nil || !errors.Is(err, errA) {
		t.Errorf("models %+v, err %v; want a's error", l, err)
	}
}

// TestModelsAliasCreated: an alias is dated as the newest model listed, or
// now when no listed model has a date.
func TestModelsAliasCreated(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	aliases := map[string][]Target{"fast": {{Upstream: "a"}}}
	for _, c := range []struct {
		a, b *fake
		want int64
	}{
		{listing(5, "x"), listing(9, "y"), 9},
		{listing(0, "x"), listing(0, "y"), now.Unix()},
	} {
		r, _ := New(Options{Upstreams: []Upstream{{Name: "a", Client: c.a}, {Name: "b", Client: c.b}}, Aliases: aliases,
			now: func() time.Time { return now }})
		l, err := r.Models(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if last := l.Data[len(l.Data)-1]; last.ID != "fast" || last.Created != c.want {
			t.Errorf("alias %+v, want created %d", last, c.want)
		}
	}
}
