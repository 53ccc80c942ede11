FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY ecc ecc
COPY streams streams
COPY layouts layouts
COPY queries queries
COPY assets assets
RUN pip install --no-cache-dir ".[postgres]"
EXPOSE 8050
# No default phone hash key: a key written here would be public, and hashes made with it reversible
# (issue 6, finding 5). `docker run -e ECC_PHONE_HASH_KEY=...` or docker-compose.yml must set one.
# Web workers: `ecc web` starts 2 gunicorn workers with a ClickHouse server (ECC_CLICKHOUSE_DSN) and 1 with
# the embedded chDB, which one process only may open; WEB_CONCURRENCY (gunicorn's own variable) sets another
# number, about one per core: a wall refresh is CPU-bound Python and the workers keep no state of their
# own (docs/benchmarks.md "Serving the wall").
CMD ["sh", "-c", "test -n \"$ECC_PHONE_HASH_KEY\" || { echo 'set ECC_PHONE_HASH_KEY (a long random secret)' >&2; exit 2; }; exec ecc web --host 0.0.0.0 ${WEB_CONCURRENCY:+--workers \"$WEB_CONCURRENCY\"}"]
