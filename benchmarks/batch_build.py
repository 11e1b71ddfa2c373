"""A budget's configurations built as one batch (``CandidateBuilder.batch``) against the
previous algorithm, every configuration built on its own then aligned and stacked, measured in
the same run on every example that uses hardware: the set-up alone (``prepare`` plus the
stacked scenario the solver reads) and the whole plan (``optimize`` vs ``optimize_problem`` on
the eagerly prepared problem).  Best of ``--repeat`` after one warm-up call each (imports and
profile caches outside the timings); ratios previous / batch.  The CLI as a user runs it is
timed by ``table.py`` and ``cli.py``.  Last line: one JSON object.

    python benchmarks/batch_build.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import best_of  # noqa: E402

EXAMPLES = ["chat-assistant", "which-draft", "which-gpu", "code-model", "on-device",
            "downstream-target"]


def main(repeat: int) -> dict:
    from planner.budget import load_budget
    from planner.optimize import optimize, prepare
    from planner.optimize.plans import optimize_problem, solver_name

    out = {}
    print(f"{'example':20s} {'configs':>7s} {'set-up eager':>13s} {'batch':>9s} {'ratio':>6s} "
          f"{'plan eager':>11s} {'batch':>9s} {'ratio':>6s}")
    for name in EXAMPLES:
        b = load_budget(ROOT / "examples" / f"{name}.yaml")
        k = len(prepare(b, lazy=True).candidates)
        setup_eager = best_of(lambda b=b: prepare(b, lazy=False).stackable, repeat, warm=True)
        setup_batch = best_of(lambda b=b: prepare(b, lazy=True).stackable, repeat, warm=True)
        plan_eager = best_of(lambda b=b: optimize_problem(
            prepare(b, lazy=False), solver_name(b, None), uncertainty=False), repeat, warm=True)
        plan_batch = best_of(lambda b=b: optimize(b, uncertainty=False), repeat, warm=True)
        out[name] = {"configurations": k, "setup_eager_s": setup_eager,
                     "setup_batch_s": setup_batch, "plan_eager_s": plan_eager,
                     "plan_batch_s": plan_batch}
        print(f"{name:20s} {k:7d} {setup_eager * 1e3:10.1f} ms {setup_batch * 1e3:6.1f} ms "
              f"{setup_eager / setup_batch:5.1f}x {plan_eager * 1e3:8.1f} ms "
              f"{plan_batch * 1e3:6.1f} ms {plan_eager / plan_batch:5.1f}x", flush=True)
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    print(json.dumps(main(ap.parse_args().repeat)))
