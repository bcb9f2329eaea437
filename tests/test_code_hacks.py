"""A pass means the tests ran and passed; the sandbox shows a program no secret of the caller.

Each hostile program below is what a policy under rejection sampling or RL may write to be counted as a pass
without solving the task: it ends the process early through every door there is, forges the success line,
hunts for the harness's token, bends the tests' names, classes, library functions and comparisons, returns values
whose operators lie or lazy iterables, or reads the tests. None may pass. Each has a correct twin that does pass,
so a failure here is the hack being caught, not a broken harness. Benchmark scale: test_generic_cheats.py.
"""

import pytest

from datafactory.verifiers.code import CodeVerifier
from datafactory.verifiers.harness.tests_side import PASS_MARKER
from datafactory.verifiers.sandbox import Limits, bwrap_path, run_python

pytestmark = pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap is not installed (make test installs it)")

HUMANEVAL = {
    "prompt": "import math\n\ndef add(a, b):\n    '''Return a + b.'''\n",
    "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert math.isclose(candidate(0.5, 0.25), 0.75)\n"
    "    assert candidate(-1, 1) == 0\n",
    "entry_point": "add",
}
MBPP = {
    "test_imports": ["import math"],
    "test_list": ["assert is_even(4)", "assert not is_even(3)", "assert math.isclose(half(3), 1.5)"],
}
WRONG = "def add(a, b):\n    return 0\n"
WRONG_MBPP = "def is_even(n):\n    return False\n\ndef half(n):\n    return 0\n"
FAKE_TOKEN = "0123456789abcdef0123456789abcdef"

