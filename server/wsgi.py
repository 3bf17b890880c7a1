"""WSGI entry point for production: ``gunicorn ... server.wsgi:app`` (settings from the environment)."""
from server.app import create_app

app = create_app()
