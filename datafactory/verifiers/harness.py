"""Test harness that runs inside the sandbox: load the program, run its tests, and prove that they all passed.

Why a proof: a program under rejection sampling or RL can end its process with status 0 before any test runs
(`sys.exit(0)` at import, `os._exit(0)` in the function, exit or exception hooks, signal handlers, threads), or
print something that looks like success. So status 0 means nothing here. The verifier hands over a fresh random
token; this harness reads it before any program code runs and writes it to stdout only after the last test
passed and nothing was tampered with, then ends the process itself. No token, no pass.

(The token comes in a pipe that is read to its end and closed before the program runs.)
What keeps the token out of the program's reach (each route has a test in tests/test_code_hacks.py):
- it lives only in a local variable of `main`; every way to a frame (sys._getframe, tracebacks' tb_frame,
  generator and coroutine frames, tracing and profiling hooks) and every way to raw memory (gc's object lists,
  ctypes, /proc/self/mem) is refused by an audit hook that cannot be removed;
- the harness takes itself out of `sys.modules` and gives the program a fresh `__main__`, so none of its
  functions can be reached or replaced;
- tests run in their own namespace with the builtins as they were before the program ran, and the operands of
  their comparisons must be plain values (int, str, list, ...): an object whose `__eq__` always says True fails;
- the tests import standard modules as they were before the program ran, and a program that rebinds an
  attribute of a preloaded standard module (`math.isclose = ...`) or of `builtins` fails as `tampered`;
- the harness's own code uses a private copy of the builtins, compiles every test before the program runs, and
  the process may start no thread or child (RLIMIT_NPROC 0 for the sandbox's fresh uid), so nothing of the
  program runs beside the tests.
Runs under the sandbox's own Python (standard library only); the job is a few files beside this one (`_job`).
"""

import builtins
import os
import resource
import sys
import types

__builtins__ = dict(vars(builtins))  # the harness's own builtins: what the program rebinds cannot reach it

PASS_MARKER = "__DATAFACTORY_PASSED__"
FAILED_MARKER = "__DATAFACTORY_FAILED_TEST__"
TAMPERED_MARKER = "__DATAFACTORY_TAMPERED__"
ALWAYS_WATCHED = ("os", "posixpath", "collections")  # loaded at start-up anyway
FRAME_ATTRIBUTES = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_back", "f_locals", "f_globals"})
BLOCKED_EVENTS = frozenset({
    "sys._getframe", "sys._current_frames", "sys._current_exceptions", "sys.settrace", "sys.setprofile",
    "gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys.addaudithook", "os.symlink",
    "os.fork", "os.forkpty", "os.exec", "os.posix_spawn", "os.spawn", "os.system", "subprocess.Popen",
    "ctypes.dlopen", "ctypes.dlsym", "ctypes.cdata", "ctypes.addressof", "ctypes.string_at", "ctypes.PyObj_FromPtr",
})  # fmt: skip
BLOCKED_IMPORTS = frozenset({"ctypes", "_ctypes", "cffi", "_testcapi", "_xxsubinterpreters", "_posixsubprocess"})
BLOCKED_PATH_PARTS = frozenset({"proc", "fd", "mem", "environ"})


class SandboxRefused(AttributeError, ValueError):
    """An operation the harness forbids (it could reach the pass token or bypass the tests). An AttributeError and
    a ValueError, as on Pythons without sys._getframe: the standard library then carries on without the frame
    (collections.namedtuple, typing, enum, logging name their module or caller another way)."""


def _audit(event, args, refused=SandboxRefused, fsdecode=os.fsdecode):
    if event in BLOCKED_EVENTS:
        raise refused(f"{event} is not allowed in the test sandbox")
    if event == "object.__getattr__" and args[1] in FRAME_ATTRIBUTES:
        raise refused(f"reading .{args[1]} is not allowed in the test sandbox")
    if event == "object.__setattr__" and args[1] in ("__code__", "__globals__"):
        raise refused(f"setting .{args[1]} is not allowed in the test sandbox")
    if event == "import" and args[0].partition(".")[0] in BLOCKED_IMPORTS:
        raise refused(f"import {args[0]} is not allowed in the test sandbox")
    if event == "open" and isinstance(args[0], (str, bytes)):
        path = fsdecode(args[0])
        if BLOCKED_PATH_PARTS.intersection(path.split("/")):
            raise refused(f"opening {path} is not allowed in the test sandbox")