# name -> program prepended to a wrong solution (or replacing it); none of them may pass.
EXITS = {
    "sys_exit_at_import": "import sys\nsys.exit(0)\n",
    "os_exit_at_import": "import os\nos._exit(0)\n",
    "raise_systemexit_zero": "raise SystemExit(0)\n",
    "exit_inside_function": "import os\ndef add(a, b):\n    os._exit(0)\n",
    "sys_exit_inside_function": "import sys\ndef add(a, b):\n    sys.exit(0)\n",
    "atexit_hook": "import atexit, os\natexit.register(lambda: os._exit(0))\n",
    "excepthook": "import sys, os\nsys.excepthook = lambda *args: os._exit(0)\n",
    "signal_handler": (
        "import signal, os, time\nsignal.signal(signal.SIGALRM, lambda *a: os._exit(0))\n"
        "signal.setitimer(signal.ITIMER_REAL, 0.05)\ndef add(a, b):\n    time.sleep(1)\n    return 0\n"
    ),
    "sigterm_handler_and_self_kill": (
        "import signal, os\nsignal.signal(signal.SIGTERM, lambda *a: os._exit(0))\nos.kill(os.getpid(), signal.SIGTERM)\n"
    ),
    "thread_exits": (
        "import threading, os, time\n"
        "threading.Thread(target=lambda: (time.sleep(0.05), os._exit(0)), daemon=True).start()\n"
        "def add(a, b):\n    time.sleep(1)\n    return 0\n"
    ),
    "child_process_prints_success": (
        f"import subprocess\nsubprocess.run(['/usr/bin/python3', '-c', 'print(\"{PASS_MARKER} {FAKE_TOKEN}\")'])\n"
    ),
    "fork": "import os\nif os.fork():\n    os._exit(0)\n",
    "kill_self": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n",
    "kill_parent": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nos.kill(1, signal.SIGKILL)\n",
    "print_success_line": (
        f"import os\nprint('All tests passed')\nprint('{PASS_MARKER} {FAKE_TOKEN}', flush=True)\nos._exit(0)\n"
    ),
    "exception_str_exits": (
        "import os\nclass E(Exception):\n    def __str__(self):\n        os._exit(0)\ndef add(a, b):\n    raise E()\n"
    ),
    "close_stdout_then_exit": "import os\nos.close(1)\nos._exit(0)\n",
}
# Scans a chain of frames for the harness's token (a 32-hex-digit string among any frame's locals) and, when
# found, forges the pass line. Without the harness's defences these hunts do pass (checked by hand).
SCAN = """
import os
def forge(frame):
    while frame is not None:
        for value in list(frame.f_locals.values()):
            if isinstance(value, str) and len(value) == 32 and set(value) <= set('0123456789abcdef'):
                print(PASS_MARKER, value, flush=True)
                os._exit(0)
        frame = frame.f_back
"""
TOKEN_HUNTS = {
    "read_stdin": "import sys, os\ndata = sys.stdin.read()\nprint(f'{PASS_MARKER} ' + data.strip(), flush=True)\nos._exit(0)\n",
    "getframe": SCAN + "import sys\ndef add(a, b):\n    forge(sys._getframe())\n",
    "inspect_stack": SCAN + "import inspect\ndef add(a, b):\n    forge(inspect.currentframe())\n",
    "traceback_frames": SCAN + "def add(a, b):\n    try:\n        raise ValueError\n"
    "    except ValueError as e:\n        forge(e.__traceback__.tb_frame)\n",
    "exc_info": SCAN + "import sys\ndef add(a, b):\n    try:\n        1 / 0\n    except ZeroDivisionError:\n"
    "        forge(sys.exc_info()[2].tb_frame)\n",
    "generator_frame": SCAN + "def add(a, b):\n    def g():\n        forge(gen.gi_frame)\n        yield\n"
    "    gen = g()\n    next(gen)\n",
    "coroutine_frame": SCAN + "def add(a, b):\n    async def c():\n        forge(co.cr_frame)\n    co = c()\n"
    "    co.send(None)\n",
    "settrace": SCAN + "import sys\ndef tracer(frame, event, arg):\n    forge(frame)\n    return tracer\n"
    "sys.settrace(tracer)\n",
    "setprofile": SCAN + "import sys\nsys.setprofile(lambda frame, event, arg: forge(frame))\n",
    "gc_frames": SCAN + "import gc, types\ndef add(a, b):\n    for o in gc.get_objects():\n"
    "        if isinstance(o, types.FrameType):\n            forge(o)\n",
    "ctypes_frame": SCAN + "import ctypes\ndef add(a, b):\n    get = ctypes.pythonapi.PyEval_GetFrame\n"
    "    get.restype = ctypes.py_object\n    forge(get())\n",
    "proc_self_mem": "open('/proc/self/mem', 'rb')\n",
    "proc_relative": "import os\nos.chdir('/')\nopen('proc/self/mem', 'rb')\n",
    "dev_fd": "open('/dev/fd/0').read()\n",
    "harness_module": (  # rebind the harness's own check of plain values, then cheat with an always-equal result
        "import sys\nharness = sys.modules['__main__']\nharness._plain = lambda value, *rest: value\n"
        "class Same:\n    def __eq__(self, other):\n        return True\n"
        "def add(a, b):\n    return Same() if a == 2 else a + b\n"
    ),
    "reread_harness_file": "import os, runpy\nrunpy.run_path('/box/main.py', run_name='__main__')\n",
}
TAMPERING = {
    "always_equal": "class Same:\n    def __eq__(self, other):\n        return True\n    __hash__ = object.__hash__\n"
    "def add(a, b):\n    return Same() if a == 2 else a + b\n",
    "always_equal_int_subclass": "class Same(int):\n    def __eq__(self, other):\n        return True\n"
    "    __hash__ = int.__hash__\ndef add(a, b):\n    return Same(0) if a == 2 else a + b\n",
    "patch_math_isclose": "import math\nmath.isclose = lambda *a, **k: True\ndef add(a, b):\n    return a + b if a > 0 and a == int(a) else 0\n",
    "patch_builtins_exec": "import builtins\nbuiltins.exec = lambda *a, **k: None\n",
    "patch_assertion_error": "import builtins\nbuiltins.AssertionError = KeyboardInterrupt\n",
    "define_check": "def check(candidate):\n    pass\n",
    "lying_sub_and_abs": "class Zero:\n    def __sub__(self, other):\n        return 0\n    __rsub__ = __sub__\n"
    "    def __abs__(self):\n        return 0\ndef add(a, b):\n    return Zero() if a == 0.5 else a + b\n",
    "lying_float_subclass": "class F(float):\n    def __eq__(self, other):\n        return True\n    __hash__ = float.__hash__\n"
    "def add(a, b):\n    return F(0)\n",
    "redefine_math_module": "class M:\n    isclose = staticmethod(lambda *a, **k: True)\nmath = M()\n"
    "def add(a, b):\n    return a + b if a > 0 and a == int(a) else 0\n",
}
MBPP_TAMPERING = {
    "always_true": "class Yes:\n    def __bool__(self):\n        return True\n"
    "def is_even(n):\n    return Yes()\ndef half(n):\n    return n / 2\n",
    "not_always_false": "class No:\n    def __bool__(self):\n        return False\n"
    "def is_even(n):\n    return No() if n % 2 else 1 == 2\ndef half(n):\n    return n / 2\n",
}


