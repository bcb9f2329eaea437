"""The code verifier: real HumanEval/MBPP tests, stdin/stdout problems, and hostile programs in the sandbox."""

import gzip
import json
import socket
import subprocess
import threading
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datafactory.verifiers.code import CodeVerifier, extract_code, same_output
from datafactory.verifiers.sandbox import UID_RANGE, Limits, bwrap_path, run_python
from tests.conftest import run_cli

pytestmark = pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap is not installed (make test installs it)")


def fenced(code: str) -> str:
    return f"Here is my solution.\n\n```python\n{code}\n```\n"


@pytest.fixture(scope="module")
def verifier():
    return CodeVerifier({"test_timeout": 10})


@pytest.mark.slow
def test_humaneval_canonical_solutions_pass_and_empty_bodies_fail(verifier, shared_data):
    tasks = [
        json.loads(line) for line in gzip.decompress((shared_data / "HumanEval.jsonl.gz").read_bytes()).splitlines()
    ]
    assert len(tasks) == 164
    results = [verifier.verify(fenced(t["prompt"] + t["canonical_solution"]), None, t) for t in tasks]
    assert [r.reason for r in results if not r.ok] == []
    stubs = [verifier.verify(fenced(t["prompt"] + "    pass\n"), None, t) for t in tasks]
    assert not any(r.ok for r in stubs)
    assert {r.reason for r in stubs} <= {"tests_failed", "runtime_error"}


@pytest.mark.slow
def test_mbpp_reference_solutions_pass_and_report_the_failing_assert(verifier, shared_data):
    tasks = json.loads((shared_data / "sanitized-mbpp.json").read_text())
    assert len(tasks) == 427
    assert all(verifier.verify(fenced(t["code"]), None, t).ok for t in tasks)
    task = next(t for t in tasks if len(t["test_list"]) >= 3)
    broken = fenced(task["code"]) + "\n"  # keep the code, then break the second assert by changing the data
    row = {**task, "test_list": [task["test_list"][0], "assert False, 'planted'", task["test_list"][2]]}
    result = verifier.verify(broken, None, row)
    assert result.reason == "tests_failed" and result.detail.startswith("test 1:") and "planted" in result.detail


def test_stdin_stdout_cases_with_floats_and_trailing_whitespace(verifier):
    code = (
        "n = int(input())\nvalues = list(map(float, input().split()))\nprint(sum(values) / n, '   ')\nprint('done')\n"
    )
    row = {
        "tests": [
            {"input": "3\n1 2 4\n", "output": "2.3333333333\ndone\n\n"},
            {"input": "1\n5\n", "output": "5.0\ndone"},
        ]
    }
    assert verifier.verify(fenced(code), None, row).ok
    wrong = {"tests": [{"input": "1\n5\n", "output": "5.1\ndone"}]}
    result = verifier.verify(fenced(code), None, wrong)
    assert result.reason == "tests_failed" and result.detail.startswith("test 0:")
    as_json = {"input_output": json.dumps({"inputs": ["2\n1 1\n"], "outputs": ["1.0\ndone\n"]})}
    assert verifier.verify(fenced(code), None, as_json).ok
    assert same_output("1 2  \n\n", "1 2") and not same_output("1 2 3", "1 2")
    assert same_output("0.30000000000000004", "0.3") and not same_output("0.31", "0.3")


@pytest.mark.parametrize(
    ("printed", "expected", "same"),
    [
        ("1000000001", "1000000000", False),  # integers compare exactly (a relative tolerance let this pass)
        ("1_000", "1000", False),
        ("1.0e+03", "1000", False),
        ("1000.0", "1000", False),
        ("Infinity", "inf", False),  # words compare exactly
        ("INF", "inf", False),
        ("nan", "nan", True),
        ("-0", "0", False),
        ("YES", "yes", False),
        ("0.3333333", "0.333333333", True),  # an expected decimal number: within 1e-6, relative or absolute
        ("2", "2.0", True),
        ("2.0000001", "2.0", True),
        ("2.001", "2.0", False),
        ("1e-07", "1.0e-07", True),
        ("1_0.0", "10.0", False),  # only a plain number may stand for a decimal one
        ("inf", "1e309", False),
        ("0x10", "16.0", False),
    ],
)
def test_stdout_tokens_compare_exactly_unless_a_decimal_number_is_expected(printed, expected, same):
    assert same_output(f"{printed}\n", f"{expected}\n") is same
    assert same_output(f"a {printed} b", f"a {expected} b") is same


