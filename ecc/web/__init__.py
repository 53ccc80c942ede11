"""The HTTP side: /api/v1, its OpenAPI text, health, the answer cache and the gunicorn worker."""