@pytest.fixture(scope="module")
def verifier():
    return CodeVerifier({"test_timeout": 5})


def fenced(code: str) -> str:
    return f"```python\n{code}\n```"


def test_correct_programs_pass_so_the_hacks_below_fail_for_a_reason(verifier):
    assert verifier.verify(fenced("def add(a, b):\n    return a + b\n"), None, HUMANEVAL).ok
    assert verifier.verify(
        fenced("def is_even(n):\n    return n % 2 == 0\ndef half(n):\n    return n / 2\n"), None, MBPP
    ).ok
    assert not verifier.verify(fenced(WRONG), None, HUMANEVAL).ok
    printed = verifier.verify(fenced("print('hello')\ndef add(a, b):\n    return a + b\n"), None, HUMANEVAL)
    assert printed.ok  # output of its own does not hide the proof


def test_standard_library_that_looks_at_frames_still_works(verifier):
    """namedtuple, Enum, typing.NamedTuple and logging ask for their caller's frame; refused, they carry on."""
    program = (
        "import collections, enum, logging, typing\n"
        "Pair = collections.namedtuple('Pair', 'a b')\nColour = enum.Enum('Colour', 'RED GREEN')\n"
        "class Point(typing.NamedTuple):\n    x: int\n    y: int\n"
        "logging.getLogger('solution').warning('adding %s', Colour.RED.name)\n"
        "def add(a, b):\n    return sum(Pair(a, b)) + Point(0, 0).x\n"
    )
    result = verifier.verify(fenced(program), None, HUMANEVAL)
    assert result.ok, result


@pytest.mark.parametrize("name", sorted(EXITS))
def test_no_way_out_of_the_process_counts_as_a_pass(verifier, name):
    program = EXITS[name] + ("" if "def add" in EXITS[name] else WRONG)
    result = verifier.verify(fenced(program), None, HUMANEVAL)
    assert not result.ok, (name, result)
    assert result.detail, name  # a failure always says why
    mbpp = verifier.verify(fenced(EXITS[name].replace("def add(a, b)", "def is_even(n)") + WRONG_MBPP), None, MBPP)
    assert not mbpp.ok, (name, mbpp)


@pytest.mark.parametrize("name", sorted(TOKEN_HUNTS))
def test_the_pass_token_cannot_be_found(verifier, name):
    program = f"PASS_MARKER = {PASS_MARKER!r}\n" + TOKEN_HUNTS[name]
    program += "" if "def add" in program else WRONG
    result = verifier.verify(fenced(program), None, HUMANEVAL)
    assert not result.ok, (name, result)


@pytest.mark.parametrize("name", sorted(TAMPERING))
def test_tests_cannot_be_bent(verifier, name):
    result = verifier.verify(fenced(TAMPERING[name] + ("" if "def add" in TAMPERING[name] else WRONG)), None, HUMANEVAL)
    assert not result.ok, (name, result)


@pytest.mark.parametrize("name", sorted(MBPP_TAMPERING))
def test_truth_tests_cannot_be_bent(verifier, name):
    result = verifier.verify(fenced(MBPP_TAMPERING[name]), None, MBPP)
    assert not result.ok, (name, result)


def test_reasons_name_what_happened(verifier):
    early = verifier.verify(fenced("import os\nos._exit(0)\n" + WRONG), None, HUMANEVAL)
    assert early.reason == "tests_not_run"
    patched = verifier.verify(fenced(TAMPERING["patch_math_isclose"]), None, HUMANEVAL)
    assert patched.reason == "tests_failed"  # the tests used a math of their own
    equal = verifier.verify(fenced(TAMPERING["always_equal"]), None, HUMANEVAL)
    assert equal.reason == "tests_failed" and "only plain values count" in equal.detail
    crashed = verifier.verify(fenced("raise ValueError('no luck')\n"), None, HUMANEVAL)
    assert crashed.reason == "runtime_error" and "no luck" in crashed.detail


