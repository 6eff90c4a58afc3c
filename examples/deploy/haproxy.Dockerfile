# HAProxy 2.6 from Debian's package, for machines that cannot pull the official haproxy image:
#
#   docker build -f haproxy.Dockerfile -t sprocket-haproxy .
#   HAPROXY_IMAGE=sprocket-haproxy SPROCKET_IMAGE=sprocket-hello docker-compose up -d
#
# BASE may be any Debian bookworm image at hand (tests/e2e uses the local python:3.11-slim).
# haproxy.cfg is mounted by docker-compose.yml at the path the official image reads.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy \
    && rm -rf /var/lib/apt/lists/*
# As the official image: SIGUSR1 is HAProxy's graceful stop (finish open requests, then exit);
# as PID 1 it would otherwise ignore `docker stop`'s SIGTERM and be killed after the timeout.
STOPSIGNAL SIGUSR1
CMD ["haproxy", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]
