import json, sys
def load(p):
    try: return json.load(open(p))
    except Exception: return {'points': []}
v4 = load('../2026-11-26-cpu2-matrix-v4/run/results.json'); v5 = load('run/results.json')
pts = v4['points'] + [p for p in v5['points'] if p['defense'] != 'none']
cells = list(dict.fromkeys(p['cell'] for p in pts))
defs = list(dict.fromkeys(p['defense'] for p in pts))
def fmt(ps, key, pct=True):
    vals = [p.get(key) for p in ps if p.get(key) is not None]
    if not vals: return None
    m = sum(vals) / len(vals)
    if len(vals) == 1: return f"{m*100:.0f}%"
    return f"{m*100:.0f}% ({min(vals)*100:.0f}–{max(vals)*100:.0f})"
print('| attack cell | ' + ' | '.join(defs) + ' |'); print('|---' * (len(defs) + 1) + '|')
for c in cells:
    row = []
    for d in defs:
        ps = [p for p in pts if p['cell'] == c and p['defense'] == d]
        if not ps: row.append('–'); continue
        s = f"{fmt(ps,'harmful_rate')} / {fmt(ps,'borderline_over_refusal')} / {fmt(ps,'over_refusal')}"
        t = fmt(ps, 'task_accuracy')
        if t: s += f" / task {t}"
        if len(ps) < 3: s += f" [{len(ps)} seeds]"
        row.append(s)
    print(f"| {c} | " + ' | '.join(row) + ' |')
