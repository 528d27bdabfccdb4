"""Stage cache keys: the payload, the secvec version and the stage code's version all name a stage."""

import json

import pytest

import secvec
from secvec.recipes import cache
from secvec.recipes.cache import StageCache, code_version

PAYLOAD = {"train": {"lr": 1e-3, "max_steps": 2}, "seed": 0, "synth": "synthesize-0123456789ab"}


@pytest.fixture(autouse=True)
def fresh_code_version():
    """No test leaves a code version computed from its own files behind for the next."""
    code_version.cache_clear()
    yield
    code_version.cache_clear()


def test_same_payload_same_key(tmp_path):
    a, b = StageCache(tmp_path), StageCache(tmp_path / "elsewhere")
    first = a.stage("align", PAYLOAD)
    assert first.key == a.stage("align", json.loads(json.dumps(PAYLOAD))).key == b.stage("align", PAYLOAD).key
    assert first.key.startswith("align-") and first.dir == tmp_path / first.key
    assert a.stage("align", {**PAYLOAD, "seed": 1}).key != first.key
    assert a.stage("vectors", PAYLOAD).key != first.key


def test_code_version_is_a_stable_short_hash_of_the_stage_code():
    v = code_version()
    assert len(v) == 12 and int(v, 16) >= 0
    code_version.cache_clear()  # recomputed from the files: same text, same hash
    assert code_version() == v


def test_another_secvec_version_gives_another_key(tmp_path, monkeypatch):
    before = StageCache(tmp_path).stage("point", PAYLOAD).key
    monkeypatch.setattr(secvec, "__version__", secvec.__version__ + ".post1")
    after = StageCache(tmp_path).stage("point", PAYLOAD).key
    assert after != before and after.startswith("point-")
    monkeypatch.undo()
    assert StageCache(tmp_path).stage("point", PAYLOAD).key == before


def test_another_code_version_gives_another_key(tmp_path, monkeypatch):
    before = StageCache(tmp_path).stage("point", PAYLOAD).key
    monkeypatch.setattr(cache, "code_version", lambda *_: "0" * 12)
    changed = StageCache(tmp_path).stage("point", PAYLOAD).key
    monkeypatch.setattr(cache, "code_version", lambda *_: "1" * 12)
    assert len({before, changed, StageCache(tmp_path).stage("point", PAYLOAD).key}) == 3


def test_an_edit_to_a_stage_module_changes_the_code_version(tmp_path, monkeypatch):
    """The hash reads the source files: an edited judge (say) is new code, an edited report is not."""
    pkg = tmp_path / "secvec"
    for rel, text in {"__init__.py": "", "judges/keyword.py": "REFUSALS = ['sorry']\n",
                      "report/render.py": "WIDTH = 80\n", "generation.py": "def generate(): ...\n"}.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(text)
    monkeypatch.setattr(secvec, "__file__", str(pkg / "__init__.py"))

    def version_after(rel=None, text=None):
        if rel:
            (pkg / rel).write_text(text)
        code_version.cache_clear()
        return code_version()

    v0 = version_after()
    assert version_after("report/render.py", "WIDTH = 120\n") == v0  # report code computes no stage
    v1 = version_after("judges/keyword.py", "REFUSALS = ['sorry', 'cannot']\n")
    assert v1 != v0
    v2 = version_after("generation.py", "def generate(): return []\n")
    assert v2 not in (v0, v1)
    (pkg / "judges" / "new.py").write_text("X = 1\n")
    assert version_after() not in (v0, v1, v2)


def test_stage_json_records_the_versions(tmp_path):
    cache_ = StageCache(tmp_path)
    stage = cache_.stage("align", PAYLOAD)
    with cache_.compute(stage) as info:
        info["pairs"] = 3
    assert stage.done
    assert stage.info["secvec_version"] == secvec.__version__ and stage.info["code_version"] == code_version()
    assert stage.info["pairs"] == 3


def _compute_once(root: str, log: str) -> None:
    import time

    from secvec.recipes.cache import StageCache

    cache = StageCache(root)
    stage = cache.stage("shared", {"x": 1})
    with cache.lock(stage):
        if not stage.done:
            with cache.compute(stage):
                with open(log, "a") as f:
                    f.write("computed\n")
                time.sleep(0.5)


def test_two_processes_compute_a_locked_stage_once(tmp_path):
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    log = tmp_path / "log.txt"
    procs = [ctx.Process(target=_compute_once, args=(str(tmp_path / "cache"), str(log))) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    assert log.read_text() == "computed\n"
