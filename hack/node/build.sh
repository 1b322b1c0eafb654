#!/usr/bin/env bash
# Builds the test node (docs/node.md) from the Go module proxy into a cache outside the
# repository, once: kubelet, kube-controller-manager, kube-scheduler and kube-proxy from
# k8s.io/kubernetes at the control plane's version, containerd + its runc shim + ctr, the CNI
# reference plugins and a CoreDNS with the plugins cluster DNS needs. runc and nft come from Debian
# (hack/ci-packages.sh). Groups already built at their pinned versions are reused.
#
#   NODE_DIR      where the binaries go (default ${XDG_CACHE_HOME:-~/.cache}/token-operator/node-<kube version>)
#   KUBE_VERSION  must match hack/node/kube/go.mod (the Makefile passes it)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# modversion DIR MODULE: the version DIR/go.mod requires of MODULE.
modversion() { awk -v m="$2" '{ for (i = 1; i < NF; i++) if ($i == m && $(i+1) ~ /^v[0-9]/) { print $(i+1); exit } }' "$1/go.mod"; }
KUBE_VERSION=${KUBE_VERSION:-$(modversion "$here/kube" k8s.io/kubernetes)}
[[ "$(modversion "$here/kube" k8s.io/kubernetes)" == "$KUBE_VERSION" ]] || {
  echo "node: hack/node/kube/go.mod is not at $KUBE_VERSION; run KUBE_VERSION=$KUBE_VERSION hack/node/gen-kube-module.sh" >&2; exit 1; }
CONTAINERD_VERSION=$(modversion "$here/containerd" github.com/containerd/containerd/v2)
CNI_VERSION=$(modversion "$here/cni" github.com/containernetworking/plugins)
COREDNS_VERSION=$(modversion "$here/coredns" github.com/coredns/coredns)
[[ -n "$CONTAINERD_VERSION" && -n "$CNI_VERSION" && -n "$COREDNS_VERSION" ]] || {
  echo "node: cannot read versions from hack/node/*/go.mod" >&2; exit 1; }
dir=${NODE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/token-operator/node-${KUBE_VERSION}}
mkdir -p "$dir"
echo "node: kubernetes $KUBE_VERSION, containerd $CONTAINERD_VERSION, CNI plugins $CNI_VERSION, CoreDNS $COREDNS_VERSION"

minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
kube_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kube_ldflags+=" -X ${pkg}.gitVersion=${KUBE_VERSION} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor}"
  kube_ldflags+=" -X ${pkg}.gitTreeState=clean"
done

# group NAME MODULE_DIR VERSION LDFLAGS OUT PACKAGE...: builds every PACKAGE into OUT in one go
# build (the packages share their dependencies' compilation); skipped when $dir/NAME.version names
# VERSION and every binary is there.
group() {
  local name=$1 mod=$2 version=$3 flags=$4 out=$5; shift 5
  local bins=() pkg present=true
  for pkg in "$@"; do bins+=("$(basename "$pkg")"); [[ -x "$out/$(basename "$pkg")" ]] || present=false; done
  if $present && [[ "$(cat "$dir/$name.version" 2>/dev/null)" == "$version" ]]; then
    echo "node: $name $version cached in $out (${bins[*]})"
    return
  fi
  echo "node: building $name $version into $out (${bins[*]}; first run only)..."
  local start=$SECONDS tmp
  mkdir -p "$out"
  tmp=$(mktemp -d "$dir/.build-$name.XXXXXX")
  if ! (cd "$here/$mod" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "$flags" -o "$tmp/" "$@"); then
    rm -rf "$tmp"
    echo "node: building $name failed" >&2
    exit 1
  fi
  for b in "${bins[@]}"; do mv "$tmp/$b" "$out/$b"; done
  rmdir "$tmp"
  echo "$version" > "$dir/$name.version"
  echo "node: built $name in $((SECONDS - start))s"
}

group kube kube "$KUBE_VERSION" "$kube_ldflags" "$dir" \
  k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kube-proxy
group containerd containerd "$CONTAINERD_VERSION" \
  "-s -w -X github.com/containerd/containerd/v2/version.Version=${CONTAINERD_VERSION}" "$dir" \
  github.com/containerd/containerd/v2/cmd/containerd \
  github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 \
  github.com/containerd/containerd/v2/cmd/ctr
# The CNI plugins get a folder of their own: containerd looks plugins up by name in its bin_dirs.
group cni cni "$CNI_VERSION" \
  "-s -w -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=${CNI_VERSION}" "$dir/cni" \
  github.com/containernetworking/plugins/plugins/main/bridge \
  github.com/containernetworking/plugins/plugins/ipam/host-local \
  github.com/containernetworking/plugins/plugins/main/loopback \
  github.com/containernetworking/plugins/plugins/meta/portmap
group coredns coredns "$COREDNS_VERSION" \
  "-s -w -X github.com/coredns/coredns/coremain.GitCommit=${COREDNS_VERSION}" "$dir" \
  github.com/tokenops/token-operator/hack/node/coredns
echo "node: ready in $dir"
