"""The process memory settings mix applies: huge pages off unless the user chose, page purging off in the CLI."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
from datafactory.memory import use_small_pages
done = use_small_pages()
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(done, status["THP_enabled"].strip())
"""


def _probe(**env) -> list[str]:
    environment = {k: v for k, v in os.environ.items() if k != "MIMALLOC_ALLOW_THP"} | env
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=environment)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


@pytest.mark.skipif("THP_enabled" not in Path("/proc/self/status").read_text(), reason="no THP_enabled in /proc")
def test_huge_pages_are_turned_off_unless_the_user_chose():
    assert _probe() == ["True", "0"]
    assert _probe(MIMALLOC_ALLOW_THP="1") == ["False", "1"]


def test_the_cli_keeps_freed_memory_unless_told_otherwise():
    script = "import os, sys; from datafactory.cli import main; sys.argv = ['datafactory', '--version']\n"
    script += "try:\n    main()\nfinally:\n    print(os.environ['MIMALLOC_PURGE_DELAY'])\n"
    for env, expected in (({}, "-1"), ({"MIMALLOC_PURGE_DELAY": "10"}, "10")):
        environment = {k: v for k, v in os.environ.items() if k != "MIMALLOC_PURGE_DELAY"} | env
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environment)
        assert result.stdout.strip().splitlines()[-1] == expected, result.stderr
