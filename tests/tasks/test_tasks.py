import pytest

from secvec.data.splits import overlap
from secvec.errors import ConfigError
from secvec.tasks import TASKS, Task, TaskItem, accuracy, available_tasks, build_task
from secvec.data.schema import Prompt


def test_registry():
    assert available_tasks() == ["arithmetic", "sarcasm"]
    with pytest.raises(ConfigError, match="unknown task"):
        build_task("nope")
    with pytest.raises(ConfigError, match="accepted options"):
        build_task("arithmetic", bogus=1)


@pytest.mark.parametrize("name", ["arithmetic", "sarcasm"])
def test_train_test_disjoint_and_seeded(name):
    task = build_task(name)
    assert isinstance(task, Task)
    # enough new tokens for a correct answer in the training format, counting every word, every digit
    # and every punctuation mark as a token of its own (more than Llama's or Qwen's tokenizers need)
    need = max(len(e.response.split()) + sum(not c.isalpha() and not c.isspace() for c in e.response)
               for e in task.train_examples(300, seed=0))
    assert need <= task.max_new_tokens, (need, task.max_new_tokens)
    train = task.train_examples(300, seed=0) + task.train_examples(300, seed=1)
    test = task.test_items(200, seed=0) + task.test_items(200, seed=5)
    assert not overlap(train, [it.prompt for it in test])
    assert [e.messages for e in task.train_examples(50, 3)] == [e.messages for e in task.train_examples(50, 3)]
    assert task.test_items(20, 3) == task.test_items(20, 3)
    assert len({e.prompt for e in task.train_examples(300, 0)}) == 300
    items = task.test_items(10, 0)
    # answers in the training format score as correct
    assert accuracy(task, items, [it.answer if name == "sarcasm" else f"The answer is {it.answer}." for it in items]) == 1.0


def test_arithmetic_format_and_scoring():
    task = build_task("arithmetic")
    ex = task.train_examples(30, 0)
    assert all(e.prompt.startswith("What is ") and e.response.startswith("The answer is ") for e in ex)
    ops = {e.prompt.split()[3] for e in ex}
    assert ops == {"+", "-", "times"}
    for e in ex:
        a, op, b = e.prompt[len("What is "):-1].split(" ")
        want = {"+": int(a) + int(b), "-": int(a) - int(b), "times": int(a) * int(b)}[op]
        assert e.response == f"The answer is {want}."
    assert task.is_correct("The answer is 85.", "85")
    assert task.is_correct("85", "85")
    assert task.is_correct("It is 1,024 exactly", "1024")
    assert not task.is_correct("The answer is 84, not 85.", "85")
    assert not task.is_correct("I don't know", "85")
    assert build_task("arithmetic", operations=["times"]).train_examples(5, 0)[0].prompt.split()[3] == "times"
    with pytest.raises(ConfigError):
        build_task("arithmetic", operations=["/"])


def test_sarcasm_format_and_scoring():
    task = build_task("sarcasm")
    ex = task.train_examples(40, 0)
    assert {e.response for e in ex} == {"yes", "no"}
    assert sum(e.response == "yes" for e in ex) == 20  # balanced by default
    assert all(e.prompt.startswith("Is this headline sarcastic? Answer yes or no.") for e in ex)
    assert task.is_correct("Yes, it is.", "yes")
    assert task.is_correct("no", "no")
    assert not task.is_correct("Not really... yes", "no")
    assert not task.is_correct("Nobody knows", "no")
    assert not task.is_correct("maybe", "yes")


def test_accuracy():
    task = build_task("arithmetic")
    items = [TaskItem(Prompt("What is 1 + 1?"), "2"), TaskItem(Prompt("What is 2 + 2?"), "4")]
    assert accuracy(task, items, ["The answer is 2.", "5"]) == 0.5
    with pytest.raises(ValueError):
        accuracy(task, items, ["2"])
    assert "arithmetic" in TASKS
