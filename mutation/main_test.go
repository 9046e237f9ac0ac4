package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// gremlinsJSON is gremlins' output for a package with one mutant of each
// status.
const gremlinsJSON = `{"go_module":"example.com/m","files":[
 {"file_name":"pkg/a.go","mutations":[
  {"type":"CONDITIONALS_NEGATION","status":"KILLED","line":3,"column":5},
  {"type":"CONDITIONALS_BOUNDARY","status":"LIVED","line":3,"column":5},
  {"type":"ARITHMETIC_BASE","status":"LIVED","line":4,"column":9},
  {"type":"INCREMENT_DECREMENT","status":"TIMED OUT","line":5,"column":2},
  {"type":"INVERT_NEGATIVES","status":"NOT VIABLE","line":4,"column":9}]}],
 "mutants_not_covered":7}`

func TestParseExplainsSurvivors(t *testing.T) {
	root := t.TempDir()
	src := "package pkg\n\nif n > max {\n\treturn a | b + c\n\ti++\n"
	if err := os.MkdirAll(filepath.Join(root, "pkg"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "pkg/a.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	reasons, err := parseReasons([]byte("# comment\n\npkg/a.go | ARITHMETIC_BASE | return a | b + c | equivalent: b is always 0 here\n"))
	if err != nil {
		t.Fatal(err)
	}
	res := pkgResult{Pkg: "pkg"}
	if err := res.parse([]byte(gremlinsJSON), root, reasons); err != nil {
		t.Fatal(err)
	}
	if res.Killed != 1 || res.Lived != 2 || res.TimedOut != 1 || res.NotViable != 1 || res.NotCov != 7 {
		t.Errorf("counts %+v", res)
	}
	if got := res.efficacy(); got != 50 {
		t.Errorf("efficacy %v, want 50 (killed and timed out over tested)", got)
	}
	if len(res.Survivors) != 2 {
		t.Fatalf("survivors %+v", res.Survivors)
	}
	first, second := res.Survivors[0], res.Survivors[1]
	if first.Source != "if n > max {" || first.Reason != nil {
		t.Errorf("first survivor %+v", first)
	}
	if second.Source != "return a | b + c" || second.Reason == nil || second.Reason.Class != "equivalent" || second.Reason.Why != "b is always 0 here" {
		t.Errorf("second survivor %+v", second)
	}

	md := string(report{Tool: "gremlins", Pkgs: []pkgResult{res, {Pkg: "other", Err: "not run: the budget was spent"}}}.markdown())
	for _, want := range []string{
		"| pkg | 50.0% | 50.0% | 33.3% | 1 | 1 | 2 | 1 | 7 |",
		"2 survivors: 0 killed by later tests, 1 equivalent, 0 accepted, 1 unexplained.",
		"| pkg/a.go:3:5 | CONDITIONALS_BOUNDARY | `if n > max {` | unexplained |",
		"| pkg/a.go:4:9 | ARITHMETIC_BASE | `return a \\| b + c` | equivalent | b is always 0 here |",
		"| other | not run: the budget was spent | |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}

func TestParseReasonsRejectsBadLines(t *testing.T) {
	for _, line := range []string{
		"pkg/a.go | TYPE | no reason",
		"pkg/a.go | TYPE | x := 1 | maybe: a class that is not one",
	} {
		if _, err := parseReasons([]byte(line)); err == nil {
			t.Errorf("%q accepted", line)
		}
	}
}

func TestParseReasonsClasses(t *testing.T) {
	for _, class := range []string{"equivalent", "accepted", "killed"} {
		r, err := parseReasons([]byte("a.go | TYPE | x := 1 | " + class + ": why"))
		if err != nil || r["a.go|TYPE|x := 1"].Class != class {
			t.Errorf("%s: %v %v", class, r, err)
		}
	}
}

// TestRender checks a report is written from kept results alone.
func TestRender(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, resultName("pkg/sub")), []byte(gremlinsJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "M.md")
	var log strings.Builder
	err := run(t.Context(), []string{"-render", dir, "-pkgs", "./pkg/sub/,gone", "-out", out, "-accepted", filepath.Join(dir, "none.txt")}, &log)
	if err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(out)
	for _, want := range []string{"| pkg/sub | 50.0% |", "| gone | no results: "} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}

// TestScoreWithLaterTests checks that survivors classed killed count as
// killed in the second score only.
func TestScoreWithLaterTests(t *testing.T) {
	p := pkgResult{Pkg: "pkg", Killed: 6, TimedOut: 1, Lived: 3, Survivors: []survivor{
		{Reason: &reason{Class: "killed"}},
		{Reason: &reason{Class: "killed"}},
		{Reason: &reason{Class: "accepted"}},
	}}
	if got := p.efficacy(); got != 70 {
		t.Errorf("score %v, want 70", got)
	}
	if got := p.since(); got != 90 {
		t.Errorf("score with later tests %v, want 90", got)
	}
	md := string(report{Tool: "gremlins", Pkgs: []pkgResult{p}}.markdown())
	for _, want := range []string{"| pkg | 70.0% | 90.0% | 66.7% |", "3 survivors: 2 killed by later tests, 0 equivalent, 1 accepted, 0 unexplained."} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}
