#!/usr/bin/env bash
# Installs the Debian packages the tests use; .ci/run calls it before the tests.
#  - influxdb:    InfluxDB 1.x (influxd), for the influxdb1 adapter's tests against a real server.
#  - runc:        runs the image's containers under the chart's pod contract (test/podcontract).
#  - nginx-light: NGINX with auth_request, for the gateway tests (test/gateway).
#  - nftables:    nft, which kube-proxy's nftables mode runs on the test node (test/node, docs/node.md).
# Never fails CI: without apt (or without a package) the tests that need it skip with a message.
set -uo pipefail

declare -A wanted=([influxd]=influxdb [runc]=runc [nginx]=nginx-light [nft]=nftables)
missing=()
for cmd in "${!wanted[@]}"; do
  if command -v "$cmd" >/dev/null 2>&1; then
    echo "ci-packages: $cmd present"
  else
    missing+=("${wanted[$cmd]}")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ci-packages: apt-get not available: cannot install ${missing[*]}; the tests that need them will skip"
  exit 0
fi
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo=(sudo -n)
  else
    echo "ci-packages: not root and no sudo: cannot install ${missing[*]}; the tests that need them will skip"
    exit 0
  fi
fi
echo "ci-packages: installing ${missing[*]} with apt-get"
# policy-rc.d keeps Debian's maintainer scripts from starting nginx/influxd as system services:
# the tests start their own on loopback.
made_policy=false
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  "${sudo[@]}" sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d' && made_policy=true
fi
if "${sudo[@]}" apt-get update -qq && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
  echo "ci-packages: installed ${missing[*]}"
else
  echo "ci-packages: installing ${missing[*]} failed; the tests that need them will skip"
fi
if $made_policy; then "${sudo[@]}" rm -f /usr/sbin/policy-rc.d; fi
exit 0
