"""The tests' side of the split harness: a task's tests, in an interpreter that never ran a line of the program.

Why: run in the program's interpreter, tests are the program's to bend. The names they call come from its globals
(it redefines `abs`, `math`, a helper of the prompt's), the classes and library functions they use can be patched
(`Counter.__eq__`, `random.Random.randrange`), and what it returns can lie (`__eq__`, `__sub__`, `__bool__`, a
generator that makes every bare `assert f(x)` true). Here the tests get fresh builtins and modules and the task's
own helper code (the prompt's, the tests' imports); the program's names they use are proxies that call into the
program's sandbox over a pipe, and every answer is re-built from plain data (wire.py). A value that is not plain
stays there and arrives as a handle: it can be passed back, called, or iterated (its items then cross as plain
data), never compared, hashed into a verdict or asked its truth. The program never sees this process, its files
or its token.

A pass needs this run's token (read from stdin before anything runs) on stdout, written only after the last test
passed with the program alive and every answer well formed.
stdin: the job, JSON: token, kind (humaneval | mbpp), helper, tests (sources), entry_point.
argv: the descriptor answers come in on, the one requests go out on. Beside it: wire.py.
"""

import ast
import builtins
import contextlib
import importlib
import json
import os
import sys

PASS_MARKER = "__DATAFACTORY_PASSED__"
FAILED_MARKER = "__DATAFACTORY_FAILED_TEST__"
ENDED = "ProgramEnded"
STANDARD = sys.stdlib_module_names  # what the program may name as a module: imported afresh here, nothing else


class ProgramEnded(BaseException):
    """The program's process ended, or answered out of form: no test after it counts (not an Exception, so a
    test's `except Exception` cannot swallow it; the run fails at the end whatever a test caught)."""


class ProgramError(Exception):
    """An exception the program raised whose type is none of the builtins'."""


class Remote:
    """A name or object of the program's: calls cross as plain data, nothing else reaches it."""

    __slots__ = ("_program", "_target")

    def __init__(self, program, target):
        object.__setattr__(self, "_program", program)
        object.__setattr__(self, "_target", target)

    def __call__(self, *args, **kwargs):
        return self._program.call(self._target, args, kwargs)

    def __iter__(self):
        return iter(self._program.iterate(self._target))

    def _refuse(self, *_):
        raise AssertionError(f"the tests used {self!r} as a value: only plain values count as results")

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __bool__ = __contains__ = _refuse
    __hash__ = object.__hash__

    def __len__(self):  # a TypeError, as for any object without a length: list() then reads it without one
        raise TypeError(f"{self!r} has no length the tests can read")

    def __getattr__(self, name):
        raise AttributeError(f"the tests cannot read .{name} of {self!r}")

    def __setattr__(self, name, value):
        raise AttributeError(f"the tests cannot set .{name} of {self!r}")

    def __repr__(self):
        target = self._target
        return f"the program's {target}" if isinstance(target, str) else f"an object the program returned (#{target})"


class Program:
    """The pipe to the program's sandbox (program_side.py answers)."""

    def __init__(self, wire, answers, requests):
        self.wire, self.answers, self.requests = wire, answers, requests
        self.ended = None  # why the program can no longer answer

    def ask(self, request):
        if self.ended:
            raise ProgramEnded(self.ended)
        try:
            if request is not None:
                self.wire.send(self.requests, request)
            answer = self.wire.receive(self.answers)
        except (OSError, ValueError, RecursionError) as error:  # a broken pipe, JSON out of form, a huge line
            answer = error
        if type(answer) is not dict:
            self.ended = "the program's process ended" if answer is None else f"unreadable answer: {answer}"
            raise ProgramEnded(self.ended)
        if "raise" in answer:
            raise self._exception(answer["raise"])
        return answer

    def start(self):
        self.ask(None)  # the program's first word: loaded, or the exception it raised while loading

    def names(self, wanted):
        found = self.ask({"op": "names", "names": sorted(wanted)}).get("names")
        if type(found) is not dict:
            self._out_of_form("names")
        bound = {}
        for name, (kind, *rest) in found.items():
            if name not in wanted:
                continue
            if kind == "call":
                bound[name] = Remote(self, name)
            elif kind == "module" and rest and type(rest[0]) is str and rest[0].partition(".")[0] in STANDARD:
                with contextlib.suppress(ImportError):
                    bound[name] = importlib.import_module(rest[0])  # afresh, in this interpreter
            elif kind == "value" and rest:
                bound[name] = self._value(rest[0])
        return bound

    def call(self, target, args, kwargs):
        try:
            request = {
                "op": "call",
                "target": target,
                "args": [self.wire.encode(item, _handle_number) for item in args],
                "kwargs": [[key, self.wire.encode(item, _handle_number)] for key, item in kwargs.items()],
            }
        except self.wire.NotPlain as error:
            raise TypeError(f"the tests passed a value the program cannot receive: {error}") from None
        return self._value(self.ask(request).get("value"))

    def iterate(self, handle):
        items = self._value(self.ask({"op": "iter", "handle": handle}).get("value"))
        if type(items) is not list:
            self._out_of_form("iter")
        return items

    def _value(self, data):
        try:
            return self.wire.decode(data, lambda number: Remote(self, number))
        except (self.wire.NotPlain, RecursionError, TypeError, ValueError) as error:
            self.ended = f"an answer that is not plain data ({error})"
            raise ProgramEnded(self.ended) from None

    def _out_of_form(self, what):
        self.ended = f"an answer to {what} out of form"
        raise ProgramEnded(self.ended)

    @staticmethod
    def _exception(raised):
        name, message = (raised + ["", ""])[:2] if type(raised) is list else ("", "")
        kind = getattr(builtins, name, None) if type(name) is str else None
        if isinstance(kind, type) and issubclass(kind, BaseException):
            return kind(str(message))
        return ProgramError(f"{name}: {message}")


