#!/usr/bin/env bash
# podvisor serve (without --nats-url) and the test suite run a real nats-server.
# Installs Debian's when it is missing and this user may; otherwise says how.
set -euo pipefail
command -v nats-server >/dev/null 2>&1 && exit 0
if command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else sudo="none"; fi
  if [ "$sudo" != none ]; then
    echo "nats-server not found: installing Debian's package" >&2
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null
    exit 0
  fi
fi
echo "nats-server not found on PATH: install it (Debian/Ubuntu: apt-get install nats-server;" >&2
echo "elsewhere: https://github.com/nats-io/nats-server/releases) or run podvisor serve --nats-url URL" >&2
exit 1
