// Command mutation runs mutation testing (gremlins, at a pinned version) over
// the packages named, each in a scratch copy of the checkout, and writes the
// score and the surviving mutants to a report. It is run by `task mutate`;
// it is not part of CI (it runs every package's tests once per mutant).
//
// Survivors are explained in accepted.txt beside this file, one a line:
//
//	file | MUTANT_TYPE | the mutated source line, trimmed | class: reason
//
// where class is "equivalent" (no test can tell the mutant from the code),
// "accepted" (a test could, at a cost the reason states) or "killed" (a
// test added since the last run kills it; the next run will not list it).
// A survivor with no line there is listed as unexplained: kill it with a
// test or explain it.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// gremlinsModule is the mutation tool, pinned.
const gremlinsModule = "github.com/go-gremlins/gremlins/cmd/gremlins@v0.6.0"

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mutation:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, log io.Writer) error {
	fs := flag.NewFlagSet("mutation", flag.ContinueOnError)
	pkgs := fs.String("pkgs", "bridge,llm,mcpclient", "comma-separated package directories, each with its sub-packages")
	out := fs.String("out", "MUTATION.md", "the report to write")
	accepted := fs.String("accepted", "mutation/accepted.txt", "explanations of surviving mutants")
	workers := fs.Int("workers", 2, "mutants tested at once")
	coefficient := fs.Int("timeout-coefficient", 3, "a mutant's tests may take this many times as long as the unmutated run")
	budget := fs.Duration("budget", 4*time.Hour, "the whole run stops after this long; packages not reached are reported as such")
	keep := fs.String("keep", "", "a folder to keep gremlins' results in (PKG.json, / as _), for -render")
	render := fs.String("render", "", "write the report from results kept with -keep in this folder, without running gremlins")
	if err := fs.Parse(args); err != nil {
		return err
	}
	reasons, err := loadReasons(*accepted)
	if err != nil {
		return err
	}
	if *render != "" {
		rep := report{Tool: gremlinsModule + ", results kept in an earlier run", Started: time.Now()}
		for _, pkg := range splitPkgs(*pkgs) {
			res := pkgResult{Pkg: pkg}
			data, err := os.ReadFile(filepath.Join(*render, resultName(pkg)))
			if err != nil {
				res.Err = "no results: " + err.Error()
			} else if err := res.parse(data, ".", reasons); err != nil {
				res.Err = err.Error()
			}
			rep.Pkgs = append(rep.Pkgs, res)
		}
		if err := os.WriteFile(*out, rep.markdown(), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(log, "mutation: wrote %s\n%s", *out, rep.summary())
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, *budget)
	defer cancel()

	tmp, err := os.MkdirTemp("", "mutation-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	copyDir := filepath.Join(tmp, "src")
	if err := copyCheckout(ctx, copyDir); err != nil {
		return fmt.Errorf("copying the checkout: %w", err)
	}
	bin := filepath.Join(tmp, "bin")
	install := exec.CommandContext(ctx, "go", "install", gremlinsModule)
	install.Env = append(os.Environ(), "GOBIN="+bin)
	install.Stdout, install.Stderr = log, log
	if err := install.Run(); err != nil {
		return fmt.Errorf("installing %s: %w", gremlinsModule, err)
	}

	rep := report{Tool: gremlinsModule, Started: time.Now()}
	for _, pkg := range splitPkgs(*pkgs) {
		res := pkgResult{Pkg: pkg}
		if ctx.Err() != nil {
			res.Err = "not run: the budget was spent"
			rep.Pkgs = append(rep.Pkgs, res)
			continue
		}
		fmt.Fprintf(log, "mutation: %s\n", pkg)
		jsonPath := filepath.Join(tmp, resultName(pkg))
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "gremlins"), "unleash",
			"--workers", fmt.Sprint(*workers), "--timeout-coefficient", fmt.Sprint(*coefficient),
			"--output", jsonPath, "./"+pkg)
		cmd.Dir = copyDir
		// gremlins' work copies go under tmp too, removed even when the
		// budget kills it.
		cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
		cmd.Stdout, cmd.Stderr = log, log
		killGroup(cmd)
		if err := cmd.Run(); err != nil {
			res.Err = fmt.Sprintf("gremlins: %v", err)
			if ctx.Err() != nil {
				res.Err = "stopped: the budget was spent"
			}
		}
		if data, err := os.ReadFile(jsonPath); err == nil {
			if err := res.parse(data, copyDir, reasons); err != nil {
				res.Err = err.Error()
			}
			if *keep != "" {
				if err := os.MkdirAll(*keep, 0o755); err == nil {
					_ = os.WriteFile(filepath.Join(*keep, resultName(pkg)), data, 0o644)
				}
			}
		}
		rep.Pkgs = append(rep.Pkgs, res)
	}
	rep.Elapsed = time.Since(rep.Started).Round(time.Second)
	if err := os.WriteFile(*out, rep.markdown(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(log, "mutation: wrote %s\n%s", *out, rep.summary())
	return nil
}

// splitPkgs returns the package directories of a comma-separated list.
func splitPkgs(list string) []string {
	var out []string
	for _, pkg := range strings.Split(list, ",") {
		if pkg = strings.Trim(strings.TrimSpace(pkg), "./"); pkg != "" {
			out = append(out, pkg)
		}
	}
	return out
}

// resultName is the file of a package's gremlins results.
func resultName(pkg string) string { return strings.ReplaceAll(pkg, "/", "_") + ".json" }

// copyCheckout copies the files git tracks, and untracked files it does
// not ignore, into dir: the work in progress without node_modules or
// binaries.
func copyCheckout(ctx context.Context, dir string) error {
	list, err := exec.CommandContext(ctx, "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		return fmt.Errorf("git ls-files: %w", err)
	}
	for _, name := range strings.Split(string(list), "\x00") {
		if name == "" {
			continue
		}
		info, err := os.Lstat(name)
		if err != nil || !info.Mode().IsRegular() {
			continue // deleted in the work tree, or not a file
		}
		data, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, info.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}

// reason explains one surviving mutant.
type reason struct {
	File, Type, Line string
	Class, Why       string
}

func (r reason) key() string { return r.File + "|" + r.Type + "|" + r.Line }

// loadReasons reads accepted.txt. A missing file is an empty list.
func loadReasons(path string) (map[string]reason, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]reason{}, nil
	}
	if err != nil {
		return nil, err
	}
	return parseReasons(data)
}

func parseReasons(data []byte) (map[string]reason, error) {
	out := map[string]reason{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, " | ")
		if len(parts) < 4 {
			return nil, fmt.Errorf("accepted.txt:%d: want file | TYPE | source line | class: reason", n)
		}
		// The source line may itself hold " | ".
		last := parts[len(parts)-1]
		class, why, ok := strings.Cut(last, ": ")
		if !ok || (class != "equivalent" && class != "accepted" && class != "killed") {
			return nil, fmt.Errorf("accepted.txt:%d: the reason must start with \"equivalent: \", \"accepted: \" or \"killed: \"", n)
		}
		r := reason{File: parts[0], Type: parts[1], Line: strings.Join(parts[2:len(parts)-1], " | "), Class: class, Why: why}
		out[r.key()] = r
	}
	return out, sc.Err()
}

