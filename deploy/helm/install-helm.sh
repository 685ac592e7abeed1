#!/bin/sh
# Builds Helm from its Go module (no prebuilt binary is fetched) and prints the binary's path; idempotent:
# a binary already built for this version is reused from ~/.cache/herald/helm-VERSION.
# The Helm chart's test (tests/integration/deploy/test_helm_chart.py) renders deploy/helm/herald with it.
# Needs Go >= 1.25 (HERALD_GO, else `go` on PATH, else /usr/local/go/bin/go). Usage: sh deploy/helm/install-helm.sh
set -eu
VERSION="${HERALD_HELM_VERSION:-v4.3.2}"
DIR="${HERALD_CACHE:-$HOME/.cache/herald}/helm-$VERSION"
BIN="$DIR/helm"
if [ -x "$BIN" ] && [ "$("$BIN" version --template '{{.Version}}' 2>/dev/null)" = "$VERSION" ]; then
    echo "$BIN"
    exit 0
fi
GO="${HERALD_GO:-$(command -v go || echo /usr/local/go/bin/go)}"
if [ ! -x "$GO" ]; then
    echo "install-helm.sh: no Go toolchain (set HERALD_GO or put go on PATH)" >&2
    exit 1
fi
mkdir -p "$DIR"
start=$(date +%s)
# Into a temporary folder first, so an interrupted build never leaves a half-written binary in the cache.
tmp=$(mktemp -d "$DIR/build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# `go install` leaves the version Helm's release builds stamp at link time at its minor ("v4.3"): stamp it.
GOBIN="$tmp" GOFLAGS="${GOFLAGS:-} -trimpath" "$GO" install \
    -ldflags "-X helm.sh/helm/v4/internal/version.version=$VERSION" "helm.sh/helm/v4/cmd/helm@$VERSION" >&2
mv "$tmp/helm" "$BIN"
echo "install-helm.sh: built helm $VERSION in $(( $(date +%s) - start )) s" >&2
echo "$BIN"
