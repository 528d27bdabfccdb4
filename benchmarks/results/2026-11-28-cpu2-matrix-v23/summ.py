import json, sys
for f in sys.argv[1:]:
    r = json.load(open(f))
    print("==", f, "aligned", r['aligned']['harmful_rate'], r['aligned']['borderline_over_refusal'], round(r['aligned']['over_refusal'],3))
    for p in r['points']:
        s = p['screening'] or {}
        print(f"{p['cell'][:28]:28s} {p['defense'][:14]:14s} s{p['seed']} harm {p['harmful_rate']:.2f} bord {p['borderline_over_refusal']:.2f} plain {p['over_refusal']:.3f} loss {p['final_loss']:.2f} route {s.get('route')} fl {s.get('flagged')} ratio {s.get('delta_ratio') and round(s['delta_ratio'],2)} adapt {s.get('adapt_epochs')} {s.get('adapt_loss') and round(s['adapt_loss'],2)}")
    for c in r['cells']:
        print(c['cell'], c.get('verdicts'))
