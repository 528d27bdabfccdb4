import json,glob,os,time
os.chdir('/tmp/t27/cache/stages')
for f in sorted(glob.glob('point-*/result.json'), key=os.path.getmtime):
    d=json.load(open(f)); a=d['attack'] or {}; de=d['defense']; e=d['eval']
    st=json.load(open(f.replace('result.json','stage.json')))
    kind=de['name'][:6]+('+cover' if de['options'].get('anchor_cover') else '')
    print(f[6:12], a.get('train',{}).get('lr'), a.get('n'), de['options'].get('explained'), time.strftime('%H:%M',time.gmtime(os.path.getmtime(f))), f"{kind:13s}", a.get('type','-'), (a.get('options') or {}), 'harm %.2f bl %.2f plain %.3f task %.3f' % (e['harm']['content']['harmful_rate'], e['borderline_over_refusal'], e['over_refusal'], e['task_accuracy'] or 0), 'train %ss' % round((d.get('train') or {}).get('seconds',0)), 'rss', st.get('peak_rss_mb'))
