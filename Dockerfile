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
CMD ["ecc", "web", "--host", "0.0.0.0"]
