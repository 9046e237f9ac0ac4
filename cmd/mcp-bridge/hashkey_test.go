package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestHashKeyCommand(t *testing.T) {
	const want = "sha256:2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b\n"
	var out, errOut bytes.Buffer
	if err := run(t.Context(), []string{"hash-key", "secret"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if out.String() != want {
		t.Errorf("hash-key secret = %q, want %q", out.String(), want)
	}
	mustContain(t, "stderr", errOut.String(), "6 characters", "at least 16")

	out.Reset()
	if err := hashKeyCmd([]string{"-"}, strings.NewReader("secret\n"), &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if out.String() != want {
		t.Errorf("hash-key - (stdin) = %q, want %q", out.String(), want)
	}
	for _, args := range [][]string{{}, {"a", "b"}} {
		if err := hashKeyCmd(args, strings.NewReader(""), &out, &errOut); err == nil {
			t.Errorf("hash-key %q: no error", args)
		}
	}
	if err := hashKeyCmd([]string{"-"}, strings.NewReader("\n"), &out, &errOut); err == nil {
		t.Error("hash-key of an empty stdin: no error")
	}
	out.Reset()
	if err := run(t.Context(), []string{"hash-key", "--help"}, &out, &errOut); err != nil || !strings.Contains(out.String(), "sha256:") {
		t.Errorf("hash-key --help: %v, %q", err, out.String())
	}
}
