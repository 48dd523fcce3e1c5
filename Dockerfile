# Launch Ready: one image for every process of the product.
#
#   web     gunicorn -c python:launchready.gunicorn_conf launchready.wsgi:application -b 0.0.0.0:8000 --workers 3   (the CMD below)
#   worker  celery -A launchready worker -l info
#   beat    celery -A launchready beat -l info -s var/celerybeat-schedule
#           (the sweeper of audits whose worker died; -s because beat keeps its schedule in a
#           file, by default in the working directory, which this user cannot write)
#   once    python manage.py migrate --noinput    (before the others start)
#
# docker-compose.yml runs all of them from this image, with PostgreSQL and Redis. Every
# setting comes from the environment: see .env.example.
#
# The code runs from /app, not from site-packages: settings find templates/, scenarios/ and
# var/ next to the packages (BASE_DIR), so the project is installed in editable mode.

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# WeasyPrint (the handover PDF) lays text out with Pango and HarfBuzz, subsets fonts with
# libharfbuzz-subset, and needs fonts to draw with: the PDF template asks for Liberation Sans
# and DejaVu Sans Mono. fontconfig builds the font cache here, once, not in every process.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 \
        libpangoft2-1.0-0 \
        libharfbuzz-subset0 \
        fontconfig \
        fonts-dejavu-core \
        fonts-liberation2 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first, read from pyproject.toml, so that this layer is rebuilt only when they
# change and not on every change of the code.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .
RUN pip install --no-deps -e . \
    && useradd --system --user-group --create-home --uid 10001 launchready \
    && mkdir -p var \
    && chown launchready:launchready var

# The code stays root's and read-only to the processes; only var/ is theirs to write
# (settings create it on start, the CLI writes handover PDFs there, beat its schedule).
USER launchready

EXPOSE 8000

CMD ["gunicorn", "-c", "python:launchready.gunicorn_conf", "launchready.wsgi:application", "-b", "0.0.0.0:8000", "--workers", "3"]