// gremlinsOutput is the part of gremlins' JSON output the report uses.
type gremlinsOutput struct {
	Files []struct {
		Name      string `json:"file_name"`
		Mutations []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
			Line   int    `json:"line"`
			Column int    `json:"column"`
		} `json:"mutations"`
	} `json:"files"`
	NotCovered int `json:"mutants_not_covered"`
}

// survivor is a mutant the tests did not kill.
type survivor struct {
	File   string
	Line   int
	Column int
	Type   string
	Source string
	Reason *reason
}

// pkgResult is one package's outcome.
type pkgResult struct {
	Pkg                                        string
	Killed, Lived, TimedOut, NotViable, NotCov int
	Survivors                                  []survivor
	Err                                        string
}

// parse reads gremlins' output; root is where the mutated sources are.
func (p *pkgResult) parse(data []byte, root string, reasons map[string]reason) error {
	var out gremlinsOutput
	if err := json.Unmarshal(data, &out); err != nil {
		return fmt.Errorf("reading gremlins' output: %w", err)
	}
	p.NotCov = out.NotCovered
	lines := map[string][]string{}
	for _, f := range out.Files {
		name := filepath.ToSlash(f.Name)
		if !strings.HasPrefix(name, p.Pkg+"/") {
			name = p.Pkg + "/" + name
		}
		for _, m := range f.Mutations {
			switch m.Status {
			case "KILLED":
				p.Killed++
			case "TIMED OUT":
				p.TimedOut++
			case "NOT VIABLE":
				p.NotViable++
			case "NOT COVERED":
				// counted from the total above
			case "LIVED":
				p.Lived++
				if _, ok := lines[name]; !ok {
					src, _ := os.ReadFile(filepath.Join(root, name))
					lines[name] = strings.Split(string(src), "\n")
				}
				s := survivor{File: name, Line: m.Line, Column: m.Column, Type: m.Type}
				if l := lines[name]; m.Line >= 1 && m.Line <= len(l) {
					s.Source = strings.TrimSpace(l[m.Line-1])
				}
				if r, ok := reasons[reason{File: name, Type: m.Type, Line: s.Source}.key()]; ok {
					s.Reason = &r
				}
				p.Survivors = append(p.Survivors, s)
			}
		}
	}
	sort.Slice(p.Survivors, func(i, j int) bool {
		a, b := p.Survivors[i], p.Survivors[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return nil
}

// efficacy is the share of tested mutants the tests killed, timeouts
// counted as killed (a mutant that makes the tests hang is caught).
func (p pkgResult) efficacy() float64 { return p.share(p.Killed + p.TimedOut) }

// share is n as a percentage of the mutants tested, 0 when none was.
func (p pkgResult) share(n int) float64 {
	tested := p.Killed + p.TimedOut + p.Lived
	if tested == 0 {
		return 0
	}
	return 100 * float64(n) / float64(tested)
}

// classes counts p's survivors by the class of their reason, "unexplained"
// for those without one.
func (p pkgResult) classes() map[string]int {
	n := map[string]int{}
	for _, s := range p.Survivors {
		if s.Reason == nil {
			n["unexplained"]++
		} else {
			n[s.Reason.Class]++
		}
	}
	return n
}

// since is the score counting the survivors that tests added after the
// run kill (class "killed") as killed.
func (p pkgResult) since() float64 {
	return p.share(p.Killed + p.TimedOut + p.classes()["killed"])
}

type report struct {
	Tool    string
	Started time.Time
	Elapsed time.Duration
	Pkgs    []pkgResult
}

func (r report) summary() string {
	var b strings.Builder
	for _, p := range r.Pkgs {
		if p.Err != "" && p.Killed+p.Lived == 0 {
			fmt.Fprintf(&b, "  %s: %s\n", p.Pkg, p.Err)
			continue
		}
		fmt.Fprintf(&b, "  %s: %.1f%% (%d killed, %d timed out, %d lived, %d unexplained)\n",
			p.Pkg, p.efficacy(), p.Killed, p.TimedOut, p.Lived, p.classes()["unexplained"])
	}
	return b.String()
}

func (r report) markdown() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Mutation testing\n\n")
	took := ""
	if r.Elapsed > 0 {
		took = ", in " + r.Elapsed.String()
	}
	fmt.Fprintf(&b, "Written by `task mutate` (%s, default mutators), %s%s.\n", r.Tool, r.Started.UTC().Format("2006-01-02"), took)
	fmt.Fprintf(&b, "The score is the share of tested mutants the package's tests kill (a mutant whose tests time out counts as killed);\n")
	fmt.Fprintf(&b, "not viable mutants do not compile and are not tested; not covered ones are in code no test runs.\n")
	fmt.Fprintf(&b, "Survivors are explained in `mutation/accepted.txt`.\n\n")
	fmt.Fprintf(&b, "gremlins' own efficacy leaves timed-out mutants out: killed / (killed + lived).\n")
	fmt.Fprintf(&b, "The score with later tests also counts the survivors that tests added after the run kill (class killed below).\n\n")
	fmt.Fprintf(&b, "| package | score | with later tests | gremlins efficacy | killed | timed out | lived | not viable | not covered |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, p := range r.Pkgs {
		if p.Err != "" && p.Killed+p.Lived+p.TimedOut == 0 {
			fmt.Fprintf(&b, "| %s | %s | | | | | | | |\n", p.Pkg, p.Err)
			continue
		}
		eff := 0.0
		if p.Killed+p.Lived > 0 {
			eff = 100 * float64(p.Killed) / float64(p.Killed+p.Lived)
		}
		fmt.Fprintf(&b, "| %s | %.1f%% | %.1f%% | %.1f%% | %d | %d | %d | %d | %d |\n", p.Pkg, p.efficacy(), p.since(), eff, p.Killed, p.TimedOut, p.Lived, p.NotViable, p.NotCov)
	}
	for _, p := range r.Pkgs {
		if p.Err != "" {
			fmt.Fprintf(&b, "\n%s: %s\n", p.Pkg, p.Err)
		}
		if len(p.Survivors) == 0 {
			continue
		}
		c := p.classes()
		fmt.Fprintf(&b, "\n## Survivors in %s\n\n%d survivors: %d killed by later tests, %d equivalent, %d accepted, %d unexplained.\n\n",
			p.Pkg, len(p.Survivors), c["killed"], c["equivalent"], c["accepted"], c["unexplained"])
		fmt.Fprintf(&b, "| where | mutant | line | class | reason |\n|---|---|---|---|---|\n")
		for _, s := range p.Survivors {
			class, why := "unexplained", "kill it with a test, or explain it in mutation/accepted.txt"
			if s.Reason != nil {
				class, why = s.Reason.Class, s.Reason.Why
			}
			fmt.Fprintf(&b, "| %s:%d:%d | %s | %s | %s | %s |\n", s.File, s.Line, s.Column, s.Type,
				codeSpan(s.Source), class, strings.ReplaceAll(why, "|", `\|`))
		}
	}
	return b.Bytes()
}

// codeSpan is src as a Markdown code span inside a table cell.
func codeSpan(src string) string {
	src = strings.ReplaceAll(src, "|", `\|`)
	if strings.Contains(src, "`") {
		return "`` " + src + " ``"
	}
	return "`" + src + "`"
}
