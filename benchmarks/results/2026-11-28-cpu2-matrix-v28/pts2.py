"""Every finished point of the v28 runs: cell | defense label | seed -> harm, borderline, plain refusal, task, train s."""
import glob, json, os, re, sys
names = {}
for log in sorted(glob.glob('/tmp/t28/v28*.log')):
    text = re.sub(r'\s+', ' ', open(log).read())
    for m in re.finditer(r'INFO ((?:(?!INFO ).)+?) \| ((?:(?!INFO ).)+?) \| seed (\d+): (?:cached|done)[^(]*\((/tmp/t28/cache/stages/point-\w+)\)', text):
        names[m.group(4)] = (os.path.basename(log)[:4], m.group(1), m.group(2), int(m.group(3)))
for path, (run, cell, label, seed) in sorted(names.items(), key=lambda kv: (kv[1][1], kv[1][2], kv[1][3])):
    f = path + '/result.json'
    if not os.path.exists(f):
        continue
    d = json.load(open(f)); e = d['eval']; st = json.load(open(path + '/stage.json'))
    print(f"{run} {cell[:24]:24s} | {label[:58]:58s} | s{seed} | harm {e['harm']['content']['harmful_rate']:.2f} "
          f"bl {e['borderline_over_refusal']:.2f} plain {e['over_refusal']:.3f} task {e['task_accuracy'] or 0:.3f} "
          f"train {round(st.get('train_seconds') or 0)}s")