def _plain(value, plain_types, containers, depth=0):
    """Return `value` when it is built of plain standard types only; raise AssertionError otherwise."""
    kind = type(value)
    if kind not in plain_types or depth > 100:
        if kind is type and value in plain_types:
            return value
        raise AssertionError(f"a test compared a {kind.__name__} object: only plain values count as results")
    if kind in containers:
        for item in value:
            _plain(item, plain_types, containers, depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            _plain(key, plain_types, containers, depth + 1)
            _plain(item, plain_types, containers, depth + 1)
    return value


def _truth(value, truth_types):
    """Return `value` when its truth cannot be the program's invention (a type of its own can say True)."""
    if type(value) not in truth_types:
        raise AssertionError(f"a test asserted a {type(value).__name__} object: only plain values count as results")
    return value


def _changed(before, modules):
    """The first attribute of a watched module that is no longer the object it was, or None."""
    for name, module in modules.items():
        now = vars(module)
        for key, value in before[name].items():
            if key not in ("__loader__", "__spec__") and now.get(key, before) is not value:
                return f"{name}.{key}"
    return None


def _clone(module):
    copy = types.ModuleType(module.__name__)
    vars(copy).update(vars(module))
    return copy


def _read_token():
    """All of the pipe named by argv[1] (the verifier wrote the token and closed it), then the pipe is closed."""
    descriptor = int(sys.argv[1])
    chunks = []
    while True:
        chunk = os.read(descriptor, 4096)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(descriptor)
    return b"".join(chunks).decode().strip()


def _job():
    """The job's files beside this one: kind.txt (kind, entry point, the standard modules the tests import),
    setup.py, and the tests, already rewritten by the verifier so that comparisons take plain values (tests.py, or
    imports.py and test_N.py)."""
    folder = os.path.dirname(os.path.abspath(__file__))

    def read(name):
        with open(os.path.join(folder, name)) as handle:
            return handle.read()

    kind, entry_point, modules = (read("kind.txt").split("\n") + ["", ""])[:3]
    setup = compile(read("setup.py"), "solution.py", "exec")
    if kind == "humaneval":
        tests = [compile(read("tests.py"), "tests.py", "exec")]
    else:
        count = len([name for name in os.listdir(folder) if name.startswith("test_")])
        tests = [compile(read("imports.py"), "imports.py", "exec")]
        tests += [compile(read(f"test_{i}.py"), f"test_{i}.py", "exec") for i in range(count)]
    return kind, entry_point, setup, tests, modules.split()


def _add_site_packages():
    """Started with -S (no site module, ~3 ms less): the system's package folders, as site would add them."""
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    for folder in (f"/usr/local/lib/{version}/dist-packages", "/usr/lib/python3/dist-packages",
                   f"{sys.prefix}/lib/{version}/site-packages"):  # fmt: skip
        if folder not in sys.path and os.path.isdir(folder):
            sys.path.append(folder)


def main():
    write, exit_now = os.write, os._exit
    _add_site_packages()
    token = _read_token()
    try:
        kind, entry_point, setup, tests, test_modules = _job()
    except (SyntaxError, ValueError) as error:
        write(2, f"{type(error).__name__}: {error}\n".encode())
        exit_now(1)

    preloaded = list(ALWAYS_WATCHED)
    for name in test_modules:  # the tests' imports, loaded and snapshotted before the program can touch them
        try:
            __import__(name)
            preloaded.append(name)
        except ImportError:
            pass
    import collections

    plain_types = frozenset(
        {int, float, complex, bool, str, bytes, bytearray, type(None), list, tuple, dict, set, frozenset, range}
        | {collections.OrderedDict, collections.defaultdict, collections.Counter, collections.deque, type(Ellipsis)}
    )
    containers = frozenset({list, tuple, set, frozenset, collections.deque})
    import re

    iterators = {type(iter(kind())) for kind in (list, tuple, set, dict, str, bytes)}
    views = {type({}.keys()), type({}.values()), type({}.items())}
    truth_types = plain_types | iterators | views | {re.Match, types.GeneratorType, map, filter, zip, enumerate}
    truth_types |= {reversed, type(iter(range(0)))}
    watched = {name: sys.modules[name] for name in preloaded}
    watched["builtins"] = builtins
    before = {name: dict(vars(module)) for name, module in watched.items()}
    clones = {name: _clone(module) for name, module in watched.items()}
    test_builtins = dict(vars(builtins))
    real_import = test_builtins["__import__"]

    def test_import(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and name in clones:
            return clones[name]
        return real_import(name, globals, locals, fromlist, level)

    test_builtins["__import__"] = test_import

    def plain(value):
        return _plain(value, plain_types, containers)

    def truth(value):
        return _truth(value, truth_types)

    program = types.ModuleType("__main__")
    program.__dict__["__builtins__"] = builtins
    del sys.modules["__main__"]
    sys.modules["__main__"] = program
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))  # no thread or child can run beside the tests
    sys.addaudithook(_audit)

    index = "setup"
    try:
        exec(setup, program.__dict__)
        namespace = dict(program.__dict__)
        namespace["__builtins__"] = test_builtins
        for name, value in namespace.items():  # modules the tests inherit from the program: as they were before it
            if type(value) is types.ModuleType and value.__name__ in clones:
                namespace[name] = clones[value.__name__]
        namespace["__df_plain__"] = plain
        namespace["__df_truth__"] = truth
        if kind == "humaneval":
            index = 0
            exec(tests[0], namespace)
            namespace["check"](program.__dict__[entry_point])
        else:
            exec(tests[0], namespace)
            for index, test in enumerate(tests[1:]):  # noqa: B007 - the handler reports the index
                exec(test, namespace)
    except BaseException as error:  # noqa: BLE001 - every way a test can fail, SystemExit included
        write(2, f"\n{FAILED_MARKER} {index} {type(error).__name__}\n{type(error).__name__}: {error}\n"[:2000].encode())
        exit_now(1)
    where = _changed(before, watched)
    if where is not None:
        write(2, f"\n{TAMPERED_MARKER} the program replaced {where}\n".encode())
        exit_now(1)
    write(1, f"\n{PASS_MARKER} {token}\n".encode())
    exit_now(0)


if __name__ == "__main__":
    main()
