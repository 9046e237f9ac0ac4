package llm

import (
	"context"
	"errors"
	"io"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"
)

func TestParseModels(t *testing.T) {
	const now = 1700000000
	tests := []struct {
		name string
		body string
		want []Model
	}{
		{
			name: "filled in",
			body: `{"object":"list","data":[{"id":"a"},{"id":"b","object":"x","created":5,"owned_by":"me"},{"id":""},{"created":3},{"id":"c","created":"yesterday","owned_by":null}]}`,
			want: []Model{
				{ID: "a", Object: "model", Created: now, OwnedBy: "upstream"},
				{ID: "b", Object: "model", Created: 5, OwnedBy: "me"},
				{ID: "c", Object: "model", Created: now, OwnedBy: "upstream"},
			},
		},
		{
			name: "llama.cpp extra members",
			body: `{"models":[{"name":"m"}],"object":"list","data":[{"id":"m.gguf","object":"model","created":1760000000,"owned_by":"llamacpp","meta":{"n_ctx":4096}}]}`,
			want: []Model{{ID: "m.gguf", Object: "model", Created: 1760000000, OwnedBy: "llamacpp"}},
		},
		{name: "no data", body: `{"object":"list"}`, want: []Model{}},
		{name: "data null", body: `{"data":null}`, want: []Model{}},
		{name: "data not a list", body: `{"data":{"id":"a"}}`, want: []Model{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseModels([]byte(tt.body), now)
			if err != nil {
				t.Fatal(err)
			}
			if got.Object != "list" || !reflect.DeepEqual(got.Data, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	if _, err := parseModels([]byte(`{"data":[`), now); err == nil {
		t.Error("invalid JSON: no error")
	}
}

func modelsUpstream(t *testing.T, body string) *upstream {
	return newUpstream(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/v1/models" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, body)
	})
}

func TestModels(t *testing.T) {
	u := modelsUpstream(t, `{"data":[{"id":"a"},{"id":"b","created":7,"owned_by":"o"}]}`)
	c := newTestClient(t, Options{BaseURL: u.URL + "/v1", ModelsTTL: time.Hour, APIKey: "k"})
	before := time.Now().Unix()
	l, err := c.Models(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := u.lastRequest(); r.Header.Get("Authorization") != "Bearer k" {
		t.Errorf("Authorization %q", r.Header.Get("Authorization"))
	}
	if len(l.Data) != 2 || l.Object != "list" || l.Data[0].Created < before || l.Data[0].OwnedBy != "upstream" ||
		l.Data[1] != (Model{ID: "b", Object: "model", Created: 7, OwnedBy: "o"}) {
		t.Fatalf("list %+v", l)
	}

	// Cached, and the caller's copy is its own.
	l.Data[0].ID = "changed"
	l.Data = append(l.Data, Model{ID: "alias"})
	again, err := c.Models(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := u.count.Load(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
	if len(again.Data) != 2 || again.Data[0].ID != "a" {
		t.Errorf("cached list changed by a caller: %+v", again)
	}
}

func TestModelsExpire(t *testing.T) {
	u := modelsUpstream(t, `{"data":[{"id":"a"}]}`)
	c := newTestClient(t, Options{BaseURL: u.URL + "/v1", ModelsTTL: time.Nanosecond})
	for range 3 {
		if _, err := c.Models(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := u.count.Load(); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

func TestModelsErrorsNotCached(t *testing.T) {
	u := newUpstream(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 1:
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"no"}`)
		case 2:
			io.WriteString(w, `not json`)
		default:
			io.WriteString(w, `{"data":[{"id":"a"}]}`)
		}
	})
	c := newTestClient(t, Options{BaseURL: u.URL, ModelsTTL: time.Hour})
	_, err := c.Models(context.Background())
	var e *Error
	if !errors.As(err, &e) || e.StatusCode != 401 || e.Message != "no" {
		t.Fatalf("first: %#v", err)
	}
	_, err = c.Models(context.Background())
	if !errors.As(err, &e) || e.StatusCode != 200 || e.Message != "upstream sent an invalid model list" {
		t.Fatalf("second: %#v", err)
	}
	l, err := c.Models(context.Background())
	if err != nil || len(l.Data) != 1 {
		t.Fatalf("third: %+v, %v", l, err)
	}
}

func TestModelsConcurrentCallersShareFetch(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	u := newUpstream(t, func(n int, w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		io.WriteString(w, `{"data":[{"id":"a"}]}`)
	})
	c := newTestClient(t, Options{BaseURL: u.URL, ModelsTTL: time.Hour})

	// A caller that gives up returns at once; the fetch goes on.
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Models(ctx)
		errc <- err
	}()
	<-entered
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled caller: %v", err)
	}

	var wg sync.WaitGroup
	results := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			l, err := c.Models(context.Background())
			if err == nil && (len(l.Data) != 1 || l.Data[0].ID != "a") {
				err = errors.New("wrong list")
			}
			results <- err
		})
	}
	close(release)
	wg.Wait()
	close(results)
	for err := range results {
		if err != nil {
			t.Error(err)
		}
	}
	if n := u.count.Load(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}
