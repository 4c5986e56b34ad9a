"""Test helper: run a script with CLIP_benchmark's own code in its peer virtualenv.

The peer lives in its own venv because clip-benchmark imports torchvision, which does not import
beside this project's torch; ``scripts/install.sh --dev`` creates ``.peers/clipbench``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

CLIPBENCH_PYTHON = Path(__file__).resolve().parents[1] / ".peers" / "clipbench" / "bin" / "python"

needs_clipbench = pytest.mark.skipif(
    not CLIPBENCH_PYTHON.exists(),
    reason="clip-benchmark venv absent: run scripts/install.sh --dev (it creates .peers/clipbench)",
)


def run_clipbench(script: str, folder: Path) -> dict[str, Any]:
    """Run ``script`` (given ``folder`` as its argument) in the peer venv; return the JSON object it
    prints on its last line."""
    (folder / "run.py").write_text(script)
    done = subprocess.run(
        [str(CLIPBENCH_PYTHON), str(folder / "run.py"), str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
