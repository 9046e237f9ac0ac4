package e2e

// The packaging of packaging/: the systemd unit, checked by systemd's own
// verifier, and the container image of packaging/image.sh, taken apart and
// its binary run.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestSystemdUnit runs `systemd-analyze verify` on packaging/mcp-bridge.service
// (with ExecStart pointing at a freshly built binary, since verify checks
// that it exists) and its offline security review.
func TestSystemdUnit(t *testing.T) {
	_, err := exec.LookPath("systemd-analyze")
	needTool(t, "systemd-analyze", err, "apt-get install -y --no-install-recommends systemd")
	unit, err := os.ReadFile("../packaging/mcp-bridge.service")
	if err != nil {
		t.Fatal(err)
	}
	const execStart = "ExecStart=/usr/local/bin/mcp-bridge serve -c /etc/mcp-bridge/mcp-bridge.yaml"
	if !bytes.Contains(unit, []byte(execStart+"\n")) {
		t.Fatalf("the unit has no %q line", execStart)
	}
	// The bridge's own shutdown (limits.shutdown_timeout, 30 s) must fit
	// in the time systemd gives it before SIGKILL.
	if m := regexp.MustCompile(`(?m)^TimeoutStopSec=(\d+)s$`).FindSubmatch(unit); m == nil {
		t.Error("the unit has no TimeoutStopSec=Ns")
	} else if n, _ := strconv.Atoi(string(m[1])); n <= 30 {
		t.Errorf("TimeoutStopSec=%ds leaves the bridge's 30 s shutdown no room", n)
	}
	for _, want := range []string{"DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes", "KillMode=mixed", "EnvironmentFile=-/etc/mcp-bridge/mcp-bridge.env"} {
		if !bytes.Contains(unit, []byte("\n"+want+"\n")) {
			t.Errorf("the unit lacks %s", want)
		}
	}

	bin := buildBinary(t)
	path := filepath.Join(t.TempDir(), "mcp-bridge.service")
	if err := os.WriteFile(path, bytes.ReplaceAll(unit, []byte("/usr/local/bin/mcp-bridge"), []byte(bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err = exec.Command("systemd-analyze", "security", "--offline=true", "--no-pager", path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+) (\S+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	if level, _ := strconv.ParseFloat(string(m[1]), 64); level > 2.0 || string(m[2]) != "OK" {
		t.Errorf("exposure level %s %s, want 2.0 or less (OK)", m[1], m[2])
	}
}

// imageConfig is the part of an image's config file the test reads.
type imageConfig struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Config       struct {
		Entrypoint   []string            `json:"Entrypoint"`
		Cmd          []string            `json:"Cmd"`
		Env          []string            `json:"Env"`
		User         string              `json:"User"`
		WorkingDir   string              `json:"WorkingDir"`
		ExposedPorts map[string]struct{} `json:"ExposedPorts"`
		Labels       map[string]string   `json:"Labels"`
	} `json:"config"`
}

// TestContainerImage builds the image with packaging/image.sh (what task
// image runs) and checks the tarball: the manifest, the config (entrypoint,
// command, user, environment), and the layer, whose binary must be static
// and print the version the image is labelled with.
func TestContainerImage(t *testing.T) {
	_, err := exec.LookPath("bash")
	needTool(t, "bash", err, "apt-get install -y bash")
	out := filepath.Join(t.TempDir(), "image.tar")
	if b, err := exec.Command("bash", "../packaging/image.sh", out).CombinedOutput(); err != nil {
		t.Fatalf("packaging/image.sh: %v\n%s", err, b)
	}
	files := readTar(t, out, false)

	var manifest []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil || len(manifest) != 1 || len(manifest[0].Layers) != 1 {
		t.Fatalf("manifest.json %s: %v", files["manifest.json"], err)
	}
	var cfg imageConfig
	if err := json.Unmarshal(files[manifest[0].Config], &cfg); err != nil {
		t.Fatalf("config %s: %v", manifest[0].Config, err)
	}
	c := cfg.Config
	version := c.Labels["org.opencontainers.image.version"]
	if cfg.OS != "linux" || cfg.Architecture != runtime.GOARCH ||
		!slices.Equal(c.Entrypoint, []string{"/usr/local/bin/mcp-bridge"}) || !slices.Equal(c.Cmd, []string{"serve"}) ||
		c.User != "65532:65532" || c.WorkingDir != "/etc/mcp-bridge" || len(c.ExposedPorts) != 1 || version == "" {
		t.Errorf("image config: %+v", cfg)
	}
	for _, want := range []string{"MCP_BRIDGE_LISTEN=0.0.0.0:9090", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt", "HOME=/home/nonroot"} {
		if !slices.Contains(c.Env, want) {
			t.Errorf("image env %v lacks %s", c.Env, want)
		}
	}
	if want := "mcp-bridge:" + version; !slices.Equal(manifest[0].RepoTags, []string{want}) {
		t.Errorf("tags %v, want %s", manifest[0].RepoTags, want)
	}

	layerPath := filepath.Join(t.TempDir(), "layer.tar.gz")
	if err := os.WriteFile(layerPath, files[manifest[0].Layers[0]], 0o644); err != nil {
		t.Fatal(err)
	}
	layer := readTar(t, layerPath, true)
	for _, name := range []string{"usr/local/bin/mcp-bridge", "etc/passwd", "etc/group"} {
		if len(layer[name]) == 0 {
			t.Errorf("the layer has no %s", name)
		}
	}
	if _, err := os.Stat("/etc/ssl/certs/ca-certificates.crt"); err == nil && len(layer["etc/ssl/certs/ca-certificates.crt"]) == 0 {
		t.Error("the layer has no CA bundle though this machine has one")
	}
	if !strings.Contains(string(layer["etc/passwd"]), "nonroot:x:65532:65532:") {
		t.Errorf("etc/passwd: %s", layer["etc/passwd"])
	}

	bin := filepath.Join(t.TempDir(), "mcp-bridge")
	if err := os.WriteFile(bin, layer["usr/local/bin/mcp-bridge"], 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the image's binary is dynamically linked: the empty base has no libc")
		}
	}
	f.Close()
	got, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || strings.TrimSpace(string(got)) != "mcp-bridge "+version {
		t.Errorf("the image's binary says %q (%v), want mcp-bridge %s", got, err, version)
	}
}

// readTar returns the regular files of a tar archive (gzipped when gz) by
// name, without a leading "./".
func readTar(t *testing.T, path string, gz bool) map[string][]byte {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var r io.Reader = fh
	if gz {
		zr, err := gzip.NewReader(fh)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		r = zr
	}
	files := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimPrefix(h.Name, "./")] = body
	}
}
