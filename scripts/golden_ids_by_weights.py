#!/usr/bin/env python3
"""How many of the golden cases' 16 greedy ids each decoder-weights format keeps (docs/performance.md,
"Quantized weights"). Usage: scripts/golden_ids_by_weights.py build/app/cli/cxr-llava SHARED_DATA_DIR
Runs cxr-llava with the cases' prompt ids, greedy, 16 tokens, at fp32 and bf16 compute, and counts the
cases whose ids all match the reference and the ids before the first difference."""
import json, subprocess, sys, os, glob
cli = sys.argv[1]; shared = sys.argv[2]
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'data', 'model', 'golden-cxrllava')
env = dict(os.environ)
for weights in ['bf16', 'int8', 'int4']:
    for dtype in ['f32', 'bf16']:
        total = match = cases = full = 0
        for ref in sorted(glob.glob(root + '/*/*/reference.json')):
            r = json.load(open(ref)); caseDir = os.path.dirname(os.path.dirname(ref))
            ids = ','.join(str(i) for i in r['prompt']['ids'])
            for c in r['cases']:
                img = c['image'] if os.path.isabs(c['image']) else os.path.join(shared, 'cxr', os.path.basename(c['image']))
                out = subprocess.run([cli, 'report', '--model', caseDir + '/checkpoint', '--image', img, '--prompt-ids', ids,
                                      '--temperature', '0', '--max-new-tokens', '16', '--dtype', dtype, '--weights', weights,
                                      '--threads', '1', '--json', '--quiet'], capture_output=True, text=True, env=env)
                if out.returncode != 0: print(out.stderr); continue
                got = json.loads(out.stdout)['token_ids']; want = c['greedy_ids'][:16]
                n = 0
                for a, b in zip(got, want):
                    if a != b: break
                    n += 1
                total += 16; match += n; cases += 1; full += (n == 16)
        print(f'{weights:5} dtype {dtype:4}: {cases} cases, {full} with all 16 greedy ids, {match}/{total} ids before the first difference', flush=True)
