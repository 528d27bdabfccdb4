"""Leaked harmful prompts (content judge 'complied') per generations file, and their overlaps."""
import json, sys, glob
sets = {}
for f in sys.argv[1:]:
    rows = [json.loads(l) for l in open(f)]
    h = [r for r in rows if r["kind"] == "harmful"]
    leak = {r["prompt"][:70] for r in h if r["labels"]["content"] == "complied"}

    name = f.split("/")[-1][-30:]
    sets[name] = leak
    print(f"{name}: leaks {len(leak)}/{len(h)}")
names = list(sets)
for i, a in enumerate(names):
    for b in names[i + 1:]:
        print(f"  {a} & {b}: {len(sets[a] & sets[b])}")
