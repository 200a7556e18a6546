# The shop's image: API, worker and the lab package (lab.agents: secrets, container
# exporter, replica naming).
# Build context: the repository root (see compose.yaml). BASE_IMAGE is any Debian-based
# image with python3 and its venv module: the official python image by default, or the
# local debootstrap base that scripts/docker-setup.sh builds where no registry answers.
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python3 -m venv "$VIRTUAL_ENV"

# dependencies first: this layer is rebuilt only when requirements.txt changes
COPY services/api/requirements.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt "setuptools>=68" wheel

WORKDIR /src
COPY pyproject.toml README.md ./
COPY lab ./lab
COPY services/api/shop_api ./services/api/shop_api
COPY services/worker/shop_worker ./services/worker/shop_worker
RUN pip install --no-deps --no-build-isolation . && rm -rf /src/build

# Not root. The secrets volume is created from this directory, so it starts out owned by
# the app user, who writes the generated passwords into it.
RUN useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin shop \
    && mkdir -p /run/lab-secrets && chown shop /run/lab-secrets
USER shop
WORKDIR /
EXPOSE 8000 9100
# Names the replica after its container (api-2, like the native runtime) before exec.
ENTRYPOINT ["python", "-m", "lab.agents.replica_name"]
CMD ["python", "-m", "shop_api"]
