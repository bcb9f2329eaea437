"""The plain-data wire between a program's sandbox and its tests' sandbox (standard library only: both load it).

Why: the tests run in an interpreter that never executed a line of the program, and reach it only by calling its
entry points. What crosses is plain data, re-built by the receiver from JSON into its own fresh builtin types:
nothing of the program's (a class whose `__eq__` lies, a patched type, a generator) can arrive in the tests'
interpreter. A value that is not plain stays in the program's sandbox and crosses as an opaque handle.

A value is a JSON scalar (str, int, float, bool, null; NaN and infinities as JSON's extension writes them) or a
two-item array `[tag, payload]`: list, tuple, set, frozenset, dict (a list of pairs), deque, bytes (latin-1
text), complex ([real, imag]), handle (a number). Anything else is refused by `decode`.
"""

import collections
import json
import os
import re
import sys

MAX_DEPTH = 100
MAX_LINE = 64 << 20  # one message; a longer one is refused, not read into memory
TAGS = ((collections.deque, "deque"), (list, "list"), (tuple, "tuple"), (frozenset, "frozenset"), (set, "set"))
SEQUENCES = {tag: plain for plain, tag in TAGS}


class NotPlain(TypeError):
    """A value that cannot cross as plain data."""


def encode(value, keep=None, depth=0):
    """`value` as the wire's JSON-ready form, by the plain type it is an instance of (an int subclass crosses as
    its int value: whatever it overrides stays behind). `keep(obj) -> int` turns anything else into a handle
    number; without it such a value raises NotPlain. Runs in the program's sandbox, so it is trusted with
    nothing: `decode` alone decides what arrives."""
    if depth > MAX_DEPTH:
        raise NotPlain(f"nested more than {MAX_DEPTH} levels")
    if value is None or isinstance(value, bool):
        return value if value is None else bool(value)
    for plain in (int, float, str):
        if isinstance(value, plain):
            return plain(value) if type(value) is not plain else value
    if isinstance(value, (bytes, bytearray)):
        return ["bytes", bytes(value).decode("latin-1")]
    if isinstance(value, complex):
        return ["complex", [value.real, value.imag]]
    if isinstance(value, dict):  # Counter, OrderedDict, defaultdict: their items
        return ["dict", [[encode(k, keep, depth + 1), encode(v, keep, depth + 1)] for k, v in value.items()]]
    for plain, tag in TAGS:
        if isinstance(value, plain):
            return [tag, [encode(item, keep, depth + 1) for item in value]]
    if isinstance(value, re.Match):  # what tests ask of a match: that there is one
        return True
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):  # numpy scalars and arrays
        return encode(value.tolist(), keep, depth + 1)
    if keep is None:
        raise NotPlain(f"a {type(value).__name__} object is not a plain value")
    return ["handle", keep(value)]


def decode(data, handle=None, depth=0):
    """The value `data` (parsed JSON) stands for, built of fresh builtin types; `handle(number)` stands for a
    handle (without it a handle is refused). Raises NotPlain for anything else."""
    if depth > MAX_DEPTH:
        raise NotPlain(f"nested more than {MAX_DEPTH} levels")
    kind = type(data)
    if data is None or kind in (bool, int, float, str):
        return data
    if kind is not list or len(data) != 2 or type(data[0]) is not str:
        raise NotPlain(f"not a wire value: {repr(data)[:80]}")
    tag, payload = data
    if tag in SEQUENCES and type(payload) is list:
        return SEQUENCES[tag](decode(item, handle, depth + 1) for item in payload)
    if tag == "dict" and type(payload) is list:
        pairs = [_pair(item) for item in payload]
        return {decode(k, handle, depth + 1): decode(v, handle, depth + 1) for k, v in pairs}
    if tag == "bytes" and type(payload) is str:
        return payload.encode("latin-1")
    if tag == "complex" and type(payload) is list and len(payload) == 2:
        return complex(*(_number(part) for part in payload))
    if tag == "handle" and type(payload) is int and handle is not None:
        return handle(payload)
    raise NotPlain(f"not a wire value: {repr(data)[:80]}")


def _pair(item):
    if type(item) is not list or len(item) != 2:
        raise NotPlain("a dict entry is not a pair")
    return item


def _number(value):
    if type(value) not in (int, float):
        raise NotPlain("a complex part is not a number")
    return value


def send(stream, message):
    """One message: a line of JSON."""
    stream.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
    stream.flush()


def receive(stream):
    """The next message, or None at the end of the stream; a line over MAX_LINE raises NotPlain."""
    line = stream.readline(MAX_LINE + 1)
    if not line:
        return None
    if len(line) > MAX_LINE or not line.endswith(b"\n"):
        raise NotPlain(f"a message over {MAX_LINE} bytes, or cut short")
    return json.loads(line)


def allow_long_integers():
    """Whole numbers of any length cross (json reads digits; Python caps that at 4,300 by default)."""
    if hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(0)


def add_site_packages():
    """Both sides start Python with -S (no site module, ~3 ms less): the system's package folders, as site adds them."""
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    for folder in (f"/usr/local/lib/{version}/dist-packages", "/usr/lib/python3/dist-packages",
                   f"{sys.prefix}/lib/{version}/site-packages"):  # fmt: skip
        if folder not in sys.path and os.path.isdir(folder):
            sys.path.append(folder)
