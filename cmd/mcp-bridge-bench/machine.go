package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// machine describes where and on what the benchmark ran.
type machine struct {
	date       time.Time
	cpus       int
	cpuModel   string
	memTotal   int64 // bytes
	kernel     string
	goVersion  string
	commit     string
	loadBefore string
	loadAfter  string
}

func (m machine) summary() string {
	return fmt.Sprintf("%d CPUs (%s), %.1f GiB, %s, commit %s", m.cpus, m.cpuModel, float64(m.memTotal)/(1<<30), m.goVersion, m.commit)
}

func collectMachine(ctx context.Context, root string) machine {
	m := machine{date: time.Now().UTC(), cpus: runtime.NumCPU(), goVersion: runtime.Version(), loadBefore: loadAvg()}
	if out, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output(); err == nil {
		m.goVersion = strings.TrimSpace(string(out))
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "model name"); ok {
				m.cpuModel = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
		f.Close()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
				var kb int64
				fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
				m.memTotal = kb << 10
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(b))
	}
	m.commit = "unknown"
	cmd := exec.CommandContext(ctx, "git", "rev-parse", "--short", "HEAD")
	cmd.Dir = root
	if out, err := cmd.Output(); err == nil {
		m.commit = strings.TrimSpace(string(out))
		// The report itself, written by the last run, does not count.
		st := exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!BENCHMARKS.md")
		st.Dir = root
		if out, err := st.Output(); err == nil && len(bytes.TrimSpace(out)) > 0 {
			m.commit += " (with uncommitted changes)"
		}
	}
	return m
}

// loadAvg returns the 1, 5 and 15 minute load averages.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// moduleRoot returns the directory of the main module.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module root (run from inside the mcp-bridge module, or pass -root): %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// runMicro runs the micro-benchmarks of the packages, copying their output
// to w, and returns the benchmark lines.
func runMicro(ctx context.Context, o *options, w io.Writer) string {
	cmd := exec.CommandContext(ctx, "go", "test", "-run=^$", "-bench=.", "-benchmem", "-benchtime="+o.microBenchtime, "./...")
	cmd.Dir = o.root
	var buf bytes.Buffer
	cmd.Stdout = io.MultiWriter(&buf, w)
	cmd.Stderr = io.MultiWriter(&buf, w)
	err := cmd.Run()
	var lines []string
	pkg := ""
	for _, l := range strings.Split(buf.String(), "\n") {
		switch {
		case strings.HasPrefix(l, "pkg: "):
			pkg = strings.TrimPrefix(l, "pkg: github.com/mcp-bridge/mcp-bridge/")
		case strings.HasPrefix(l, "Benchmark"):
			lines = append(lines, pkg+"\t"+l)
		case strings.HasPrefix(l, "FAIL") || strings.HasPrefix(l, "--- FAIL"):
			lines = append(lines, l)
		}
	}
	if err != nil {
		lines = append(lines, "go test failed: "+err.Error())
	}
	return strings.Join(lines, "\n")
}
