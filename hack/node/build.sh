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
# shellcheck source=SCRIPTDIR/../lib/kube-build.sh
source "$here/../lib/kube-build.sh"
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

build_group node "$dir" kube "$here/kube" "$KUBE_VERSION" "$(kube_ldflags "$KUBE_VERSION")" "$dir" \
  k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kube-proxy
build_group node "$dir" containerd "$here/containerd" "$CONTAINERD_VERSION" \
  "-s -w -X github.com/containerd/containerd/v2/version.Version=${CONTAINERD_VERSION}" "$dir" \
  github.com/containerd/containerd/v2/cmd/containerd \
  github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 \
  github.com/containerd/containerd/v2/cmd/ctr
# The CNI plugins get a folder of their own: containerd looks plugins up by name in its bin_dirs.
build_group node "$dir" cni "$here/cni" "$CNI_VERSION" \
  "-s -w -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=${CNI_VERSION}" "$dir/cni" \
  github.com/containernetworking/plugins/plugins/main/bridge \
  github.com/containernetworking/plugins/plugins/ipam/host-local \
  github.com/containernetworking/plugins/plugins/main/loopback \
  github.com/containernetworking/plugins/plugins/meta/portmap
build_group node "$dir" coredns "$here/coredns" "$COREDNS_VERSION" \
  "-s -w -X github.com/coredns/coredns/coremain.GitCommit=${COREDNS_VERSION}" "$dir" \
  github.com/tokenops/token-operator/hack/node/coredns
echo "node: ready in $dir"
