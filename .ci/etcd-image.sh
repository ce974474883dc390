#!/usr/bin/env bash
# Print the etcd image for docker-compose.cluster.yml, after making sure it is there.
#
#   ETCD_IMAGE=$(.ci/etcd-image.sh)     # after PYTHON_IMAGE=$(.ci/docker-setup.sh)
#
# $ETCD_IMAGE (default: etcd's official image) when present or pullable; otherwise a stand-in
# built from Debian's etcd-server package on the stand-in base image ($PYTHON_IMAGE, the Debian
# base .ci/docker-setup.sh made), once, then found by name. Progress on stderr, the name on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

WANTED_IMAGE=${ETCD_IMAGE:-gcr.io/etcd-development/etcd:v3.5.17}
STANDIN_IMAGE=${KV_ETCD_STANDIN_IMAGE:-kv-standin/etcd:3.4-bookworm}
BASE_IMAGE=${PYTHON_IMAGE:-kv-standin/python:3.11-bookworm}

say() { printf 'etcd-image: %s\n' "$*" >&2; }

if docker image inspect "$WANTED_IMAGE" >/dev/null 2>&1 \
    || docker pull --quiet "$WANTED_IMAGE" >/dev/null 2>&1; then
    echo "$WANTED_IMAGE"
    exit 0
fi
say "$WANTED_IMAGE cannot be pulled here; using the stand-in $STANDIN_IMAGE"
if ! docker image inspect "$STANDIN_IMAGE" >/dev/null 2>&1; then
    say "building $STANDIN_IMAGE from Debian's etcd-server on $BASE_IMAGE"
    docker build --network host --build-arg "BASE_IMAGE=$BASE_IMAGE" \
        -f docker/etcd-standin.Dockerfile -t "$STANDIN_IMAGE" docker >&2
fi
echo "$STANDIN_IMAGE"
