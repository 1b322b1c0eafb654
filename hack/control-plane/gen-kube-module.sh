#!/usr/bin/env bash
# Generates hack/control-plane/kube/go.mod: a wrapper module that builds kube-apiserver and
# kubectl from k8s.io/kubernetes at KUBE_VERSION (how: gen_kube_module in hack/lib/kube-build.sh).
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib/kube-build.sh
source "$(dirname "$0")/../lib/kube-build.sh"
gen_kube_module hack/control-plane kube-apiserver kubectl
