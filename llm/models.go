package llm

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// ModelList is an OpenAI "list" of models.
type ModelList struct {
	Object string  `json:"object"`
	Data   []Model `json:"data"`
}

// Model is one entry of a ModelList.
type Model struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// Clone returns a copy of l that shares nothing with it. A nil l gives nil.
func (l *ModelList) Clone() *ModelList {
	if l == nil {
		return nil
	}
	return &ModelList{Object: l.Object, Data: slices.Clone(l.Data)}
}

// maxModelsBody bounds a model list response (routers list thousands).
const maxModelsBody = 32 << 20

// modelsFetchTimeout bounds a shared fetch, which no single caller's
// context cancels.
const modelsFetchTimeout = 30 * time.Second

type modelsCache struct {
	mu       sync.Mutex
	list     *ModelList
	fetched  time.Time
	inflight *modelsFetch
}

type modelsFetch struct {
	done chan struct{}
	list *ModelList
	err  error
}

// Models returns the upstream's model list from GET {BaseURL}/models,
// cached for Options.ModelsTTL. Concurrent callers share one fetch, which
// is retried like ChatCompletions. Every entry has object "model", a
// created time (the time of the fetch when the upstream gave none) and an
// owner ("upstream" when the upstream gave none); entries without an id are
// dropped. The result is the caller's to modify.
//
// Failures are returned as *Error and are not cached. When ctx ends first,
// Models returns at once and the shared fetch carries on for the other
// callers.
func (c *Client) Models(ctx context.Context) (*ModelList, error) {
	m := &c.models
	m.mu.Lock()
	if m.list != nil && time.Since(m.fetched) < c.modelsTTL {
		l := m.list.Clone()
		m.mu.Unlock()
		return l, nil
	}
	f := m.inflight
	if f == nil {
		f = &modelsFetch{done: make(chan struct{})}
		m.inflight = f
		go c.fetchModels(context.WithoutCancel(ctx), f)
	}
	m.mu.Unlock()

	select {
	case <-f.done:
		if f.err != nil {
			return nil, f.err
		}
		return f.list.Clone(), nil
	case <-ctx.Done():
		return nil, ctxError(ctx, opModels, ctx.Err())
	}
}

func (c *Client) fetchModels(ctx context.Context, f *modelsFetch) {
	ctx, cancel := context.WithTimeout(ctx, modelsFetchTimeout)
	defer cancel()
	f.list, f.err = c.getModels(ctx)

	m := &c.models
	m.mu.Lock()
	if f.err == nil {
		m.list, m.fetched = f.list, time.Now()
	}
	m.inflight = nil
	m.mu.Unlock()
	close(f.done)
}

func (c *Client) getModels(ctx context.Context) (*ModelList, error) {
	resp, err := c.do(ctx, http.MethodGet, c.modelsURL, opModels, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxModelsBody))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctxError(ctx, opModels, err)
		}
		var te *Error
		if errors.As(err, &te) {
			return nil, te // a timeout, which says it all
		}
		return nil, &Error{StatusCode: resp.StatusCode, Message: "reading the model list failed", Err: err, op: opModels}
	}
	list, err := parseModels(body, time.Now().Unix())
	if err != nil {
		return nil, &Error{StatusCode: resp.StatusCode, Message: "upstream sent an invalid model list", Err: err, op: opModels}
	}
	return list, nil
}

// parseModels decodes a model list tolerantly and fills in what the
// upstream left out; now is the created time given to models without one.
func parseModels(body []byte, now int64) (*ModelList, error) {
	var w struct {
		Data []struct {
			ID      lenientString `json:"id"`
			Created lenientInt64  `json:"created"`
			OwnedBy lenientString `json:"owned_by"`
		} `json:"data"`
	}
	if err := decodeTolerant(body, &w); err != nil {
		return nil, err
	}
	list := &ModelList{Object: "list", Data: make([]Model, 0, len(w.Data))}
	for _, d := range w.Data {
		if d.ID == "" {
			continue
		}
		m := Model{ID: string(d.ID), Object: "model", Created: int64(d.Created), OwnedBy: string(d.OwnedBy)}
		if m.Created <= 0 {
			m.Created = now
		}
		if m.OwnedBy == "" {
			m.OwnedBy = "upstream"
		}
		list.Data = append(list.Data, m)
	}
	return list, nil
}
