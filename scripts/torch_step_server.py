"""Runs a PyTorch training-step benchmark one step at a time, on request, so that a benchmark can alternate its
steps with tessera's in one invocation (this VM's pace drifts by up to 2x between minutes, which distorts a ratio
of two runs taken one after the other).

    python scripts/torch_step_server.py SCRIPT [SCRIPT's args...]

SCRIPT is a step benchmark written like ../shared/bench/torch_llama_step.py: it builds the model and defines
`step()` before the line that starts its warm-up (`losses = [step() ...`). Everything before that line runs once;
then each line "step" on stdin runs one step and answers one JSON line {"s": seconds, "loss": loss}; end of input
ends the server.
"""
import json, sys, time

path = sys.argv[1]
source = open(path).read()
cut = source.find('\nlosses = [step()')
if cut < 0:
    sys.exit(f'{path}: no line "losses = [step() ..." to stop before')
sys.argv = [path] + sys.argv[2:]
scope = {'__name__': '__torch_step_server__', '__file__': path}
exec(compile(source[:cut], path, 'exec'), scope)
step = scope['step']
print(json.dumps({'ready': True}), flush=True)
for line in sys.stdin:
    if line.strip() != 'step':
        continue
    t0 = time.perf_counter()
    loss = step()
    print(json.dumps({'s': time.perf_counter() - t0, 'loss': loss}), flush=True)
