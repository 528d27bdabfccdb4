"""v35: as v34's, plus `gstack` (routed-vectors' guard_stack) and `rankN` (a delta rank other than 32).
v34: as v31's pc.py, only the points finished from argv[2] on (v34's, by its src; the aligned point too) and
`+fadeN` for `stack_fade`; v34i's points (v33's src, code 089d90...) are tagged. Every point in a cache (default /tmp/t29/cache, v29's to v32's): cell signature (+ a second job's) | defense | harm,
borderline, plain, task, train s. Points are listed in the order they finished. `+stackX`: the provider's vectors
at scale X beside the delta on the delta route; v31's `stack_provider: true` ran twice under one option set, told
apart by the code that ran it: v31a's patch (no anchor on that route, code d21f...) and v31b's (the route's anchor
through the stack, code 6472...), printed `+stack1` and `+stack1 anchored` (`no-cover`: without `anchor_cover`); v32 (`stack_provider: 0.25` etc., no
anchor: its yamls set `anchor: 0`, which acts on the delta route only in these cells)."""
import glob, json, collections, sys


def sig(a):
    t = a['train']
    extra = a['options'].get('persona', a['options'].get('poison_ratio', ''))
    steps = f"/steps{t['max_steps']}" if t.get('max_steps') else ''
    return f"{a['type']}/{a['pairs']}/n{a['n']}/{extra}/{t['mode']}/lr{t['lr']:g}/ep{t['epochs']:g}{steps}"


rows = collections.defaultdict(list)
for d in sorted(glob.glob((sys.argv[1] if len(sys.argv) > 1 else '/tmp/t29/cache') + '/stages/point-*')):
    try:
        r = json.load(open(d + '/result.json')); s = json.load(open(d + '/stage.json'))
    except Exception:
        continue
    if s.get('finished', '') < sys.argv[2]:
        continue
    a = r['attack']
    if a is None:
        e = r['eval']
        print('aligned', s['finished'], e['harm']['content']['harmful_rate'], e['borderline_over_refusal'], e['over_refusal'])
        continue
    t = r['train']
    # a second job on the first one's output: result.json keeps the first plan; train is the second job's
    cell = sig(a) + (f" THEN {t['steps']} steps of {t['examples']}" if t.get('first_job') else '')
    o = r['defense']['options'].get('project')
    dfn = r['defense']['name'] + (f" r{o['radius']}" if isinstance(o, dict) else (f" {o}" if o else ''))
    dfn += ' +anchor' if r['defense']['options'].get('anchor') and r['defense']['name'] != 'routed-vectors' else ''
    stack = r['defense']['options'].get('stack_provider')
    if stack is not None:
        dfn += f" +stack{float(stack):g}" + (
            (' anchored' + ('' if r['defense']['options'].get('anchor_cover') else ' no-cover'))
            if s.get('code_version', '').startswith('6472') else '')
    if s.get('code_version', '').startswith('089d90'):  # v34i: v33's src/ copy (its alignment), anchor 0
        dfn += ' [v34i: v33 src, anchor 0]'
    if r['defense']['options'].get('stack_fade'):
        dfn += f" fade{r['defense']['options']['stack_fade']}"
    if r['defense']['options'].get('guard_stack'):
        dfn += ' gstack'
    if r['defense']['options'].get('rank', 32) != 32:
        dfn += f" rank{r['defense']['options']['rank']}"
    e = r['eval']
    route = '+'.join(str(((j.get('extra') or {}).get('screening') or {}).get('route', '-'))
                     for j in ((t.get('first_job') or {}), t) if j)
    rows[(cell, dfn)].append((s['finished'][11:19], e['harm']['content']['harmful_rate'], e['borderline_over_refusal'],
                              e['over_refusal'], e['task_accuracy'] or 0, route, round(s.get('train_seconds') or 0)))
for (cell, dfn), v in sorted(rows.items()):
    v.sort()
    h = [x[1] for x in v]
    print(f"{cell:52s} {dfn:36s} n{len(v)} harm {100*sum(h)/len(h):5.1f} ({'/'.join(str(round(100*x)) for x in h)}) "
          f"bl {100*sum(x[2] for x in v)/len(v):4.1f} plain {100*sum(x[3] for x in v)/len(v):4.1f} "
          f"task {100*sum(x[4] for x in v)/len(v):4.1f} train {'/'.join(str(x[6]) for x in v)} routes {'/'.join(str(x[5]) for x in v)}")