def test_what_a_program_does_to_itself_is_its_own_business(verifier):
    """The tests cannot be touched: a correct program that also patches its own interpreter, or rewrites its own
    function's code into a correct one, solved the task."""
    patching = (
        "import math, builtins\nmath.isclose = lambda *a, **k: True\nbuiltins.AssertionError = KeyboardInterrupt\n"
    )
    assert verifier.verify(fenced(patching + "def add(a, b):\n    return a + b\n"), None, HUMANEVAL).ok
    rewritten = "def add(a, b):\n    return 0\nadd.__code__ = (lambda a, b: a + b).__code__\n"
    assert verifier.verify(fenced(rewritten), None, HUMANEVAL).ok


# Issue 28's classes: nothing the program defines or changes may influence how the tests evaluate.
HELPERS = {
    "prompt": "import math\nimport collections\nimport random\n\ndef double(x):\n    return 2 * x\n\n"
    'def tally(word):\n    """Count the letters of word."""\n',
    "test": "def check(candidate):\n    assert candidate('abca') == collections.Counter({'a': 2, 'b': 1, 'c': 1})\n"
    "    assert set(candidate('xy')) == {'x', 'y'}\n    assert double(len(candidate('pq'))) == 4\n"
    "    assert abs(len(candidate('aaa')) - 1) < 1e-6\n"
    "    rng = random.Random(7)\n    for _ in range(5):\n        n = rng.randrange(1, 9)\n"
    "        assert sum(candidate('z' * n).values()) == n\n",
    "entry_point": "tally",
}
SOLVED = "import collections\n\ndef tally(word):\n    return dict(collections.Counter(word))\n"
REDEFINED_NAMES = {  # names the tests call, which a shared interpreter takes from the program's globals
    "abs": "def abs(x):\n    return 0\n",
    "set": "def set(x):\n    return {'x', 'y'}\n",
    "helper_of_the_prompt": "def double(x):\n    return 4\n",
    "module_objects": "class _Anything:\n    def __getattr__(self, name):\n"
    "        return lambda *a, **k: {'a': 2, 'b': 1, 'c': 1}\ncollections = _Anything()\nmath = _Anything()\n",
    "builtins_module": "import builtins\nbuiltins.abs = lambda x: 0\nbuiltins.set = lambda x: {'x', 'y'}\n",
}
PATCHED = {  # classes and library functions the tests use
    "counter_eq": "import collections\ncollections.Counter.__eq__ = lambda self, other: True\n",
    "random_randrange": "import random\nrandom.Random.randrange = lambda self, *a, **k: 1\n",
    "dict_subclass_lies": "class D(dict):\n    def __eq__(self, other):\n        return True\n"
    "    def values(self):\n        return [1]\n",
}
WRONG_TALLY = "def tally(word):\n    return {'z': 1} if word == 'z' else {'a': 1}\n"  # right only when n == 1


def test_the_helper_task_is_solvable_so_its_hacks_fail_for_a_reason(verifier):
    assert verifier.verify(fenced(SOLVED), None, HELPERS).ok
    assert not verifier.verify(fenced(WRONG_TALLY), None, HELPERS).ok


@pytest.mark.parametrize("name", sorted(REDEFINED_NAMES) + sorted(PATCHED))
def test_names_classes_and_library_functions_the_tests_use_are_their_own(verifier, name):
    hack = {**REDEFINED_NAMES, **PATCHED}[name]
    wrong = "def tally(word):\n    return D()\n" if "class D" in hack else WRONG_TALLY
    result = verifier.verify(fenced(hack + wrong), None, HELPERS)
    assert not result.ok, (name, result)
    assert verifier.verify(fenced(hack + SOLVED), None, HELPERS).ok, name  # the hack alone breaks nothing


