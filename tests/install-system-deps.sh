#!/usr/bin/env bash
# System packages the test suite needs beyond the virtualenv (Debian). Idempotent; quiet when
# everything is already there. The peers in ../shared/peers install their own packages.
set -euo pipefail
# chromium-headless-shell: tests/network/test_docs.py renders the admin API's /docs offline.
# chromium and chromium-driver: tests/console/ drive the web console in a real browser (Selenium).
# nats-server: tests/cluster/ run the cluster's bus against a real NATS JetStream (issue 14).
# haproxy: the TCP load balancer in front of a local cluster (`make cluster`, tests/cluster/).
# postgresql: the PostgreSQL store's tests (tests/store/, tests/postgres_server.py), set up below.
packages=("$@")
[ ${#packages[@]} -gt 0 ] || packages=(chromium-headless-shell chromium chromium-driver nats-server haproxy postgresql)
need=()
for pkg in "${packages[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg"); done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi

# The PostgreSQL the tests use (tests/postgres_server.py): 127.0.0.1:5432, trust authentication
# for local TCP, a superuser role of this user and database `test`. Done once: a machine where
# this user already connects is left as it is.
if dpkg -s postgresql >/dev/null 2>&1 && ! psql -h 127.0.0.1 -d test -c "" >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  version=$(ls /etc/postgresql | sort -V | tail -1)
  hba=/etc/postgresql/$version/main/pg_hba.conf
  if ! $SUDO grep -q "^host all all 127.0.0.1/32 trust" "$hba"; then
    $SUDO sed -i "1i host all all 127.0.0.1/32 trust" "$hba"
  fi
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null \
    || $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  me=$(id -un)
  as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }
  as_postgres psql -qc "DO \$\$ BEGIN CREATE ROLE \"$me\" SUPERUSER LOGIN;
    EXCEPTION WHEN duplicate_object THEN NULL; END \$\$" >/dev/null
  as_postgres createdb -O "$me" test 2>/dev/null || true
fi
