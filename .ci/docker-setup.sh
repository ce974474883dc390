#!/usr/bin/env bash
# Make a Docker engine and a Python base image available on a Debian machine without a registry.
#
#   PYTHON_IMAGE=$(.ci/docker-setup.sh)     # then: docker compose build / make test-docker
#
# 1. Installs docker.io, docker-compose (v1), mmdebstrap and curl from Debian when one is missing.
# 2. Starts `dockerd` in the background when no engine answers, and waits for it (bounded).
#    The PID of a dockerd started here is written to $DOCKERD_PIDFILE, so the caller can stop
#    exactly that process (and leave alone an engine that was already running).
# 3. Prints the base image to build with: $PYTHON_IMAGE (default python:3.11-slim) when it is
#    present or can be pulled; otherwise a stand-in made from Debian's own packages
#    (Debian bookworm's python3 is 3.11), built once and then found by name.
#
# Progress goes to stderr; stdout carries only the image name.
set -euo pipefail

WANTED_IMAGE=${PYTHON_IMAGE:-python:3.11-slim}
STANDIN_IMAGE=${KV_STANDIN_IMAGE:-kv-standin/python:3.11-bookworm}
DOCKERD_PIDFILE=${DOCKERD_PIDFILE:-/tmp/kv-dockerd.pid}
DOCKERD_LOG=${DOCKERD_LOG:-/tmp/kv-dockerd.log}
DOCKERD_WAIT_SECONDS=${DOCKERD_WAIT_SECONDS:-60}
HOST_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

say() { printf 'docker-setup: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# Root for apt, dockerd and mmdebstrap; CI and these machines run as root, developers may not.
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi

install_engine() {
    if command -v docker >/dev/null && command -v docker-compose >/dev/null \
        && command -v mmdebstrap >/dev/null && command -v curl >/dev/null; then
        return
    fi
    say "installing docker.io, docker-compose, mmdebstrap and curl from Debian"
    $SUDO apt-get update -qq >&2
    $SUDO env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq docker.io docker-compose mmdebstrap curl >&2
}

start_engine() {
    if docker info >/dev/null 2>&1; then
        say "a Docker engine is already running"
        return
    fi
    say "starting dockerd (log: $DOCKERD_LOG)"
    # setsid: the daemon outlives this script; the caller stops it by the PID in the pidfile.
    $SUDO setsid dockerd >"$DOCKERD_LOG" 2>&1 </dev/null &
    local pid=$!
    echo "$pid" >"$DOCKERD_PIDFILE"
    local waited=0
    until docker info >/dev/null 2>&1; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$DOCKERD_LOG" >&2 || true
            die "dockerd exited during start-up (see $DOCKERD_LOG)"
        fi
        if [ "$waited" -ge "$DOCKERD_WAIT_SECONDS" ]; then
            tail -n 20 "$DOCKERD_LOG" >&2 || true
            die "dockerd did not answer within ${DOCKERD_WAIT_SECONDS}s (see $DOCKERD_LOG)"
        fi
        sleep 1
        waited=$((waited + 1))
    done
    say "dockerd is up after ${waited}s (pid $pid)"
}

# A minimal Debian with python3 and venv, trusting this machine's certificate authorities so
# that `pip install` inside `docker build` reaches the package index through the network's proxy.
build_standin() {
    local workdir
    workdir=$(mktemp -d)
    # shellcheck disable=SC2064  # expand now: the trap must remove this directory
    trap "rm -rf '$workdir'" RETURN
    say "building stand-in base image $STANDIN_IMAGE with mmdebstrap"
    $SUDO mmdebstrap --quiet --variant=minbase \
        --include=python3,python3-venv,ca-certificates \
        --customize-hook="copy-in $HOST_CA_BUNDLE /etc/ssl/certs" \
        bookworm "$workdir/base.tar" >&2
    docker import \
        --change "ENV PIP_CERT=$HOST_CA_BUNDLE" \
        --change "ENV LANG=C.UTF-8" \
        --change 'CMD ["python3"]' \
        "$workdir/base.tar" "$STANDIN_IMAGE" >&2
}

base_image() {
    if docker image inspect "$WANTED_IMAGE" >/dev/null 2>&1 \
        || docker pull --quiet "$WANTED_IMAGE" >/dev/null 2>&1; then
        echo "$WANTED_IMAGE"
        return
    fi
    say "$WANTED_IMAGE cannot be pulled here; using the stand-in $STANDIN_IMAGE"
    if ! docker image inspect "$STANDIN_IMAGE" >/dev/null 2>&1; then
        build_standin
    fi
    echo "$STANDIN_IMAGE"
}

install_engine
start_engine
base_image