def _handle_number(value):
    if type(value) is Remote and not isinstance(value._target, str):
        return value._target
    raise TypeError(f"a {type(value).__name__} object")


def free_names(sources):
    """Names the sources read and never bind (the names a test expects its program, or the builtins, to define)."""
    loaded, bound = set(), set()
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Name):
                (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                bound.add(node.name)
            elif isinstance(node, ast.arg):
                bound.add(node.arg)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                bound.update((alias.asname or alias.name).partition(".")[0] for alias in node.names)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                bound.add(node.name)
    return loaded - bound


def called_first(sources, defined):
    """Each test's entry point: the first name it calls that is neither a builtin nor in `defined` (the task's
    helper code), else the first name it calls at all (a task may name its function `sum`). These names come
    from the program even where they shadow a builtin; every other builtin a test uses stays the builtin, so a
    program that redefines `abs` or `set` changes nothing of the tests."""
    names = set()
    for source in sources:
        calls = [
            node.func.id
            for node in _in_order(ast.parse(source))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        ]
        own = [name for name in calls if name not in defined and not hasattr(builtins, name)]
        names.update((own or calls)[:1])
    return names


def _in_order(node):
    """The nodes of a tree in the order Python evaluates a call's parts: the callee's arguments after it."""
    yield node
    for child in ast.iter_child_nodes(node):
        yield from _in_order(child)


def _wire():
    folder = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, folder)
    import wire

    sys.path.remove(folder)
    wire.allow_long_integers()
    return wire


def main():
    write, exit_now = os.write, os._exit
    job = json.loads(sys.stdin.buffer.read())
    token, kind, entry_point = job["token"], job["kind"], job.get("entry_point") or ""
    wire = _wire()
    wire.add_site_packages()
    program = Program(wire, os.fdopen(int(sys.argv[1]), "rb"), os.fdopen(int(sys.argv[2]), "wb"))
    index = "setup"
    try:
        helper = compile(job["helper"], "task.py", "exec")
        tests = [compile(source, f"test_{number}.py", "exec") for number, source in enumerate(job["tests"])]
        namespace = {"__name__": "__main__", "__builtins__": builtins}
        exec(helper, namespace)
        program.start()
        entry_points = {entry_point} if entry_point else called_first(job["tests"], set(namespace))
        wanted = free_names(job["tests"]) - set(namespace) - set(dir(builtins))
        namespace.update(program.names(wanted | entry_points))
        for index, test in enumerate(tests):  # noqa: B007 - the handler reports the index
            exec(test, namespace)
        if kind == "humaneval":
            namespace["check"](namespace[entry_point])
        if program.ended:
            raise ProgramEnded(program.ended)
    except BaseException as error:  # noqa: BLE001 - every way a test can fail, SystemExit included
        name = ENDED if program.ended else type(error).__name__
        text = program.ended or f"{type(error).__name__}: {error}"
        write(2, f"\n{FAILED_MARKER} {index} {name}\n{text}\n"[:2000].encode())
        exit_now(1)
    write(1, f"\n{PASS_MARKER} {token}\n".encode())
    exit_now(0)


if __name__ == "__main__":
    main()
