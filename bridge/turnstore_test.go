package bridge

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// memGet and memTake are m.Get and m.Take of key as a string; "" when
// there is none.
func memGet(t *testing.T, m *memTurns, key string) string {
	t.Helper()
	return memRead(t, m.Get, key)
}

func memTake(t *testing.T, m *memTurns, key string) string {
	t.Helper()
	return memRead(t, m.Take, key)
}

func memRead(t *testing.T, read func(context.Context, string) ([]byte, error), key string) string {
	t.Helper()
	b, err := read(context.Background(), key)
	if err != nil {
		t.Fatalf("reading %q: %v", key, err)
	}
	return string(b)
}

func memPut(t *testing.T, m *memTurns, value string, ttl time.Duration, keys ...string) {
	t.Helper()
	if err := m.Put(context.Background(), keys, []byte(value), ttl); err != nil {
		t.Fatalf("Put %q: %v", keys, err)
	}
}

// memHeld checks m holds n entries of total bytes.
func memHeld(t *testing.T, m *memTurns, n int, total int64) {
	t.Helper()
	if gotN, gotTotal := m.len(); gotN != n || gotTotal != total {
		t.Errorf("held %d entries of %d bytes, want %d of %d", gotN, gotTotal, n, total)
	}
}

// TestMemTurnsExpiry checks an entry is returned up to its expiry and not
// after, by Get or Take, and that the next Put drops it.
func TestMemTurnsExpiry(t *testing.T) {
	clock := newFakeClock()
	m := newMemTurns(10, 1000)
	m.now = clock.now
	memPut(t, m, "short", time.Minute, "a")
	memPut(t, m, "long", time.Hour, "b")
	clock.advance(time.Minute)
	if got := memGet(t, m, "a"); got != "short" {
		t.Fatalf("at its expiry Get = %q", got)
	}
	clock.advance(time.Nanosecond)
	if got := memGet(t, m, "a"); got != "" {
		t.Errorf("expired entry returned by Get: %q", got)
	}
	if got := memTake(t, m, "a"); got != "" {
		t.Errorf("expired entry returned by Take: %q", got)
	}
	if got := memGet(t, m, "b"); got != "long" {
		t.Errorf("live entry Get = %q", got)
	}
	memPut(t, m, "c", time.Minute, "c1", "c2")
	memHeld(t, m, 2, int64(len("long")+len("c")))
	clock.advance(time.Hour)
	memPut(t, m, "d", time.Minute, "d") // drops b and c, which expired
	memHeld(t, m, 1, int64(len("d")))
	if memGet(t, m, "b") != "" || memGet(t, m, "c1") != "" || memGet(t, m, "c2") != "" {
		t.Error("an expired entry is still found")
	}
}

// TestMemTurnsCountBound checks at most max entries are kept, the oldest
// going first with all its keys.
func TestMemTurnsCountBound(t *testing.T) {
	m := newMemTurns(2, 1000)
	memPut(t, m, "A", time.Hour, "a1", "a2")
	memPut(t, m, "B", time.Hour, "b")
	memPut(t, m, "C", time.Hour, "c")
	if memGet(t, m, "a1") != "" || memGet(t, m, "a2") != "" {
		t.Error("the oldest entry was not evicted")
	}
	if memGet(t, m, "b") != "B" || memGet(t, m, "c") != "C" {
		t.Error("a newer entry was evicted")
	}
	memHeld(t, m, 2, 2)
}

// TestMemTurnsByteBound checks the values together stay within maxTotal,
// the oldest going first, and that a value too large for it alone is kept
// alone.
func TestMemTurnsByteBound(t *testing.T) {
	m := newMemTurns(10, 250)
	v := strings.Repeat("x", 100)
	memPut(t, m, v, time.Hour, "a")
	memPut(t, m, v, time.Hour, "b")
	memPut(t, m, v, time.Hour, "c") // 300 > 250: a goes
	if memGet(t, m, "a") != "" || memGet(t, m, "b") != v || memGet(t, m, "c") != v {
		t.Error("wrong entries kept under the byte bound")
	}
	memHeld(t, m, 2, 200)
	memPut(t, m, strings.Repeat("y", 300), time.Hour, "big")
	memHeld(t, m, 1, 300)
	if memGet(t, m, "b") != "" || memGet(t, m, "big") == "" {
		t.Error("an entry larger than the bound was not kept alone")
	}
}

// TestMemTurnsKeys checks an entry under several keys counts once, that a
// Take removes its key only, the entry going with its last key, and that
// a Put under a key takes it from the entry that held it.
func TestMemTurnsKeys(t *testing.T) {
	m := newMemTurns(10, 1000)
	memPut(t, m, "turn", time.Hour, "k1", "k2", "k3")
	memHeld(t, m, 1, 4)
	if got := memTake(t, m, "k1"); got != "turn" {
		t.Fatalf("Take k1 = %q", got)
	}
	if memGet(t, m, "k1") != "" || memTake(t, m, "k1") != "" {
		t.Error("a taken key still leads to its entry")
	}
	if memGet(t, m, "k2") != "turn" {
		t.Error("a Take of one key removed the others")
	}
	memHeld(t, m, 1, 4)
	memPut(t, m, "other", time.Hour, "k2") // k2 now leads elsewhere
	memHeld(t, m, 2, 9)
	if memGet(t, m, "k2") != "other" || memGet(t, m, "k3") != "turn" {
		t.Error("a Put under a key did not replace only that key")
	}
	if memTake(t, m, "k3") != "turn" {
		t.Error("Take k3 found nothing")
	}
	memHeld(t, m, 1, 5) // turn went with its last key
	memTake(t, m, "k2")
	memHeld(t, m, 0, 0)
	if !m.empty() {
		t.Error("not empty once every key was taken")
	}
	if b, err := m.Get(context.Background(), "missing"); b != nil || err != nil {
		t.Errorf("Get of a missing key = %q, %v", b, err)
	}
	if b, err := m.Take(context.Background(), "missing"); b != nil || err != nil {
		t.Errorf("Take of a missing key = %q, %v", b, err)
	}
	memPut(t, m, "dup", time.Hour, "d", "d")
	memHeld(t, m, 1, 3)
	memTake(t, m, "d")
	memHeld(t, m, 0, 0)
}

// TestMemTurnsConcurrent puts, gets and takes from several goroutines;
// each finds what it put, and nothing is left.
func TestMemTurnsConcurrent(t *testing.T) {
	m := newMemTurns(10000, 1<<20)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				k := fmt.Sprintf("%d/%d", g, i)
				_ = m.Put(context.Background(), []string{k, k + "b"}, []byte(k), time.Hour)
				got, _ := m.Get(context.Background(), k)
				taken, _ := m.Take(context.Background(), k)
				rest, _ := m.Take(context.Background(), k+"b")
				if string(got) != k || string(taken) != k || string(rest) != k {
					errs <- fmt.Sprintf("%s: got %q, took %q and %q", k, got, taken, rest)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	memHeld(t, m, 0, 0)
}
