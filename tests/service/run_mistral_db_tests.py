"""Run by upstream's Python: Mistral's DB-layer unit tests on the database that
``OS_DATABASE__CONNECTION`` names; prints one JSON line of counts."""

import json
import os
import unittest
import warnings

warnings.simplefilter("ignore")

import mistral  # noqa: E402

top = os.path.dirname(os.path.dirname(mistral.__file__))
suite = unittest.TestLoader().discover(
    os.path.join(top, "mistral", "tests", "unit", "db"), top_level_dir=top)
with open(os.devnull, "w") as sink:
    result = unittest.TextTestRunner(stream=sink, verbosity=0).run(suite)
problems = result.failures + result.errors
print(json.dumps({
    "run": result.testsRun, "failures": len(result.failures), "errors": len(result.errors),
    "skipped": len(result.skipped),
    "first": [f"{test}: {[line for line in text.splitlines() if 'Error' in line][-1:]}"
              for test, text in problems[:5]],
}))
