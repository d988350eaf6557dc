"""A stand-in for mistral-extra in the tests: it advertises two preinstalled workflows.

Its ``.dist-info`` beside this package declares, in the group
``mistral.preinstalled_workflows``, the entry point
``extra_fixture = mistral_extra_fixture:get_preinstalled_workflows``; a test
puts ``fixture_dist/`` on ``sys.path`` to "install" it.  The workflow files
are ``tests/cases/populate/workflows/*.yaml``, whose texts are the
``definition`` values upstream stored (tests/reference/upstream-populate.json).
"""

from __future__ import annotations

from pathlib import Path

WORKFLOWS_DIR = Path(__file__).resolve().parents[2] / "workflows"


def get_preinstalled_workflows() -> list[str]:
    """The paths of the workflow files, as mistral-extra's callable returns them."""
    return [str(path) for path in sorted(WORKFLOWS_DIR.glob("*.yaml"))]
