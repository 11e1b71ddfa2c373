"""The speed table of issue 12 in one run: every row as a user meets it, through the command
line (a subprocess: interpreter start-up, imports and output included), median of a few runs,
beside the floor ``python -c "import numpy"`` measured in the same run.

The previous algorithm of each row, measured in the same run as its baseline, is in the
row's own benchmark: ``fit.py`` (bootstrap refits, law-file loading, plan uncertainty),
``cli.py`` (``planner optimize`` on every example), ``solvers.py`` (``--solver gp``),
``sweep_rich.py`` (the chat-assistant sweep), ``report.py`` (``planner report``).

The package's bytecode is compiled first (``compileall``), as a pip-installed wheel has it.
Wall times depend on the machine's load: each row also prints the CPU seconds of the child
processes (user + system).  Last line: one JSON object.

    python benchmarks/table.py [--repeat 3] [--sweep-points 1000]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import timed_python  # noqa: E402

EPOCH = ROOT / "tests/data/epoch_chinchilla_fig4.csv"
FIT_COLS = ["--columns", "params=N_params,tokens=D_tokens,loss=loss", "--exclude",
            "epoch_excluded"]
CHAT = ROOT / "examples/chat-assistant.yaml"


def run(args: list[str], repeat: int) -> dict:
    """Median wall seconds, CPU seconds and the largest child's peak memory of ``args``
    (``python ARGS``)."""
    walls, cpus, ok = [], [], True
    for _ in range(repeat):
        wall, cpu, proc = timed_python(args, check=False)
        walls.append(wall)
        cpus.append(cpu)
        ok = ok and proc.returncode == 0
        if proc.returncode != 0:
            print(f"  failed ({proc.returncode}): {' '.join(args)}\n  {proc.stderr[-400:]}",
                  file=sys.stderr)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus), "ok": ok,
            "peak_rss_mb_so_far": peak}


def main(repeat: int, sweep_points: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="planner-table-"))
    # as installed: a wheel ships compiled bytecode; a source tree run with
    # PYTHONDONTWRITEBYTECODE=1 would otherwise recompile every module on every run (~0.15 s)
    timed_python(["-m", "compileall", "-q", str(ROOT / "planner")])
    floor = run(["-c", "import numpy"], max(repeat, 3))["wall_s"]
    planner = ["-m", "planner"]
    law = tmp / "law-4000.yaml"
    rows = [
        ("planner fit (240 Epoch runs) --bootstrap 1000", 3.0,
         planner + ["fit", str(EPOCH), *FIT_COLS, "--bootstrap", "1000", "-o",
                    str(tmp / "law-1000.yaml"), "--force"], repeat),
        ("planner fit (240 Epoch runs) --bootstrap 4000", 6.0,
         planner + ["fit", str(EPOCH), *FIT_COLS, "--bootstrap", "4000", "-o", str(law),
                    "--force"], 1),
        ("planner optimize examples/chat-assistant.yaml", 0.5,
         planner + ["optimize", str(CHAT)], repeat),
        ("planner optimize examples/chat-assistant.yaml --uncertainty", None,
         planner + ["optimize", str(CHAT), "--uncertainty"], repeat),
        ("planner optimize examples/chat-assistant.yaml --solver gp", 1.5,
         planner + ["optimize", str(CHAT), "--solver", "gp"], repeat),
        ("planner report examples/chat-assistant.yaml", 3.0,
         planner + ["report", str(CHAT), "--out", str(tmp / "report-chat"), "--force"], repeat),
        ("planner report examples/chinchilla-flops.yaml", 3.0,
         planner + ["report", str(ROOT / "examples/chinchilla-flops.yaml"), "--out",
                    str(tmp / "report-flops"), "--force"], repeat),
        ("planner report examples/which-draft.yaml (600 configurations)", 3.0,
         planner + ["report", str(ROOT / "examples/which-draft.yaml"), "--out",
                    str(tmp / "report-draft"), "--force"], repeat),
        ("planner report examples/which-gpu.yaml (144 configurations)", 3.0,
         planner + ["report", str(ROOT / "examples/which-gpu.yaml"), "--out",
                    str(tmp / "report-gpu"), "--force"], repeat),
        (f"planner sweep examples/chat-assistant.yaml, {sweep_points} points", 10.0,
         planner + ["sweep", str(CHAT), "--vary",
                    f"inference.requests_per_month=1e8:1e10:{sweep_points}", "--json"], 1),
    ]
    out: dict = {"floor_import_numpy_s": floor, "rows": []}
    for name, goal, args, n in rows:
        r = run(args, n)
        r.update(name=name, goal_s=goal, vs_floor=r["wall_s"] / floor)
        out["rows"].append(r)
        print(f"{name:62s} {r['wall_s']:7.2f} s wall {r['cpu_s']:7.2f} s CPU "
              f"{r['vs_floor']:6.1f}x floor  goal {'≤ %g s' % goal if goal else '-':8s} "
              f"{'ok' if r['ok'] else 'FAILED'}", flush=True)
    base, unc = out["rows"][2]["wall_s"], out["rows"][3]["wall_s"]
    out["uncertainty_extra_s"] = unc - base
    print(f"{'uncertainty (1,000 samples) over the plain plan':62s} {unc - base:+7.2f} s "
          f"(goal ≤ +0.2 s)")
    # the law file of 4,000 samples, loaded by the library (what every plan naming it pays)
    sys.path.insert(0, str(ROOT))
    from planner.laws.io import load_law_file

    times = []
    for _ in range(5):
        t = time.perf_counter()
        load_law_file(law)
        times.append(time.perf_counter() - t)
    out["law_file_load_s"] = statistics.median(times)
    print(f"{'library load_law_file, 4,000 bootstrap samples':62s} "
          f"{out['law_file_load_s'] * 1e3:7.1f} ms (goal ≤ 50 ms)")
    print(f"floor (python -c 'import numpy'): {floor:.2f} s")
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sweep-points", type=int, default=1000)
    a = ap.parse_args()
    print(json.dumps(main(a.repeat, a.sweep_points)))