def test_extraction_syntax_errors_and_missing_code(verifier):
    assert extract_code("a\n```py\nx = 1\n```\nb\n```python\ny = 2\n```") == "y = 2\n"
    assert extract_code("def f():\n    return 1") is not None
    assert extract_code("The answer is 42.") is None
    row = {"test": "def check(f):\n    assert f() == 1\n", "entry_point": "f", "prompt": ""}
    assert verifier.verify("The answer is 42.", None, row).reason == "no_code"
    assert verifier.verify(fenced("def f(:\n    return 1"), None, row).reason == "syntax_error"
    assert verifier.verify(fenced("def f():\n    return 1"), None, row).ok


class Listener:
    """A TCP listener on 127.0.0.1 that records every connection it accepts."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                connection, _ = self.sock.accept()
                self.accepted += 1
                connection.close()
            except OSError:
                continue

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()


def sandbox_processes(uids: tuple[int, int] = UID_RANGE) -> list[str]:
    """Live (not zombie) processes running under a sandbox uid in `uids`."""
    output = subprocess.run(["ps", "-eo", "uid=,stat=,args="], capture_output=True, text=True).stdout
    return [
        line for line in output.splitlines() if uids[0] <= int(line.split()[0]) < uids[1] and "Z" not in line.split()[1]
    ]


@pytest.fixture
def own_uids(monkeypatch) -> tuple[int, int]:
    """A narrow uid range of this test's own for its sandboxes, so that it looks only at what it started (another
    job's sandboxes draw from the whole range)."""
    import random

    from datafactory.verifiers import sandbox

    start = random.SystemRandom().randrange(UID_RANGE[0], UID_RANGE[1] - 1000)
    monkeypatch.setattr(sandbox, "UID_RANGE", (start, start + 1000))
    return start, start + 1000


def test_hostile_programs_are_contained(tmp_path, own_uids):
    canary = tmp_path / "canary.txt"
    canary.write_text("secret")
    listener = Listener()
    hostile = {
        "fork_bomb": ("import os\nwhile True:\n    os.fork()\n", {"runtime_error", "timeout"}),
        "memory_bomb": ("x = bytearray(8 * 1024**3)\n", {"memory_limit"}),
        "infinite_loop": ("while True:\n    pass\n", {"timeout"}),
        "background_children": (
            "import os, time\nif os.fork() == 0:\n    time.sleep(60)\nprint('parent done')\n",
            {"ok"},
        ),
        "huge_file": ("open('/tmp/huge', 'wb').write(b'x' * (200 * 1024**2))\n", {"output_limit", "memory_limit"}),
        "write_outside": (f"open({str(tmp_path / 'escaped.txt')!r}, 'w').write('x')\n", {"runtime_error"}),
        "read_canary": (f"print(open({str(canary)!r}).read())\n", {"runtime_error"}),
        "network": (
            f"import socket\nsocket.create_connection(('127.0.0.1', {listener.port}), timeout=2)\n",
            {"runtime_error"},
        ),
        "kill_parent": (
            "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nimport time\ntime.sleep(5)\n",
            {"runtime_error", "timeout", "ok"},
        ),
        "stdout_flood": ("while True:\n    print('x' * 1000)\n", {"output_limit"}),
        "setsid_escape": (
            "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\nprint('escaped?')\n",
            {"ok"},
        ),
        "read_root": ("import os\nprint(os.listdir('/root'))\n", {"runtime_error"}),
    }
    try:
        for name, (program, expected) in hostile.items():
            started = time.monotonic()
            result = run_python(program, "", Limits(wall_seconds=3))
            assert result.status in expected, (name, result.status, result.stderr[-300:])
            assert time.monotonic() - started < 10, name
            if name == "read_canary":
                assert "secret" not in result.stdout
    finally:
        listener.close()
    assert canary.read_text() == "secret"
    assert not (tmp_path / "escaped.txt").exists()
    assert listener.accepted == 0
    deadline = time.monotonic() + 5
    while sandbox_processes(own_uids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert sandbox_processes(own_uids) == []


def test_filter_with_code_verifier_end_to_end(tmp_path):
    test = "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n"
    rows = []
    for index, body in enumerate(["    return a + b\n", "    return a - b\n", "    while True:\n        pass\n"]):
        completion = f"<think>\nAdd the two numbers.\n</think>\n\n{fenced('def add(a, b):' + chr(10) + body)}"
        rows.append({"prompt_id": "add", "sample_index": index, "completion": completion, "finish_reason": "stop",
                     "prompt": "def add(a, b):\n", "test": test, "entry_point": "add"})  # fmt: skip
    (tmp_path / "s").mkdir()
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "s" / "part-00000.parquet")
    out = tmp_path / "o"
    result = run_cli("filter", tmp_path / "s", "-o", out, "--verifier", "code", "--test-timeout", "2", "--keep", "1")
    assert result.returncode == 0, result.stderr
    table = (
        pq.read_table(out / "part-00000.parquet").to_pylist()
        + pq.read_table(out / ".rejected" / "part-00000.parquet").to_pylist()
    )
    verdicts = {r["sample_index"]: r["verdict"] for r in table}
    assert verdicts == {0: "pass", 1: "tests_failed", 2: "timeout"}


