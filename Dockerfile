# The two images the Cloud Run services run, built by Cloud Build (cloudbuild.yaml picks the target):
#   cpu  the lite engine (requirements.txt): no torch, no transformers; on-upload, HTTP and worker
#        services that do not run vlm
#   gpu  the vlm engine with torch's CUDA 12.6 build (requirements-gpu.txt), which runs on the
#        driver Cloud Run installs for the L4; the services that run vlm
# The entrypoint is functions-framework; each service passes --target and --signature-type
# (infra/run.tf), so one image serves main.ocr_on_upload, main.ocr_http and main.ocr_worker.
FROM python:3.11-slim-bookworm AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

FROM base AS cpu
COPY requirements.txt ./
RUN pip install -r requirements.txt
COPY main.py ./
COPY functions/ functions/
COPY common/ common/
# Build the lite engine once, as root: it fails the build if the engine cannot start, and any
# model file rapidocr would fetch lands in the image now, not at run time in a read-only place.
RUN OCR_ENGINE=lite python -c "from common.config import Settings; from common.engines.lite import LiteEngine; LiteEngine(Settings.from_env())"
# No volume is mounted in a cpu service, so it can run unprivileged.
RUN useradd --no-create-home --uid 10001 app
USER 10001
ENTRYPOINT ["functions-framework"]

FROM base AS gpu
COPY requirements.txt requirements-vlm.txt requirements-gpu.txt ./
RUN pip install -r requirements-gpu.txt
COPY main.py ./
COPY functions/ functions/
COPY common/ common/
# Runs as root: the model cache is a Cloud Storage FUSE mount owned by root, and the loader
# writes to it (downloads, lock files). Cloud Run's gen2 sandbox isolates the container.
ENTRYPOINT ["functions-framework"]
