# factoryd in a container. The agent sandbox is bubblewrap, which needs user namespaces:
# run with `--security-opt seccomp=unconfined --security-opt apparmor=unconfined` (see
# docker-compose.yml and README "Running in a container"); without them every run fails closed.
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends bubblewrap git ca-certificates \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 factory
WORKDIR /app
COPY pyproject.toml README.md .env.example ./
COPY automations ./automations
COPY harness ./harness
# factory/defaults links to automations/, harness/ and .env.example: copied before the build
COPY factory ./factory
# EXTRAS=distributed adds dbos (deploy/docker-compose.distributed.yml)
ARG EXTRAS=""
RUN pip install --no-cache-dir ".${EXTRAS:+[$EXTRAS]}"

RUN mkdir -p /data && chown factory:factory /data

USER factory
ENV FACTORY_DATA_DIR=/data FACTORY_HOST=0.0.0.0 FACTORY_LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 8765
HEALTHCHECK CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8765/healthz', timeout=3)" || exit 1
CMD ["factoryd", "start"]