def test_missing_bwrap_is_exit_2_with_the_install_hint(tmp_path):
    (tmp_path / "s.jsonl").write_text(json.dumps({"prompt_id": "a", "completion": "x"}) + "\n")
    env = {"PATH": str(tmp_path)}  # no bwrap on this PATH
    result = run_cli("filter", tmp_path / "s.jsonl", "-o", tmp_path / "o", "--verifier", "code", env=env)
    assert result.returncode == 2 and "apt-get install bubblewrap" in result.stderr
    assert not (tmp_path / "o").exists()
    unsafe = run_cli(
        "filter", tmp_path / "s.jsonl", "-o", tmp_path / "u", "--verifier", "code", "--unsafe-no-sandbox", env=env
    )
    assert unsafe.returncode == 0 and "WITHOUT isolation" in unsafe.stderr


def test_humaneval_completions_that_continue_the_prompt(verifier, shared_data):
    """The human-eval format: the completion is the function body, with or without a fence or indentation."""
    tasks = [
        json.loads(line) for line in gzip.decompress((shared_data / "HumanEval.jsonl.gz").read_bytes()).splitlines()
    ][:20]
    for task in tasks:
        body = task["canonical_solution"]
        assert verifier.verify(body, None, task).ok, task["task_id"]  # the bare body, as the harness expects
        assert verifier.verify(fenced(body), None, task).ok, task["task_id"]
    task = next(t for t in tasks if t["canonical_solution"].count("\n") == 1)
    unindented = task["canonical_solution"].strip()
    assert verifier.verify(fenced(unindented), None, task).ok
    wrong = verifier.verify("    return None\n", None, task)
    assert not wrong.ok and wrong.detail
    assert verifier.verify("I cannot solve this.", None, task).detail  # a failure always says why


def test_a_program_gets_ctrl_c_as_from_a_shell_though_its_verifier_worker_is_deaf_to_it(tmp_path):
    """Verifier workers start with SIGINT blocked (worker_processes.py); a program that gets KeyboardInterrupt
    (which its tests expect), or installs a SIGINT handler, must pass as it would from a shell. Through a real
    filter."""
    test = (
        "def check(candidate):\n    try:\n        candidate(False)\n"
        "    except KeyboardInterrupt:\n        pass\n    else:\n        raise AssertionError('no KeyboardInterrupt')\n"
        "    assert candidate(True) == [1]\n"
    )
    solution = (
        "import signal\n\ndef interrupt(handle):\n    seen = []\n    if handle:\n"
        "        signal.signal(signal.SIGINT, lambda *_: seen.append(1))\n    signal.raise_signal(signal.SIGINT)\n"
        "    return seen\n"
    )
    row = {"prompt_id": "int", "sample_index": 0, "completion": f"<think>\nRaise it.\n</think>\n\n{fenced(solution)}",
           "finish_reason": "stop", "prompt": "def interrupt(handle):\n", "test": test, "entry_point": "interrupt"}  # fmt: skip
    (tmp_path / "s").mkdir()
    pq.write_table(pa.Table.from_pylist([row]), tmp_path / "s" / "part-00000.parquet")
    out = tmp_path / "o"
    result = run_cli("filter", tmp_path / "s", "-o", out, "--verifier", "code", "--test-timeout", "5")
    assert result.returncode == 0, result.stderr
    kept = pq.read_table(out / "part-00000.parquet").to_pylist()
    assert [(r["verdict"], r["reasons"]) for r in kept] == [("pass", [])], [(r["verdict"], r["reasons"]) for r in kept]
