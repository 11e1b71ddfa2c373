"""Hardware and draft choices, measured in one run: planning a list budget (every hardware or
draft in one stacked batch, runner-up table included) against the baseline of planning each
option as its own single-choice budget, one ``optimize`` call each; and the CLI as a
subprocess.  Last line: one JSON object.

    python benchmarks/choices.py [--repeat 3]
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import best_of  # noqa: E402

from planner.optimize import optimize  # noqa: E402


def singles(path: Path) -> list[dict]:
    """Each option of the example as its own budget (hardware pairs, or one draft each)."""
    data = yaml.safe_load(path.read_text())
    out = []
    trains = data["train"]["hardware"]
    serves = data["serve"]["hardware"]
    trains = trains if isinstance(trains, list) else [trains]
    serves = serves if isinstance(serves, list) else [serves]
    spec = data["serve"].get("speculative") or {}
    drafts = [None] + list(spec.get("drafts") or [])
    for t in trains:
        for s in serves:
            for d in drafts if spec.get("drafts") else [spec or None]:
                one = copy.deepcopy(data)
                one["train"]["hardware"], one["serve"]["hardware"] = t, s
                if spec.get("drafts"):
                    if d is None:
                        one["serve"].pop("speculative")
                    else:
                        single = {"acceptance": d["acceptance"], "gamma": spec.get("gamma",
                                                                                   "auto"),
                                  "train_draft": d.get("train", False)}
                        single.update({"draft_params": d["params"]} if "params" in d
                                      else {"draft_fraction": d["fraction"]})
                        one["serve"]["speculative"] = single
                out.append(one)
    return out


def cli_seconds(path: Path, repeat: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return best_of(lambda: subprocess.run(
        [sys.executable, "-m", "planner", "optimize", str(path), "--json"], check=True,
        capture_output=True, env=env, cwd=ROOT), repeat)


def main() -> dict:
    repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 3
    out = {}
    for name in ("which-gpu", "which-draft"):
        path = ROOT / "examples" / f"{name}.yaml"
        optimize(path)  # imports and profile caches outside the timings
        budgets = singles(path)
        t_list = best_of(lambda path=path: optimize(path), repeat)
        t_each = best_of(lambda budgets=budgets: [optimize(b) for b in budgets], repeat)
        t_cli = cli_seconds(path, repeat)
        r = optimize(path)
        out[name] = {"options": len(budgets), "candidates": r.diagnostics.get("candidates"),
                     "list_s": round(t_list, 3), "each_alone_s": round(t_each, 3),
                     "ratio_each_over_list": round(t_each / t_list, 2),
                     "cli_s": round(t_cli, 3)}
        print(f"{name}: {len(budgets)} options; list budget {t_list:.3f} s (runner-up table "
              f"included), each option alone {t_each:.3f} s ({t_each / t_list:.2f}×); CLI "
              f"{t_cli:.3f} s")
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
