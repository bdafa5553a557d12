# One image for web (gunicorn), worker and beat.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client && rm -rf /var/lib/apt/lists/*
WORKDIR /srv/ccd
COPY pyproject.toml README.md ./
COPY app ./app
COPY admin_views ./admin_views
COPY tasks ./tasks
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
COPY wsgi.py celery_worker.py ./
# Extras, e.g. --build-arg CCD_EXTRAS=[s3] for backup upload to S3-compatible storage.
ARG CCD_EXTRAS=
RUN pip install --no-cache-dir ".${CCD_EXTRAS}"
RUN useradd --system --home /srv/ccd ccd && mkdir -p /srv/ccd/instance/imports /srv/ccd/backups \
    && chown -R ccd /srv/ccd/instance /srv/ccd/backups
USER ccd
EXPOSE 8000
CMD ["sh", "-c", "flask --app wsgi db upgrade && flask --app wsgi ccd bootstrap && gunicorn --bind 0.0.0.0:8000 --workers 3 wsgi:app"]
