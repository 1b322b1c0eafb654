#!/usr/bin/env bash
# Builds the test control plane (kube-apiserver, kubectl, etcd) from the Go module proxy into a
# cache outside the repository, once. Binaries already present at the right version are reused.
#
#   CONTROL_PLANE_DIR  where the binaries go (default ${XDG_CACHE_HOME:-~/.cache}/token-operator/k8s-<version>)
#   KUBE_VERSION       must match hack/control-plane/kube/go.mod (the Makefile passes it)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# modversion DIR MODULE: the version DIR/go.mod requires of MODULE.
modversion() { awk -v m="$2" '{ for (i = 1; i < NF; i++) if ($i == m && $(i+1) ~ /^v[0-9]/) { print $(i+1); exit } }' "$1/go.mod"; }
KUBE_VERSION=${KUBE_VERSION:-$(modversion "$here/kube" k8s.io/kubernetes)}
ETCD_VERSION=$(modversion "$here/etcd" go.etcd.io/etcd/server/v3)
[[ -n "$KUBE_VERSION" && -n "$ETCD_VERSION" ]] || { echo "control-plane: cannot read versions from hack/control-plane/*/go.mod" >&2; exit 1; }
dir=${CONTROL_PLANE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/token-operator/k8s-${KUBE_VERSION}}
mkdir -p "$dir"

minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X ${pkg}.gitVersion=${KUBE_VERSION} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor}"
  ldflags+=" -X ${pkg}.gitTreeState=clean"
done

# build NAME MODULE_DIR PACKAGE VERSION: skips when NAME exists and its stamp names VERSION.
build() {
  local name=$1 mod=$2 pkg=$3 version=$4 flags=$5
  if [[ -x "$dir/$name" && "$(cat "$dir/$name.version" 2>/dev/null)" == "$version" ]]; then
    echo "control-plane: $name $version cached in $dir"
    return
  fi
  echo "control-plane: building $name $version into $dir (first run only; kube-apiserver takes ~5 min on 2 cores)..."
  local start=$SECONDS
  (cd "$here/$mod" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "$flags" -o "$dir/$name.tmp" "$pkg")
  mv "$dir/$name.tmp" "$dir/$name"
  echo "$version" > "$dir/$name.version"
  echo "control-plane: built $name in $((SECONDS - start))s"
}

build etcd etcd . "$ETCD_VERSION" "-s -w"
build kube-apiserver kube k8s.io/kubernetes/cmd/kube-apiserver "$KUBE_VERSION" "$ldflags"
build kubectl kube k8s.io/kubernetes/cmd/kubectl "$KUBE_VERSION" "$ldflags"
echo "control-plane: ready in $dir"
