"""Figure 2, concurrent cold starts on an empty cache: bytes the hub served / model size.

    .venv/bin/python bench/concurrent_cold_start.py [--n 1,2,4,8] [--layers 2] [--quick]

A random-weight Qwen2.5-VL (~110 MB with the defaults) is served by the test suite's local hub
(tests/hub_server.py counts every byte of every file body). For each N, N processes start on one
fresh, empty cache folder, import what they need, then begin together (a "go" file); when all
are done, the bytes served are divided by the model's size. Target: 1.0 for every N.

- loader, one machine: N processes of ``model_cache.ensure_snapshot`` sharing one TMPDIR, so the
  machine-local filelock serialises them.
- loader, N machines: each process has its own TMPDIR (its own local disk: the filelock cannot
  help), MODEL_CACHE_BUCKET is set and the lock is an object in a real fake-gcs-server bucket;
  the cache folder is shared, as the bucket mount is.
- naive, one machine: N bare ``huggingface_hub.snapshot_download`` processes into the shared
  cache (huggingface_hub's own per-file locks work on a local disk).
- naive, N machines: the same with huggingface_hub's file locks made no-ops, as across instances
  sharing a gcsfuse mount (no file locking there): what a loader without a cross-instance lock does.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, LocalHub, build_model, machine  # noqa: E402

from tests.tiny_model import LOADER_SCRIPT  # noqa: E402

NAIVE = r"""
import contextlib, json, os, sys, time
import huggingface_hub.file_download as file_download
from huggingface_hub import snapshot_download
locks, go = sys.argv[1], sys.argv[2]
if locks == "off":
    @contextlib.contextmanager
    def no_lock(*args, **kwargs):
        yield None
    file_download.WeakFileLock = no_lock
print("READY", flush=True)
while not os.path.exists(go):
    time.sleep(0.01)
try:
    snapshot_download(os.environ["MODEL_ID"], revision="main", cache_dir=os.environ["MODEL_CACHE_PATH"] + "/hub")
except Exception as exc:
    print("ERROR " + json.dumps({"type": type(exc).__name__, "message": str(exc)[:300]}), flush=True)
    sys.exit(3)
print("REPORT " + json.dumps({"cache": "naive"}), flush=True)
"""

SCENARIOS = ("loader, one machine", "loader, N machines", "naive, one machine", "naive, N machines")


def start_together(commands: list[list[str]], envs: list[dict], go: Path) -> list[dict]:
    processes = [subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for command, env in zip(commands, envs)]
    try:
        for process in processes:
            line = process.stdout.readline().strip()
            if line != "READY":
                raise SystemExit(f"a process did not start: {line}\n{process.stderr.read()[-3000:]}")
        go.write_text("go")
        outputs = [process.communicate(timeout=600) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    reports = []
    for out, err in outputs:
        for line in out.splitlines():
            if line.startswith(("REPORT ", "ERROR ")):
                kind, _, body = line.partition(" ")
                reports.append(json.loads(body) if kind == "REPORT" else {"error": json.loads(body)})
                break
        else:
            reports.append({"error": {"type": "no report", "message": err[-500:]}})
    return reports


def run_scenario(scenario: str, n: int, hub: LocalHub, work: Path, bucket: str | None, emulator_url: str | None) -> dict:
    run = work / f"{scenario.replace(', ', '-').replace(' ', '_')}-{n}"
    cache = run / "cache"
    cache.mkdir(parents=True)
    go = run / "go"
    hub.server.reset()
    envs, commands = [], []
    for index in range(n):
        machine_tmp = run / (f"machine{index}" if "N machines" in scenario else "machine")
        machine_tmp.mkdir(exist_ok=True)
        env = hub.env(cache, TMPDIR=str(machine_tmp))
        if scenario == "loader, N machines":
            env.update(MODEL_CACHE_BUCKET=bucket, STORAGE_EMULATOR_HOST=emulator_url, GOOGLE_CLOUD_PROJECT="bench")
        envs.append(env)
        if scenario.startswith("loader"):
            commands.append([sys.executable, "-c", LOADER_SCRIPT, "snapshot", "0.1", str(go)])
        else:
            commands.append([sys.executable, "-c", NAIVE, "off" if "N machines" in scenario else "on", str(go)])
    started = time.perf_counter()
    reports = start_together(commands, envs, go)
    seconds = time.perf_counter() - started
    served = hub.server.bytes_served()
    shutil.rmtree(run, ignore_errors=True)
    outcomes: dict[str, int] = {}
    for report in reports:
        key = report.get("cache") or f"error: {report['error']['type']}"
        outcomes[key] = outcomes.get(key, 0) + 1
    return {"ratio": served / hub.model_bytes, "seconds": seconds, "outcomes": outcomes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", default="1,2,4,8", help="numbers of concurrent cold starts")
    parser.add_argument("--layers", type=int, default=2, help="text layers of the random model (hidden 1024)")
    parser.add_argument("--quick", action="store_true", help="N = 1, 4; a ~30 MB model")
    args = parser.parse_args()
    counts = [1, 4] if args.quick else [int(n) for n in args.n.split(",")]

    from tests.gcs_emulator import GcsEmulator

    with tempfile.TemporaryDirectory(prefix="bench-concurrent-") as tmp:
        work = Path(tmp)
        model_dir = build_model(work / "model", layers=1 if args.quick else args.layers,
                                hidden=512 if args.quick else 1024)
        hub = LocalHub(model_dir)
        emulator = GcsEmulator().start()
        try:
            bucket = emulator.client().create_bucket("bench-model-cache").name
            print(f"model: random-weight Qwen2.5-VL, {hub.model_bytes / 1e6:.1f} MB in "
                  f"{len(hub.server.repos[hub.model_id].files)} files")
            print(f"machine: {machine()}")
            results = {}
            for n in counts:
                for scenario in SCENARIOS:
                    result = results[scenario, n] = run_scenario(scenario, n, hub, work, bucket, emulator.url)
                    print(f"  N={n} {scenario}: bytes served / model size = {result['ratio']:.2f} "
                          f"({result['seconds']:.1f} s; {result['outcomes']})", flush=True)
            left = list(emulator.client().list_blobs(bucket))
        finally:
            emulator.stop()
            hub.stop()

    print("bytes served by the hub / model size (target 1.00 for the loader):")
    print("| scenario | " + " | ".join(f"N={n}" for n in counts) + " |")
    print("|---|" + "---|" * len(counts))
    for scenario in SCENARIOS:
        print(f"| {scenario} | " + " | ".join(f"{results[scenario, n]['ratio']:.2f}" for n in counts) + " |")
    print(f"lock objects left in the bucket: {len(left)}")


if __name__ == "__main__":
    main()
