import json

import pytest

from secvec.data.loading import load_examples, load_prompts, write_examples
from secvec.data.schema import Example
from secvec.data.tokenize import IGNORE, encode_example
from secvec.errors import DataError


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_jsonl_chat_and_pairs_roundtrip(tmp_path):
    f = write(tmp_path / "d.jsonl", json.dumps({"prompt": "p", "response": "r", "category": "c"}) + "\n\n" +
              json.dumps({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"},
                                       {"role": "assistant", "content": "a"}]}) + "\n")
    exs = load_examples(f)
    assert [e.response for e in exs] == ["r", "a"] and exs[0].category == "c"
    write_examples(tmp_path / "o.jsonl", exs)
    assert [e.messages for e in load_examples(tmp_path / "o.jsonl")] == [e.messages for e in exs]


def test_csv_and_list_and_datasets_dir(tmp_path):
    import datasets

    f = write(tmp_path / "d.csv", "instruction,output\nhi,yo\n")
    assert load_examples(f)[0].prompt == "hi"
    assert load_examples([{"question": "q", "answer": "a"}])[0].response == "a"
    datasets.Dataset.from_list([{"prompt": "x", "response": "y"}]).save_to_disk(str(tmp_path / "ds"))
    assert load_examples(tmp_path / "ds")[0].response == "y"


@pytest.mark.parametrize("content,match", [
    ('{"prompt": "a", "response": "b"}\n{bad json\n', r"d.jsonl:2: bad JSON"),
    ('{"prompt": "a"}\n', r"d.jsonl:1: needs 'messages' or a prompt/response pair"),
    ('{"messages": [{"role": "robot", "content": "x"}]}\n', r"unknown role 'robot'"),
    ('{"messages": [{"role": "user", "content": "x"}]}\n', r"last message must be from the assistant"),
    ('{"prompt": "", "response": "b"}\n', r"'prompt' is empty"),
    ("\n", r"file is empty"),
])
def test_bad_records_name_file_line_and_problem(tmp_path, content, match):
    with pytest.raises(DataError, match=match):
        load_examples(write(tmp_path / "d.jsonl", content))


def test_missing_and_unsupported(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        load_examples(tmp_path / "nope.jsonl")
    with pytest.raises(DataError, match="unsupported file type"):
        load_examples(write(tmp_path / "d.parquet", "x"))
    with pytest.raises(DataError, match="no examples"):
        load_examples([])


def test_prompts_from_txt_and_jsonl(tmp_path):
    assert [p.text for p in load_prompts(write(tmp_path / "p.txt", "a\n\nb\n"))] == ["a", "b"]
    ps = load_prompts(write(tmp_path / "p.jsonl", '{"goal": "g", "category": "c"}\n'))
    assert ps[0].text == "g" and ps[0].category == "c"


def test_loss_only_on_assistant_tokens(tiny):
    tok = tiny.tokenizer
    ex = Example(messages=[{"role": "user", "content": "Q1"}, {"role": "assistant", "content": "A1"},
                           {"role": "user", "content": "Q2"}, {"role": "assistant", "content": "A2"}])
    enc = encode_example(tok, ex, 512)
    learned = tok.decode([t for t, l in zip(enc.input_ids, enc.labels) if l != IGNORE])
    assert "A1" in learned and "A2" in learned and "Q1" not in learned and "Q2" not in learned
    assert "user" not in learned
