# The orchestrator as a service image: Python, PyAV/aiortc wheels, nginx-rtmp for local ingest.
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      nginx libnginx-mod-rtmp fonts-noto-cjk fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY orchestrator ./orchestrator
RUN pip install --no-cache-dir .
COPY schedules ./schedules
COPY config ./config

RUN useradd --create-home summit && mkdir -p /app/runs /app/media /app/state && chown -R summit /app
USER summit
ENV PYTHONUNBUFFERED=1
# Default: rehearse the reference event; `docker run IMAGE summit validate schedules/x.yaml` for others.
CMD ["summit", "--log-format", "json", "rehearse", "schedules/cac-2020.yaml", "--no-progress"]