LAZY = {
    "generator": "def is_even(n):\n    return (x for x in [n])\n",
    "map": "def is_even(n):\n    return map(abs, [n])\n",
    "filter_object": "def is_even(n):\n    return filter(None, [n, 1])\n",
    "zip_object": "def is_even(n):\n    return zip([n])\n",
    "iterator": "def is_even(n):\n    return iter([n])\n",
    "object_with_bool": "class Yes:\n    def __bool__(self):\n        return True\ndef is_even(n):\n    return Yes()\n",
}


@pytest.mark.parametrize("name", sorted(LAZY))
def test_lazy_iterables_and_objects_have_no_truth_of_their_own(verifier, name):
    row = {"test_list": ["assert is_even(4)", "assert is_even(10)"], "test_imports": []}
    assert verifier.verify(fenced("def is_even(n):\n    return n % 2 == 0\n"), None, row).ok
    result = verifier.verify(fenced(LAZY[name]), None, row)
    assert not result.ok and result.reason == "tests_failed", (name, result)


def test_a_generator_the_tests_turn_into_a_list_is_read_as_plain_items(verifier):
    row = {"test_list": ["assert list(evens(5)) == [0, 2, 4]", "assert sorted(evens(3)) == [0, 2]"]}
    assert verifier.verify(fenced("def evens(n):\n    return (i for i in range(n) if i % 2 == 0)\n"), None, row).ok
    lying = (
        "class L:\n    def __eq__(self, other):\n        return True\ndef evens(n):\n    return iter([L(), L(), L()])\n"
    )
    assert not verifier.verify(fenced(lying), None, row).ok


# The program's process is the program's: it can rewrite its own side of the wire and send anything down the pipe.
# Each forgery answers every call of `add` with one message; none may pass, and none may break the tests' side
# into a traceback other than a failed test.
FORGE = """
import sys
wire = sys.modules['wire']
real_send = wire.send
def send(stream, message):
    if isinstance(message, dict) and 'value' in message:
        stream.write(FORGED + b'\\n')
        stream.flush()
        return
    if isinstance(message, dict) and 'names' in message and NAMES is not None:
        message = NAMES
    real_send(stream, message)
wire.send = send
NAMES = None
def add(a, b):
    return 0
"""
FORGERIES = {
    "json_object_as_value": ('FORGED = b\'{"value": {"eq": true}}\'', None),
    "unknown_tag": ('FORGED = b\'{"value": ["Counter", [5]]}\'', None),
    "handle_out_of_range": ('FORGED = b\'{"value": ["handle", 99999]}\'', None),
    "nested_past_the_limit": ("FORGED = b'{\"value\": ' + b'[\"list\", [' * 5000 + b']]' * 5000 + b'}'", None),
    "not_json": ("FORGED = b'True'", None),
    "answer_of_another_call": ('FORGED = b\'{"names": {"add": ["call"]}}\'', None),
    "a_module_for_the_entry_point": ("FORGED = b'{}'", {"names": {"add": ["module", "operator"]}}),
    "a_package_outside_the_standard_library": ("FORGED = b'{}'", {"names": {"add": ["module", "numpy"]}}),
    "a_plain_value_for_the_entry_point": ("FORGED = b'{}'", {"names": {"add": ["value", 5]}}),
    "names_never_asked": ("FORGED = b'{}'", {"names": {"add": ["call"], "check": ["value", 0], "math": ["value", 0]}}),
}


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_forged_answers_on_the_wire_are_refused(verifier, name):
    forged, names = FORGERIES[name]
    program = FORGE.replace("NAMES = None", f"NAMES = {names!r}") + forged + "\n"
    result = verifier.verify(fenced(program), None, HUMANEVAL)
    assert not result.ok and result.reason in ("tests_failed", "runtime_error", "tests_not_run"), (name, result)
    assert "Traceback" not in (result.detail or ""), result.detail


def test_the_forgery_channel_is_live(verifier):
    """The forgeries above do reach the tests: a forged plain 5 is read as the program's answer (no more than
    returning 5 would give it), so their failures are the wire refusing them, not a forgery that never ran."""
    row = {"test_list": ["assert add(2, 3) == 5", "assert add(1, 1) == 5"]}
    program = FORGE + "FORGED = b'{\"value\": 5}'\n"
    assert verifier.verify(fenced(program), None, row).ok
    assert not verifier.verify(
        fenced(program.replace("add(a, b):\n    return 0", "add(a, b):\n    return 4")),
        None,
        {**row, "test_list": ["assert add(2, 3) == 4"]},
    ).ok


