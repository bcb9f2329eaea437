"""Benchmark scale: programs that know nothing of any task pass none of HumanEval's and MBPP's, through a real filter.

Each cheat is one task-agnostic program, tried on all 164 + 427 tasks. It plays every class of issue 28 at once:
it answers whatever name the tests ask for (reading the harness's files and requests to learn them), redefines
the builtins and modules the tests use, patches classes and library functions, and returns objects whose
operators lie or lazy iterables. Every reference solution passes through the same filter, so the zero is the
harness holding, not a broken one. (Against the harness before the split, the first cheat passed 157 of 164 and
411 of 427: README, "Code: tests in a sandbox".)
"""

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datafactory.verifiers.sandbox import bwrap_path
from tests.conftest import run_cli

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap is not installed (make test installs it)"),
]

LEARN_THE_NAMES = """
import builtins, collections, math, os, random, re, sys
def anything(*args, **kwargs):
    return RESULT()
# what a harness sharing this interpreter reads: its files name the entry point and the tests' calls
def _words_in_files():
    words = set()
    for folder in ('/box', '/tmp'):
        for name in (os.listdir(folder) if os.path.isdir(folder) else []):
            try:
                text = open(os.path.join(folder, name)).read()
            except (OSError, UnicodeDecodeError):
                continue
            words.update(re.findall(r'([A-Za-z_]\\w*)\\s*\\(', text) + text.split())
    return words
for _word in _words_in_files():
    if _word.isidentifier() and not hasattr(builtins, _word) and not _word.startswith('_') \\
            and _word not in ('check', 'anything', 'RESULT', 'C') and not isinstance(globals().get(_word), type(os)):
        globals()[_word] = anything
# what a harness over a pipe asks for: every name it requests
wire = sys.modules.get('wire')
if wire is not None:
    real_receive = wire.receive
    def receive(stream):
        request = real_receive(stream)
        if isinstance(request, dict) and request.get('op') == 'names':
            for name in request['names']:
                globals()[name] = anything
        return request
    wire.receive = receive
# the builtins, modules, classes and library functions tests use
for name in ('abs', 'set', 'sorted', 'list', 'tuple', 'round', 'len', 'sum', 'all', 'any', 'isinstance', 'float', 'int', 'str', 'max', 'min'):
    globals()[name] = anything
collections.Counter.__eq__ = lambda self, other: True
random.Random.randrange = lambda self, *a, **k: 0
"""
LIAR = """
class RESULT:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    __lt__ = __le__ = __gt__ = __ge__ = __eq__
    def __bool__(self): return True
    def __hash__(self): return 0
    def __abs__(self): return 0
    def __sub__(self, other): return 0
    __rsub__ = __add__ = __radd__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = __mod__ = __pow__ = __sub__
    def __iter__(self): return iter(())
    def __len__(self): return 0
    def __contains__(self, item): return True
    def __getattr__(self, name): return self
    def __call__(self, *args, **kwargs): return self
    def __float__(self): return 0.0
    def __int__(self): return 0
    def __index__(self): return 0
    def __round__(self, *args): return self
"""
LAZY = "\ndef RESULT():\n    return (x for x in [1])\n"
PATCHED_PLAIN_CLASS = """
import collections
C = collections.Counter  # a class a harness may take for plain data, patched to agree with everything
C.__eq__ = C.__le__ = C.__ge__ = C.__lt__ = C.__gt__ = C.__contains__ = lambda self, other: True
C.__ne__ = lambda self, other: False
C.__bool__ = lambda self: True
C.__sub__ = C.__rsub__ = lambda self, other: 0
C.__hash__ = lambda self: 0
def RESULT():
    return C()
"""
CHEATS = {
    "patched_plain_class": PATCHED_PLAIN_CLASS + LEARN_THE_NAMES,
    "lying_objects": LIAR + LEARN_THE_NAMES,
    "lazy_iterables": LAZY + LEARN_THE_NAMES,
}


def _tasks(shared_data):
    humaneval = [
        json.loads(line) for line in gzip.decompress((shared_data / "HumanEval.jsonl.gz").read_bytes()).splitlines()
    ]
    mbpp = json.loads((shared_data / "sanitized-mbpp.json").read_text())
    rows = [
        {"prompt_id": t["task_id"], "prompt": t["prompt"], "test": t["test"], "entry_point": t["entry_point"],
         "reference": t["prompt"] + t["canonical_solution"]}
        for t in humaneval
    ] + [
        {"prompt_id": f"mbpp/{t['task_id']}", "test_list": t["test_list"], "test_imports": t["test_imports"],
         "reference": t["code"]}
        for t in mbpp
    ]  # fmt: skip
    return rows


def _filter(tmp_path, name, rows):
    folder = tmp_path / name
    folder.mkdir()
    for index, kind in enumerate(("test", "test_list")):  # one shard per benchmark: their columns differ
        pq.write_table(pa.Table.from_pylist([r for r in rows if kind in r]), folder / f"part-{index:05d}.parquet")
    out = tmp_path / f"{name}-out"
    result = run_cli("filter", folder, "-o", out, "--verifier", "code", "--rules", "none", "--test-timeout", "10")
    assert result.returncode == 0, result.stderr
    return sum((pq.read_table(shard).num_rows for shard in out.glob("part-*.parquet")), 0)


def test_a_program_that_knows_no_task_passes_none_and_every_reference_passes(tmp_path, shared_data):
    tasks = _tasks(shared_data)
    assert len(tasks) == 164 + 427
    fence = "```python\n{}\n```"
    rows = [
        {**{k: v for k, v in t.items() if k != "reference"}, "sample_index": index, "source": name,
         "completion": fence.format(t["reference"] if name == "reference" else CHEATS[name])}
        for t in tasks
        for index, name in enumerate(["reference", *CHEATS])
    ]  # fmt: skip
    kept = _filter(tmp_path, "all", rows)  # rows kept
    sources = {(r["prompt_id"], r["sample_index"]): r["source"] for r in rows}
    table = pa.concat_tables(
        pq.read_table(shard, columns=["prompt_id", "sample_index"])
        for shard in sorted((tmp_path / "all-out").glob("part-*"))
    )
    passed = [sources[key] for key in zip(*table.to_pydict().values(), strict=True)]
    assert kept == len(passed)
    counts = {name: passed.count(name) for name in ["reference", *CHEATS]}
    assert counts == {"reference": len(tasks), **dict.fromkeys(CHEATS, 0)}, counts
