#!/usr/bin/env bash
# System packages the test suite needs beyond the virtualenv (Debian). Idempotent; quiet when
# everything is already there. The peers in ../shared/peers install their own packages.
set -euo pipefail
# chromium-headless-shell: tests/network/test_docs.py renders the admin API's /docs offline.
# chromium and chromium-driver: tests/console/ drive the web console in a real browser (Selenium).
# nats-server: tests/cluster/ run the cluster's bus against a real NATS JetStream (issue 14).
# haproxy: the TCP load balancer in front of a local cluster (`make cluster`, tests/cluster/).
packages=("$@")
[ ${#packages[@]} -gt 0 ] || packages=(chromium-headless-shell chromium chromium-driver nats-server haproxy)
need=()
for pkg in "${packages[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg"); done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
