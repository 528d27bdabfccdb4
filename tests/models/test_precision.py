import torch

from secvec.models import precision


def test_explicit_precision_is_kept_and_auto_follows_the_cpu(monkeypatch):
    assert precision.resolve("fp32") == "fp32"
    assert precision.resolve("bf16") == "bf16"
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: False)
    assert precision.resolve("auto", "cpu") == "fp32"
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
    assert precision.resolve("auto", "cpu") == "bf16"


def test_autocast_runs_matmuls_in_bf16_only_when_asked():
    a = torch.randn(4, 4)
    with precision.autocast("bf16"):
        assert (a @ a).dtype == torch.bfloat16
    with precision.autocast("fp32"):
        assert (a @ a).dtype == torch.float32


def test_cpu_bf16_inference_runs_on_a_copy_and_leaves_the_weights_alone(tiny):
    from secvec.models.precision import for_inference

    before = {k: v.clone() for k, v in tiny.model.state_dict().items()}
    runner, _ = for_inference(tiny.model, "bf16", "cpu")
    assert runner is not tiny.model and next(runner.parameters()).dtype == torch.bfloat16
    after = tiny.model.state_dict()
    assert all(after[k].dtype == torch.float32 and torch.equal(after[k], v) for k, v in before.items())
    same, _ = for_inference(tiny.model, "fp32", "cpu")
    assert same is tiny.model


def test_cpu_bf16_inference_falls_back_to_autocast_when_memory_is_short(tiny, monkeypatch):
    import psutil

    from secvec.models.precision import for_inference

    monkeypatch.setattr(psutil, "virtual_memory", lambda: type("M", (), {"available": 1000})())
    runner, context = for_inference(tiny.model, "bf16", "cpu")
    assert runner is tiny.model and isinstance(context, torch.autocast)
