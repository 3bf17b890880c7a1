"""The API server stands alone: importing it loads none of the batch package ``pipeline``."""
from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT

PROBE = """
import json, sys
import server.app, server.wsgi, server.config, server.db
app = server.app.create_app({"SIMILARITY_DB_PATH": "/nonexistent/similarity.db"})
app.test_client().get("/api/openapi.json")
print(json.dumps(sorted(name for name in sys.modules if name == "pipeline" or name.startswith("pipeline."))))
"""


def test_server_does_not_import_the_pipeline() -> None:
    """In a fresh interpreter (this one has the test fixtures' ``pipeline`` loaded already)."""
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == []


def test_the_probe_would_see_a_pipeline_import() -> None:
    """The check above can fail: the same probe after importing a pipeline module reports it."""
    probe = PROBE.replace("import server.app,", "import pipeline.paths, server.app,")
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "pipeline.paths" in json.loads(result.stdout.splitlines()[-1])
