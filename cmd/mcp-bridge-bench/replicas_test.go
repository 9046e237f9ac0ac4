package main

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestKeyedTargetSpreadsRequests checks scenario 6's shared target sends
// its requests to each replica in turn, each with the bench key.
func TestKeyedTargetSpreadsRequests(t *testing.T) {
	var counts [2]atomic.Int32
	var urls []string
	for i := range counts {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+benchKey {
				http.Error(w, "no key", http.StatusUnauthorized)
				return
			}
			counts[i].Add(1)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(plainCompletion)
		}))
		defer srv.Close()
		urls = append(urls, srv.URL+"/v1")
	}
	tg := keyedTarget("shared", 0, urls...)
	br := bufio.NewReader(nil)
	for range 6 {
		if _, err := tg.send(t.Context(), &request{body: []byte(plainBody)}, br); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := counts[0].Load(), counts[1].Load(); a != 3 || b != 3 {
		t.Errorf("requests per replica %d and %d, want 3 and 3", a, b)
	}
}

// TestReplicasSection checks scenario 6's table is in the report, with
// its ratios, once the scenario ran, and absent otherwise.
func TestReplicasSection(t *testing.T) {
	r := newReport(&options{runs: 1})
	var b strings.Builder
	r.replicasTable(&b)
	if b.Len() != 0 {
		t.Errorf("a section without measurements: %s", b.String())
	}
	for _, c := range concurrencies {
		r.s6.add(key(c, "in-process", "lat"), 200)
		r.s6.add(key(c, "shared", "lat"), 500)
		r.s6.add(key(c, "added"), 300)
		r.s6.add(key(c, "lat_ratio"), 2.5)
		r.s6.add(key(c, "in-process", "rps"), 4000)
		r.s6.add(key(c, "shared", "rps"), 1600)
		r.s6.add(key(c, "rps_ratio"), 0.4)
	}
	r.replicasTable(&b)
	mustHave := []string{"## Scenario 6", "| 1 | 200 µs | 500 µs | +300 µs | 2.50 | 4000 | 1600 | 0.40 |"}
	for _, s := range mustHave {
		if !strings.Contains(b.String(), s) {
			t.Errorf("section lacks %q:\n%s", s, b.String())
		}
	}
}
