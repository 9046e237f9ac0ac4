#!/usr/bin/env bash
# Builds the container image of mcp-bridge without a Docker daemon or a
# registry (task image): a static binary (CGO_ENABLED=0) and the machine's CA
# bundle in one layer on an empty base, written by packaging/image as an
# image tarball for `docker load -i` / `podman load -i`.
#
#   packaging/image.sh [OUT.tar]        (default dist/mcp-bridge-image.tar)
#
# GOARCH picks the architecture (default: this machine's). Needs only Go.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-dist/mcp-bridge-image.tar}
case "$out" in /*) ;; *) out=$PWD/$out ;; esac
arch=${GOARCH:-$(go env GOARCH)}
version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
ca=/etc/ssl/certs/ca-certificates.crt
[ -f "$ca" ] || ca=""

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath \
  -ldflags "-s -w -X main.buildVersion=$version" -o "$work/mcp-bridge" ./cmd/mcp-bridge
(cd packaging/image && env -u GOARCH -u GOOS go run . -bin "$work/mcp-bridge" -ca "$ca" -version "$version" -arch "$arch" -o "$out")
echo "$out: mcp-bridge:$version (linux/$arch)"
