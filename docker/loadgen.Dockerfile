# The load generator: Locust and the lab's locustfiles (loadtests/). Build context: the
# repository root. Run as master + workers by compose.yaml's `load` profile.
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python3 -m venv "$VIRTUAL_ENV"
ARG LOCUST_VERSION=2.47.0
RUN pip install "locust==${LOCUST_VERSION}" "prometheus-client>=0.20,<1" "hdrhistogram>=0.10,<1"

RUN useradd --system --uid 10002 --create-home --shell /usr/sbin/nologin locust
COPY loadtests /loadtests
USER locust
WORKDIR /home/locust
EXPOSE 8089 5557
CMD ["locust", "-f", "/loadtests/shop.py", "--help"]
