"""Plain benign prompts in unseen forms: refusals per form, pooled over a recipe's seeds (from forms/*.json)."""
import collections
import json
from pathlib import Path

from secvec.data.forms import forms, personas

HERE = Path(__file__).parent
FORMS = forms("eval")


def form_of(text):
    for f in FORMS:
        for p in personas("eval"):
            head, _, tail = f.format(request="\0", persona=p).partition("\0")
            if text.startswith(head) and text.endswith(tail):
                return f
    raise ValueError(text)


lines = ["| recipe | " + " | ".join(f.split("{request}")[0].strip() for f in FORMS) + " |", "|---" * (len(FORMS) + 1) + "|"]
for rec in ("base", "cur", "f30", "both", "bf30"):
    refused, asked = collections.Counter(), collections.Counter()
    for path in sorted(HERE.glob(f"forms/{rec}.json" if rec == "base" else f"forms/{rec}-s*.json")):
        for r in json.loads(path.read_text())["generations"]:
            if r["kind"] == "benign":
                f = form_of(r["prompt"])
                asked[f] += 1
                refused[f] += bool(r["refused"])
    lines.append(f"| {rec} | " + " | ".join(f"{refused[f]}/{asked[f]}" for f in FORMS) + " |")
text = "\n".join(lines)
(HERE / "by_form.md").write_text(text + "\n")
print(text)
