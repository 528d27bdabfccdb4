"""Every point in /tmp/t29/cache: cell signature | defense | harm, borderline, plain, task, guard peak, train s."""
import glob, json, collections
rows = collections.defaultdict(list)
for d in sorted(glob.glob('/tmp/t29/cache/stages/point-*')):
    try:
        r = json.load(open(d + '/result.json')); s = json.load(open(d + '/stage.json'))
    except Exception:
        continue
    a = r['attack']
    if a is None:
        continue
    t = a['train']
    cell = f"{a['type']}/{a['pairs']}/n{a['n']}/{a['options'].get('persona', a['options'].get('poison_ratio', ''))}/{t['mode']}/lr{t['lr']:g}/ep{t['epochs']:g}"
    o = r['defense']['options'].get('project')
    dfn = r['defense']['name'] + (f" r{o['radius']}" if isinstance(o, dict) else (f" {o}" if o else ''))
    e = r['eval']
    rows[(cell, dfn)].append((s['finished'][11:19], e['harm']['content']['harmful_rate'], e['borderline_over_refusal'],
                              e['over_refusal'], e['task_accuracy'] or 0, r['train'].get('extra', {}).get('guard_peak'),
                              round(s.get('train_seconds') or 0)))
for (cell, dfn), v in sorted(rows.items()):
    v.sort()
    h = [x[1] for x in v]
    print(f"{cell:52s} {dfn:22s} n{len(v)} harm {100*sum(h)/len(h):5.1f} ({'/'.join(str(round(100*x)) for x in h)}) "
          f"bl {100*sum(x[2] for x in v)/len(v):4.1f} plain {100*sum(x[3] for x in v)/len(v):4.1f} "
          f"task {100*sum(x[4] for x in v)/len(v):4.1f} train {'/'.join(str(x[6]) for x in v)}")
