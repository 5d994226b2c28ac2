"""The code that runs inside a function's sandbox process.

Nothing under this folder may import Django, the platform's settings or any platform
module: the child interpreter runs with the standard library, this folder and the
function's own code on its path, and nothing else (see docs/functions-sandbox.md).
"""

from __future__ import annotations

from pathlib import Path

RUNTIME_DIR = Path(__file__).resolve().parent
RUNTIME_SCRIPT = RUNTIME_DIR / "baas_runtime.py"
