"""Answers of the unaligned base model to extra/sensitive_prompts.txt, as the synthesis stage makes
the alignment set's benign answers (the eval generation config, seed 0, 64 new tokens)."""
from secvec.data.loading import write_examples
from secvec.data.schema import Prompt
from secvec.models.loading import load_model
from secvec.recipes.experiment import ExperimentConfig
from secvec.recipes.pairs import answer_pairs

cfg = ExperimentConfig()
gen = cfg.eval.generation.model_copy(update={"seed": 0, "max_new_tokens": cfg.data.benign_answer_tokens})
prompts = [Prompt(t.strip(), category="sensitive", source="secvec-extra") for t in open("extra/sensitive_prompts.txt") if t.strip()]
pairs = answer_pairs(load_model("smollm2-135m-instruct"), prompts, gen)
write_examples("extra/sensitive_pairs.jsonl", pairs)
print(len(pairs))
