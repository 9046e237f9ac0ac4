// Command image writes a container image of mcp-bridge as an image tarball,
// with no Docker daemon and no registry: no base image is pulled. The image
// is one layer on an empty base: the static binary, a CA bundle, a nonroot
// user (65532) and /tmp. Load it with `docker load -i` or `podman load -i`,
// or push it with `crane push`.
//
// It is run by packaging/image.sh (task image), which builds the binary:
//
//	go run . -bin BINARY -version VERSION -arch amd64 -o dist/mcp-bridge-image.tar
//
// The image has no Node, so MCP servers started with npx do not run in it;
// remote MCP servers (url) and openapiServers do. packaging/Dockerfile
// builds one with Node.
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// nonroot is the user the bridge runs as.
const nonroot = 65532

func main() {
	bin := flag.String("bin", "", "the mcp-bridge binary, built with CGO_ENABLED=0 for linux/ARCH")
	ca := flag.String("ca", "/etc/ssl/certs/ca-certificates.crt", "CA bundle to put in the image (\"\" for none)")
	version := flag.String("version", "dev", "the version, for the image's label and tag")
	arch := flag.String("arch", "amd64", "the binary's GOARCH")
	repo := flag.String("repo", "mcp-bridge", "the image name the tarball carries")
	out := flag.String("o", "dist/mcp-bridge-image.tar", "the image tarball to write")
	flag.Parse()
	if err := run(*bin, *ca, *version, *arch, *repo, *out); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(bin, ca, version, arch, repo, out string) error {
	if bin == "" {
		return fmt.Errorf("-bin is required")
	}
	layer, err := rootLayer(bin, ca)
	if err != nil {
		return err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	cf.Config.Entrypoint = []string{"/usr/local/bin/mcp-bridge"}
	cf.Config.Cmd = []string{"serve"}
	cf.Config.Env = []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
		"HOME=/home/nonroot",
		// A container is reached from outside it; listening beyond
		// loopback still needs auth.api_keys (or MCP_BRIDGE_AUTH_DISABLED).
		"MCP_BRIDGE_LISTEN=0.0.0.0:9090",
	}
	cf.Config.User = fmt.Sprintf("%d:%d", nonroot, nonroot)
	cf.Config.WorkingDir = "/etc/mcp-bridge" // ./mcp-bridge.yaml is found here
	cf.Config.ExposedPorts = map[string]struct{}{"9090/tcp": {}}
	cf.Config.Labels = map[string]string{
		"org.opencontainers.image.title":   "mcp-bridge",
		"org.opencontainers.image.version": version,
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return err
	}
	tag, err := name.NewTag(repo + ":" + version)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return tarball.WriteToFile(out, tag, img)
}

// rootLayer is the image's file system: the binary, the CA bundle, the
// users, /tmp, the nonroot home and /etc/mcp-bridge. Every entry has a
// fixed time and owner, so the same binary gives the same layer.
func rootLayer(bin, ca string) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	dir := func(name string, mode int64, uid int) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, Uid: uid, Gid: uid, ModTime: epoch})
	}
	file := func(name string, mode int64, body []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body)), ModTime: epoch}); err != nil {
			return err
		}
		_, err := tw.Write(body)
		return err
	}
	binary, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"etc", "etc/ssl", "etc/ssl/certs", "etc/mcp-bridge", "home", "usr", "usr/local", "usr/local/bin"} {
		if err := dir(d, 0o755, 0); err != nil {
			return nil, err
		}
	}
	if err := dir("tmp", 0o1777, 0); err != nil {
		return nil, err
	}
	if err := dir("home/nonroot", 0o700, nonroot); err != nil {
		return nil, err
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", nonroot, nonroot)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", nonroot)
	if err := file("etc/passwd", 0o644, []byte(passwd)); err != nil {
		return nil, err
	}
	if err := file("etc/group", 0o644, []byte(group)); err != nil {
		return nil, err
	}
	if ca != "" {
		bundle, err := os.ReadFile(ca)
		if err != nil {
			return nil, err
		}
		if err := file("etc/ssl/certs/ca-certificates.crt", 0o644, bundle); err != nil {
			return nil, err
		}
	}
	if err := file("usr/local/bin/mcp-bridge", 0o755, binary); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
}
