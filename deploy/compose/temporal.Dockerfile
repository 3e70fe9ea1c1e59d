# tempera/temporal: the Temporal server, its SQL schema tool, its UI server and the Temporal CLI, built the way
# ./tempera builds them (scripts/ensure-temporal-server.sh, scripts/ensure-temporal.sh), run by scripts/cluster.sh
# (schema | server | register | ui | probe). From the repository root:
#   docker build -f deploy/compose/temporal.Dockerfile -t tempera/temporal:1.32.2 .
FROM golang:1.26-bookworm AS build
WORKDIR /opt/tempera
RUN apt-get update -qq && apt-get install -y -qq python3-pip >/dev/null
COPY scripts/ scripts/
ENV TEMPERA_CACHE_DIR=/opt/tempera/cache PIP_BREAK_SYSTEM_PACKAGES=1
RUN scripts/ensure-temporal-server.sh && scripts/ensure-temporal.sh

FROM debian:bookworm-slim
COPY --from=build /opt/tempera/cache /opt/tempera/cache
COPY scripts/ /opt/tempera/scripts/
COPY deploy/cluster/ /opt/tempera/deploy/cluster/
ENV TEMPERA_CACHE_DIR=/opt/tempera/cache TEMPERA_CLUSTER_DIR=/var/lib/tempera-cluster
ENTRYPOINT ["/opt/tempera/scripts/cluster.sh"]
