package observe

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestAuditReopen: after a rotation renamed the file, Reopen starts a new
// file under the name and the lines go there; when the name cannot be
// opened again, Reopen fails and the lines go on to the old file.
func TestAuditReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")
	a, err := NewAudit(AuditOptions{File: path})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := context.Background()
	read := func(p string) string {
		t.Helper()
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	a.ConfigReload(ctx, true, "first")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := a.Reopen(); err != nil {
		t.Fatal(err)
	}
	a.ConfigReload(ctx, true, "second")
	if old, now := read(path+".1"), read(path); !strings.Contains(old, "first") || strings.Contains(old, "second") || !strings.Contains(now, "second") {
		t.Errorf("after Reopen: old file %q, new file %q", old, now)
	}

	// The name now cannot be opened: a directory took its place.
	if err := os.Rename(path, path+".2"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := a.Reopen(); err == nil {
		t.Error("Reopen over a directory succeeded")
	}
	a.ConfigReload(ctx, true, "third")
	if err := a.Healthy(); err != nil {
		t.Errorf("after a failed Reopen: %v", err)
	}
	if got := read(path + ".2"); !strings.Contains(got, "third") {
		t.Errorf("after a failed Reopen the old file has %q", got)
	}
}

// TestAuditClose: Close closes the file, and a line written after it
// fails (Healthy says so); closing an audit of a Writer does nothing.
func TestAuditClose(t *testing.T) {
	a, err := NewAudit(AuditOptions{File: filepath.Join(t.TempDir(), "audit.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	a.ConfigReload(context.Background(), true, "late")
	if err := a.Healthy(); err == nil {
		t.Error("a line written after Close succeeded")
	}
	w, err := NewAudit(AuditOptions{Writer: &bytes.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("closing an audit of a Writer: %v", err)
	}
}

// TestAuditWriteErrorsLoggedOnce: a run of failed writes is logged once,
// at error level, when it begins, and the first write that succeeds again
// once, at info level; writes that succeed log nothing.
func TestAuditWriteErrorsLoggedOnce(t *testing.T) {
	var logs bytes.Buffer
	w := &failingWriter{}
	a, err := NewAudit(AuditOptions{Writer: w, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, broken := range []bool{false, false, true, true, true, false, false} {
		w.mu.Lock()
		w.broken = broken
		w.mu.Unlock()
		a.ConfigReload(ctx, true, "")
	}
	out := logs.String()
	if n := strings.Count(out, "level=ERROR msg=\"audit log: write failed"); n != 1 {
		t.Errorf("%d write failures logged, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "level=INFO msg=\"audit log: writing again\""); n != 1 {
		t.Errorf("%d recoveries logged, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "\n"); n != 2 {
		t.Errorf("%d lines logged, want 2:\n%s", n, out)
	}
}

// TestSecretKeyCamelCase: a camelCase name ending in Key ("accessKey",
// "signingKey") is a secret's, as "key" and "*_key" are; "Key" alone too.
func TestSecretKeyCamelCase(t *testing.T) {
	for k, want := range map[string]bool{"accessKey": true, "signingKey": true, "Key": true, "key": true,
		"monkey": false, "Keyword": false, "keys": false} {
		if got := secretKey(k); got != want {
			t.Errorf("secretKey(%q) = %v, want %v", k, got, want)
		}
	}
	got := string(RedactArguments([]byte(`{"accessKey":"AKIA-visible?"}`), nil))
	if strings.Contains(got, "AKIA") {
		t.Errorf("accessKey's value in %s", got)
	}
}

// TestCut: a string of n bytes stays whole; a longer one is cut on a
// character boundary at most n bytes in, even when byte n is inside a
// character, and even in bytes that are not UTF-8 at all.
func TestCut(t *testing.T) {
	if s := strings.Repeat("a", 8); cut(s, 8) != s {
		t.Errorf("cut of exactly n bytes: %q", cut(s, 8))
	}
	odd := "a" + strings.Repeat("é", 8) // byte 8 is the second byte of an é
	if got := cut(odd, 8); got != "a"+strings.Repeat("é", 3)+"…[cut]" || !utf8.ValidString(got) {
		t.Errorf("cut inside a character: %q", got)
	}
	if got := cut(strings.Repeat("\x80", 16), 8); got != "…[cut]" {
		t.Errorf("cut of bytes without a character start: %q", got)
	}
}
