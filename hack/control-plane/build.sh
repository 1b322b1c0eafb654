#!/usr/bin/env bash
# Builds the test control plane (kube-apiserver, kubectl, etcd) from the Go module proxy into a
# cache outside the repository, once. Binaries already present at the right version are reused.
#
#   CONTROL_PLANE_DIR  where the binaries go (default ${XDG_CACHE_HOME:-~/.cache}/token-operator/k8s-<version>)
#   KUBE_VERSION       must match hack/control-plane/kube/go.mod (the Makefile passes it)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/../lib/kube-build.sh
source "$here/../lib/kube-build.sh"
KUBE_VERSION=${KUBE_VERSION:-$(modversion "$here/kube" k8s.io/kubernetes)}
ETCD_VERSION=$(modversion "$here/etcd" go.etcd.io/etcd/server/v3)
[[ -n "$KUBE_VERSION" && -n "$ETCD_VERSION" ]] || { echo "control-plane: cannot read versions from hack/control-plane/*/go.mod" >&2; exit 1; }
dir=${CONTROL_PLANE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/token-operator/k8s-${KUBE_VERSION}}
mkdir -p "$dir"
ldflags=$(kube_ldflags "$KUBE_VERSION")

# One group a binary: each keeps its own version stamp ($dir/<binary>.version). kube-apiserver
# takes ~5 min on 2 cores the first time.
build_group control-plane "$dir" etcd "$here/etcd" "$ETCD_VERSION" "-s -w" "$dir" \
  github.com/tokenops/token-operator/hack/control-plane/etcd
build_group control-plane "$dir" kube-apiserver "$here/kube" "$KUBE_VERSION" "$ldflags" "$dir" \
  k8s.io/kubernetes/cmd/kube-apiserver
build_group control-plane "$dir" kubectl "$here/kube" "$KUBE_VERSION" "$ldflags" "$dir" \
  k8s.io/kubernetes/cmd/kubectl
echo "control-plane: ready in $dir"
