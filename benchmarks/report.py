"""``planner report`` speed on every shipped example (no targets asserted: read the numbers).

For each ``examples/*.yaml`` (or the files given):

(a) the command line as a user runs it, ``python -m planner report EXAMPLE -o DIR --force``
    (PNG figures, the default), interpreter start-up included: median wall-clock seconds of
    ``--repeat`` runs, and the median CPU seconds of the child (user + system), which a busy
    machine disturbs less than wall-clock time;
(b) the same with ``--formats svg`` (the previous default) and ``--formats none`` (no figures:
    start-up and analyses only);
(c) the library call ``planner.render.review.report(EXAMPLE, DIR)`` in this process (imports
    already paid, matplotlib's font cache warm after the first example), and the figure step
    alone: ``draw_figures`` of that review (PNG; fastest of ``--repeat`` draws, matplotlib
    imported);
(d) with ``--compare-with DIR``, (a) again with ``PYTHONPATH=DIR``: another checkout of
    planner (e.g. the code before a change), in the same run.

Baselines measured in the same run: the floor ``python -c "import numpy"`` (start-up of an
interpreter that loads numpy); ratios are printed against it, SVG against PNG, and the other
checkout against this one.  Last line: one JSON object with every timing.

    python benchmarks/report.py [--repeat 3] [--quick | --png-only] [--compare-with ../main]
                                [EXAMPLE ...]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def run_child(cmd: list[str], pythonpath: Path) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of the child, exit code) of one subprocess, run in the
    checkout ``pythonpath`` (``python -m`` looks in the working directory first)."""
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=pythonpath, env=env)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        sys.stderr.write(f"{' '.join(cmd)}: exit {proc.returncode}\n{proc.stderr[-2000:]}\n")
    return wall, cpu, proc.returncode


def medians(cmd: list[str], repeat: int, pythonpath: Path = ROOT) -> dict:
    runs = [run_child(cmd, pythonpath) for _ in range(repeat)]
    return {"wall_s": statistics.median(r[0] for r in runs),
            "cpu_s": statistics.median(r[1] for r in runs),
            "walls_s": [round(r[0], 3) for r in runs],
            "ok": all(r[2] == 0 for r in runs)}


def figure_seconds(review, out: Path, repeat: int) -> float:
    """Fastest of ``repeat`` runs of the report's figure step (draw and write the four PNGs)
    for a computed review, in this process."""
    from planner.render.review import draw_figures

    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        draw_figures(review, out)
        runs.append(time.perf_counter() - t)
    return min(runs)


def cli(example: Path, out: Path, formats: str) -> list[str]:
    return [sys.executable, "-m", "planner", "report", str(example), "-o", str(out),
            "--force", "--formats", formats]


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("examples", nargs="*", type=Path)
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    ap.add_argument("--quick", action="store_true", help="one run each, PNG only")
    ap.add_argument("--png-only", action="store_true", help="skip (b), the SVG and no-figure "
                    "runs")
    ap.add_argument("--compare-with", type=Path, default=None,
                    help="another planner checkout, timed the same way (ratio: it / this)")
    args = ap.parse_args(argv)
    repeat = 1 if args.quick else args.repeat
    examples = args.examples or sorted((ROOT / "examples").glob("*.yaml"))
    tmp = Path(tempfile.mkdtemp(prefix="planner-report-bench-"))

    floor = medians([sys.executable, "-c", "import numpy"], max(repeat, 3))
    print(f"floor: python -c 'import numpy': {floor['wall_s']:.2f} s wall, "
          f"{floor['cpu_s']:.2f} s CPU (median of {max(repeat, 3)})")
    from planner.render.review import report

    out: dict = {"repeat": repeat, "floor": floor, "examples": {}}
    header = (f"{'example':<18} {'CLI png':>8} {'CPU':>6} {'×floor':>7} {'svg/png':>8} "
              f"{'no figs':>8} {'library':>8} {'figures':>8}" + (f" {'other':>8} {'other/this':>10}"
                                                  if args.compare_with else ""))
    print(header)
    for ex in examples:
        name = ex.stem
        row: dict = {"png": medians(cli(ex, tmp / f"{name}-png", "png"), repeat)}
        if not (args.quick or args.png_only):
            row["svg"] = medians(cli(ex, tmp / f"{name}-svg", "svg"), repeat)
            row["none"] = medians(cli(ex, tmp / f"{name}-none", "none"), repeat)
        libs = []
        for _ in range(repeat):
            t = time.perf_counter()
            files = report(ex, tmp / f"{name}-lib", formats=("png",))
            libs.append(time.perf_counter() - t)
        row["library_s"] = statistics.median(libs)
        row["figures_s"] = figure_seconds(files.review, tmp / f"{name}-figs", repeat)
        if args.compare_with:
            row["other_png"] = medians(cli(ex, tmp / f"{name}-other", "png"), repeat,
                                       args.compare_with.resolve())
        png = row["png"]
        row["png_over_floor"] = png["wall_s"] / floor["wall_s"]
        line = (f"{name:<18} {png['wall_s']:>7.2f}s {png['cpu_s']:>5.2f}s "
                f"{row['png_over_floor']:>6.1f}×")
        if "svg" in row:
            row["svg_over_png"] = row["svg"]["wall_s"] / png["wall_s"]
            line += f" {row['svg_over_png']:>7.2f}× {row['none']['wall_s']:>7.2f}s"
        else:
            line += f" {'-':>8} {'-':>8}"
        line += f" {row['library_s']:>7.2f}s {row['figures_s']:>7.2f}s"
        if args.compare_with:
            row["other_over_this"] = row["other_png"]["wall_s"] / png["wall_s"]
            row["other_over_this_cpu"] = row["other_png"]["cpu_s"] / png["cpu_s"]
            line += (f" {row['other_png']['wall_s']:>7.2f}s {row['other_over_this']:>9.2f}×"
                     f" (CPU {row['other_over_this_cpu']:.2f}×)")
        print(line, flush=True)
        out["examples"][name] = row
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
