#!/usr/bin/env bash
# Installs the Debian packages the tests use; .ci/run calls it before the tests.
#  - influxdb: InfluxDB 1.x (influxd), for the influxdb1 adapter's tests against a real server.
# Never fails CI: without apt (or without the package) the tests that need it skip with a message.
set -uo pipefail

if command -v influxd >/dev/null 2>&1; then
  echo "ci-packages: influxd present: $(influxd version 2>/dev/null | head -n 1)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ci-packages: apt-get not available: cannot install influxdb; the InfluxDB 1.x tests will skip"
  exit 0
fi
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo=(sudo -n)
  else
    echo "ci-packages: not root and no sudo: cannot install influxdb; the InfluxDB 1.x tests will skip"
    exit 0
  fi
fi
echo "ci-packages: installing influxdb (InfluxDB 1.x) with apt-get"
if "${sudo[@]}" apt-get update -qq && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq influxdb >/dev/null; then
  echo "ci-packages: installed: $(influxd version 2>/dev/null | head -n 1)"
else
  echo "ci-packages: installing influxdb failed; the InfluxDB 1.x tests will skip"
fi
exit 0
