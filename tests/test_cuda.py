"""The CLI on a GPU, end to end: train vectors, fine-tune with them merged in, generate.

The other tests keep the tiny model on the CPU (conftest sets ACCELERATE_USE_CPU), so the device
paths run here, in subprocesses without that variable. The checks are ones bf16 kernels cannot
blur: a fine-tune at a vanishing learning rate must give back the base weights to float rounding,
which it does only if the vectors' delta was added and taken out on the device the weights live on.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="torch sees no GPU")]


def on_gpu(code: str, *args: str) -> str:
    """Run `code` in a fresh interpreter that may use the GPU; its stdout, or the test fails with its stderr."""
    env = {k: v for k, v in os.environ.items() if k != "ACCELERATE_USE_CPU"}
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def secvec(*args: str) -> str:
    return on_gpu("import sys; from secvec.cli import run; sys.argv = ['secvec'] + sys.argv[1:]; run()", *args)


def test_cli_on_the_gpu_keeps_the_vectors_out_of_the_saved_weights(tmp_path, tiny_dir):
    from safetensors.torch import load_file

    from secvec.vectors import SecurityVectors

    where = on_gpu("import sys; from secvec.models.loading import load_model; print(load_model(sys.argv[1]).model.device)",
                   tiny_dir)
    assert where.strip().startswith("cuda")  # models load on accelerate's device

    harmful, benign = tmp_path / "harmful.jsonl", tmp_path / "benign.jsonl"
    harmful.write_text("".join(json.dumps({"prompt": f"bad {i}?", "response": f"Sure, bad {i}."}) + "\n" for i in range(6)))
    benign.write_text("".join(json.dumps({"prompt": f"{i}+1?", "response": f"{i + 1}"}) + "\n" for i in range(6)))
    secvec("vectors", "train", "--model", tiny_dir, "--harmful", str(harmful), "-o", str(tmp_path / "vec"),
           "--set", "vectors.train.max_steps=4", "--set", "vectors.train.lr=1e-2",
           "--set", "vectors.train.max_length=256", "--set", f"benign={benign}")
    vectors = SecurityVectors.load(tmp_path / "vec")
    deltas = {f"{n}.weight": vectors.delta(n) for n in vectors.lora_a}
    assert min(d.abs().max().item() for d in deltas.values()) > 1e-3  # the vectors trained on the GPU

    base = load_file(str(next(Path(tiny_dir).glob("*.safetensors"))))
    for lr, name in ((1e-12, "still"), (1e-3, "moved")):
        cfg = tmp_path / f"{name}.yaml"
        cfg.write_text(yaml.safe_dump({"train": {"mode": "full", "lr": lr, "max_steps": 2, "max_length": 256}}))
        out = secvec("finetune", "-c", str(cfg), "--model", tiny_dir, "--data", str(benign),
                     "--vectors", str(tmp_path / "vec"), "-o", str(tmp_path / name))
        assert "vectors are off" in out
    still = load_file(str(tmp_path / "still" / "model" / "model.safetensors"))
    moved = load_file(str(tmp_path / "moved" / "model" / "model.safetensors"))
    for k, delta in deltas.items():
        torch.testing.assert_close(still[k], base[k], rtol=0, atol=1e-5)  # (W + delta) - delta on the GPU
        assert (moved[k] - base[k]).abs().max() < 0.5 * delta.abs().max(), k  # no delta left in
    assert any(not torch.equal(moved[k], base[k]) for k in moved)  # and the real step did train

    prompts = tmp_path / "p.txt"
    prompts.write_text("hello\nworld\n")
    secvec("generate", "--model", str(tmp_path / "moved" / "model"), "--prompts", str(prompts),
           "-o", str(tmp_path / "gen.jsonl"), "--set", "generation.max_new_tokens=3")
    assert [json.loads(r)["prompt"] for r in (tmp_path / "gen.jsonl").read_text().splitlines()] == ["hello", "world"]
