from pathlib import Path

import pyarrow as pa
import pytest

from datafactory.errors import BadInput
from datafactory.io.schema import PassthroughTypes
from datafactory.prompts import PromptBuilder, prompt_hash

SRC = Path("in.jsonl")


def _row(number=1, **fields):
    return {"__row__": number, **fields}


def test_prompt_field_and_id_are_detected_and_system_is_prepended():
    builder = PromptBuilder(system="Think first.")
    prompt = builder.build(_row(problem="What is 1+1?", id=7, answer="2"), SRC)
    assert prompt.prompt_id == "7"
    assert prompt.messages == [
        {"role": "system", "content": "Think first."},
        {"role": "user", "content": "What is 1+1?"},
    ]
    hashed = PromptBuilder().build(_row(question="Why?"), SRC)
    assert hashed.prompt_id == prompt_hash([{"role": "user", "content": "Why?"}])
    assert len(hashed.prompt_id) == 16


def test_messages_input_is_validated():
    good = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
    assert PromptBuilder().build(_row(messages=good), SRC).messages == good
    for bad, reason in [
        ([{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}], "last message"),
        ([{"role": "robot", "content": "u"}], "role"),
        ([{"role": "user"}], "content"),
        ([], "non-empty"),
        ([{"role": "user", "content": "  "}], "empty prompt"),
    ]:
        with pytest.raises(BadInput, match=reason) as caught:
            PromptBuilder().build(_row(3, messages=bad), SRC)
        assert caught.value.row == 3 and caught.value.field == "messages"


def test_repeated_prompts_are_skipped_and_conflicting_ids_rejected():
    builder = PromptBuilder()
    assert builder.build(_row(1, prompt="same"), SRC) is not None
    assert builder.build(_row(2, prompt="same"), SRC) is None
    assert builder.duplicates == 1
    with_ids = PromptBuilder()
    with_ids.build(_row(1, prompt="a", id="x"), SRC)
    with pytest.raises(BadInput, match="duplicate id 'x'") as caught:
        with_ids.build(_row(5, prompt="b", id="x"), SRC)
    assert caught.value.row == 5 and caught.value.field == "id"


@pytest.mark.parametrize(
    ("row", "field", "reason"),
    [
        (_row(text="x"), None, "no prompt field"),
        (_row(prompt=None), "prompt", "null"),
        (_row(prompt=""), "prompt", "empty prompt"),
        (_row(prompt=3), "prompt", "non-empty string"),
        (_row(prompt="ok", id=None), "id", "missing or empty id"),
    ],
)
def test_bad_prompts_name_the_field(row, field, reason):
    with pytest.raises(BadInput, match=reason) as caught:
        PromptBuilder().build(row, SRC)
    assert caught.value.field == field


def test_passthrough_types_unify_across_chunks_and_never_drop_values():
    types = PassthroughTypes()
    types.observe([{"answer": 27, "level": None, "meta": {"a": 1}}])
    types.observe([{"answer": 27.5, "level": 3, "meta": "text"}])
    fields = {f.name: f.type for f in types.fields()}
    assert fields["answer"] == pa.float64()
    assert fields["level"] == pa.int64()
    assert fields["meta"] == pa.string()
    assert types.values({"answer": 1, "meta": {"a": 1}}) == {"answer": 1, "level": None, "meta": '{"a": 1}'}
    types.observe([{"model": "x"}])
    assert "input_model" in {f.name for f in types.fields()}
