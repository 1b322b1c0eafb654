#!/usr/bin/env bash
# Generates hack/node/kube/go.mod: a wrapper module that builds the node's Kubernetes binaries
# (kubelet, kube-controller-manager, kube-scheduler, kube-proxy) from k8s.io/kubernetes at
# KUBE_VERSION, exactly as hack/control-plane/gen-kube-module.sh does for kube-apiserver and
# kubectl (both: gen_kube_module in hack/lib/kube-build.sh). The same versions as the control
# plane's module mean the same Go build cache entries.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib/kube-build.sh
source "$(dirname "$0")/../lib/kube-build.sh"
gen_kube_module hack/node kubelet kube-controller-manager kube-scheduler kube-proxy