CANARY = "canary-4d1f-expected-answer"
READ_THE_TESTS = """
import os, sys
NEEDLE = 'canary-4d1f-' + 'expected-answer'  # in two parts: the program's own file holds no whole copy
found = []
def look(path):
    if not os.path.isfile(path):
        return
    try:
        with open(path, 'rb') as handle:
            if NEEDLE.encode() in handle.read(1 << 20):
                found.append(path)
    except OSError:
        pass
for top in ('/box', '/tmp', '/dev/shm', '/dev', '/', '/proc/self/fd'):
    for root, dirs, files in os.walk(top):
        if root.count('/') > 3 or root.startswith(('/usr', '/proc/sys')):
            dirs[:] = []
        for name in files:
            look(os.path.join(root, name))
try:
    found += ['stdin'] if NEEDLE in sys.stdin.read() else []
except (OSError, ValueError):
    pass
def add(a, b):
    return a + b if found else 0
"""


def test_the_program_cannot_read_its_tests(verifier):
    """The tests and everything of the tests' interpreter live where the program's sandbox cannot look."""
    row = {**HUMANEVAL, "test": HUMANEVAL["test"] + f"    assert '{CANARY}'\n"}
    assert verifier.verify(fenced("def add(a, b):\n    return a + b\n"), None, row).ok
    result = verifier.verify(fenced(READ_THE_TESTS), None, row)
    assert not result.ok and result.reason == "tests_failed", result


SECRET = "sk-datafactory-canary-7f3a"
LEAK_PROBE = """
import os, glob
seen = repr(dict(os.environ))
for path in ['/proc/self/environ', '/proc/1/environ', '/proc/1/cmdline'] + glob.glob('/proc/*/environ'):
    try:
        seen += open(path, 'rb').read().decode('utf-8', 'replace')
    except OSError as err:
        seen += f' [{path}: {type(err).__name__}]'
print(seen)
"""


@pytest.mark.parametrize("unsafe", [False, True], ids=["sandbox", "unsafe-no-sandbox"])
def test_programs_see_no_secret_of_the_callers_environment(monkeypatch, unsafe):
    monkeypatch.setenv("DATAFACTORY_TEST_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    result = run_python(LEAK_PROBE, "", Limits(wall_seconds=5), unsafe=unsafe)
    assert result.status == "ok", result.stderr
    environment = result.stdout.split("}", 1)[0]
    assert SECRET not in environment and "OPENAI_API_KEY" not in environment
    assert "'PATH'" in environment and "'HOME'" in environment
    if not unsafe:  # without the sandbox nothing hides the host's /proc; the option says so
        assert SECRET not in result.stdout
        assert "/proc/1/environ: FileNotFoundError" in result.stdout


def test_the_whole_filter_keeps_no_hack(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tests.conftest import run_cli

    leak = "import os\nraise RuntimeError(repr(dict(os.environ)))\n"  # the environment, into verifier_detail
    programs = {**EXITS, **TAMPERING, "leak": leak, "correct": "def add(a, b):\n    return a + b\n"}
    rows = [
        {"prompt_id": name, "sample_index": 0, "finish_reason": "stop", **HUMANEVAL,
         "completion": f"<think>\nAdd them.\n</think>\n\n{fenced(code + ('' if 'def add' in code else WRONG))}"}
        for name, code in programs.items()
    ]  # fmt: skip
    (tmp_path / "s").mkdir()
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "s" / "part-00000.parquet")
    env = {"DATAFACTORY_TEST_API_KEY": SECRET}
    result = run_cli(
        "filter", tmp_path / "s", "-o", tmp_path / "o", "--verifier", "code", "--test-timeout", "5", env=env
    )
    assert result.returncode == 0, result.stderr
    kept = pq.read_table(tmp_path / "o" / "part-00000.parquet").column("prompt_id").to_pylist()
    assert kept == ["correct"]
    details = pq.read_table(tmp_path / "o" / ".rejected" / "part-00000.parquet").to_pylist()
    leaked = next(r["verifier_detail"] for r in details if r["prompt_id"] == "leak")
    assert "'PATH'" in leaked and SECRET not in leaked  # the probe ran, and saw no secret of the caller's
