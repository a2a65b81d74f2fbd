"""Figure 1, warm-cache cold start: the shared loader against a bare from_pretrained, and its requests.

    .venv/bin/python bench/cold_start.py [--rounds 5] [--layers 6] [--quick]

Builds a random-weight Qwen2.5-VL (~290 MB of safetensors with the defaults), publishes it on the
test suite's local hub (tests/hub_server.py), and lets one loader process download it into a fresh
cache. Then, in alternating fresh processes (loader, bare, loader, bare, ...):

- loader: ``common.model_cache.load_once`` with MODEL_REVISION=main (resolve refs/main, check the
  snapshot is complete, then from_pretrained(snapshot, local_files_only=True)), importing
  ``common`` inside the timed part, because a real cold start pays for that too;
- bare: ``AutoModelForImageTextToText.from_pretrained(<the same snapshot folder>)``.

Both import torch and transformers first (untimed in the "load" figure, timed in the "process"
figure). Printed: medians of the load part and of the whole process, their ratios (target for the
load part <= 1.05), the loader's own resolve time, and the requests the hub saw during the loader
rounds (target 0; huggingface_hub's telemetry is left on, as deployed, and would be counted too).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, LocalHub, build_model, folder_bytes, machine, median  # noqa: E402

CHILD = r"""
import json, sys, time
started = time.perf_counter()
import torch  # noqa: F401
from transformers import AutoModelForImageTextToText
imported = time.perf_counter()
mode = sys.argv[1]
resolve, inner = None, [None]
if mode == "bare":
    model = AutoModelForImageTextToText.from_pretrained(sys.argv[2])
    path = sys.argv[2]
else:
    from common import model_cache
    from common.config import Settings
    inner = []
    def build(folder):
        began = time.perf_counter()
        built = AutoModelForImageTextToText.from_pretrained(folder, local_files_only=True)
        inner.append(time.perf_counter() - began)
        return built
    model, report = model_cache.load_once(Settings.from_env(), build)
    path, resolve = report.path, report.resolve_seconds
    assert report.cache == ("hit" if mode == "loader" else report.cache), report
loaded = time.perf_counter()
print("RESULT " + json.dumps({"imports": imported - started, "load": loaded - imported, "resolve": resolve,
                             "from_pretrained": inner[0],
                             "path": path, "params": sum(p.numel() for p in model.parameters())}), flush=True)
"""


def run_child(mode: str, env: dict, snapshot: str = "") -> dict:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, mode] + ([snapshot] if snapshot else []), env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - started
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return dict(json.loads(line[7:]), process=wall)
    raise SystemExit(f"{mode} process failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")


def _ms(results: list[dict]) -> str:
    return ", ".join(f"{r['load'] * 1000:.0f}" for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="processes of each kind, alternated")
    parser.add_argument("--layers", type=int, default=6, help="text layers of the random model (hidden 1024)")
    parser.add_argument("--quick", action="store_true", help="3 rounds, 2 layers")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.layers = 3, 2

    with tempfile.TemporaryDirectory(prefix="bench-cold-start-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        model_dir = build_model(work / "model", layers=args.layers)
        print(f"model: random-weight Qwen2.5-VL, {folder_bytes(model_dir) / 1e6:.0f} MB, built in "
              f"{time.perf_counter() - started:.1f} s")
        hub = LocalHub(model_dir)
        try:
            cache = work / "cache"
            env = hub.env(cache, TMPDIR=str(work))
            first = run_child("download", env)
            print(f"first cold start (empty cache): {hub.server.bytes_served() / 1e6:.0f} MB fetched, "
                  f"{hub.requests()} requests, process {first['process']:.1f} s")
            snapshot = first["path"]
            run_child("bare", env, snapshot)  # one untimed pass of each: page cache and .pyc files warm
            run_child("loader", env)

            hub.server.reset()
            loader, bare = [], []
            bare_requests = 0
            for round_ in range(args.rounds):
                # Alternate which goes first, so a drift in machine load hits both alike.
                order = ("loader", "bare") if round_ % 2 == 0 else ("bare", "loader")
                for mode in order:
                    if mode == "loader":
                        loader.append(run_child("loader", env))
                    else:
                        before = hub.requests()
                        bare.append(run_child("bare", env, snapshot))
                        bare_requests += hub.requests() - before
            loader_requests = hub.requests() - bare_requests
        finally:
            hub.stop()

    load_l, load_b = median([r["load"] for r in loader]), median([r["load"] for r in bare])
    proc_l, proc_b = median([r["process"] for r in loader]), median([r["process"] for r in bare])
    resolve = median([r["resolve"] for r in loader])
    print(f"machine: {machine()}")
    print(f"rounds: {args.rounds} loader + {args.rounds} bare processes, alternated; medians")
    print(f"load part (after importing torch+transformers): loader {load_l * 1000:.0f} ms, bare from_pretrained "
          f"{load_b * 1000:.0f} ms; ratio {load_l / load_b:.3f} (target <= 1.05)")
    overhead = median([r["load"] - r["from_pretrained"] for r in loader])
    print(f"  loader's own time outside from_pretrained (importing common, Settings, resolve, "
          f"complete-snapshot check, load_once): {overhead * 1000:.1f} ms = {overhead / load_b:.2%} of the bare load; "
          f"of which resolve + complete-snapshot check {resolve * 1000:.2f} ms")
    print(f"  per round (ms), loader: {_ms(loader)}; bare: {_ms(bare)}")
    print(f"whole process (interpreter start to model loaded): loader {proc_l:.2f} s, bare {proc_b:.2f} s; "
          f"ratio {proc_l / proc_b:.3f}")
    print(f"network requests during the {args.rounds} warm loader cold starts: {loader_requests} (target 0); "
          f"during the bare ones: {bare_requests}")


if __name__ == "__main__":
    main()
