# A stand-in for etcd's official image, for machines without a container registry: Debian's own
# etcd-server (3.4) and etcd-client on the stand-in base that .ci/docker-setup.sh makes.
# Anywhere a registry answers, docker-compose.cluster.yml uses the official image instead
# (ETCD_IMAGE). Built by .ci/etcd-image.sh.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        etcd-server etcd-client \
    && rm -rf /var/lib/apt/lists/*
EXPOSE 2379 2380
CMD ["etcd"]
