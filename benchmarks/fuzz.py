"""Generated bad and odd inputs against the ``planner`` command line, in-process.

    python benchmarks/fuzz.py --n 10000 --seed 1            # the table of docs/robustness.md

Each input is a small folder of files (budgets, law files, profiles, run CSVs, decoys) and a
command line; it runs through ``planner.cli.app.run_cli`` with stdout/stderr captured and a
per-input alarm (``--timeout``, 20 s).  Every outcome is classified:

* ``exit-1``: exit code 1 ("unexpected"), or any code outside {0, 2, 3, 4, 5};
* ``hang``: still running after the timeout;
* ``traceback``: a Python traceback in the output;
* ``nonsense plan``: exit 0 with a non-finite number, a non-positive size, or a served loss
  above the target in the JSON plan, or ``nan``/``inf`` printed in a table;
* ``destroyed file``: a file present before the run changed or vanished, or a temporary file
  was left behind;
* ``no file:line:col``: an exit-2 error about a budget's contents without ``file:line:col``;
* ``multi-line error``: an error that is not one line;
* ``numerical failure``: exit 4 from an OverflowError/ZeroDivisionError the input bounds did
  not foresee (the CLI's last line of defence turned it into a message).

The last line printed is one JSON object with the counts.  ``tests/test_fuzz.py`` runs a few
hundred of the same inputs in the suite.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CLASSES = ("exit-1", "hang", "traceback", "nonsense plan", "destroyed file", "no file:line:col",
           "multi-line error", "numerical failure")

# ---- base inputs --------------------------------------------------------------------------
BASE_BUDGETS = {
    "flops": "schema_version: 1\nlaw: epoch2024\ntarget: {loss: 2.05}\n"
             "inference: {tokens: 2T}\nobjective: flops\n",
    "match": "schema_version: 1\nlaw: hoffmann2022\ntarget:\n  match: {params: 13B}\n"
             "inference:\n  tokens: 20T\nconstraints: {max_params: 70B}\n",
    "usd": "schema_version: 1\nlaw: epoch2024\ntarget: {loss: 2.1}\ninference:\n"
           "  requests: 10B\n  tokens_per_request: {input: 500, output: 200}\n"
           "train: {hardware: h100-sxm, gpus: 1024, mfu: 0.4, deadline_days: 120}\n"
           "serve:\n  hardware: a100-80gb-sxm\n  batch_size: 32\n  weight_bits: 8\n"
           "  max_time_per_output_token_ms: 50\nobjective: usd\n",
    "kaplan": "schema_version: 1\nlaw: {form: kaplan, alpha_N: 0.076, alpha_D: 0.103, "
              "N_c: 6.4e13, D_c: 1.8e13}\ntarget: {loss: 2.6}\ninference: {tokens: 1T}\n",
    "inline": "schema_version: 1\nlaw: {E: 1.69, A: 406.4, B: 410.7, alpha: 0.34, beta: 0.28}\n"
              "target: {loss: 2.2}\ninference: {tokens: 5T}\nmodel: {params: 7B}\n",
    "energy": "schema_version: 1\ntarget: {match: {params: 3B, tokens: 300B}}\ninference:\n"
              "  requests_per_month: 100M\n  months: 12\n  tokens_per_request: {input: 200, "
              "output: 100}\nserve: {hardware: h100-sxm, batch_size: 1, weight_bits: auto, "
              "gpus_per_replica: 1}\nobjective: energy_kwh\n",
}
for _p in sorted((ROOT / "examples").glob("*.yaml")):
    BASE_BUDGETS[f"example-{_p.stem}"] = _p.read_text()

GOOD_RUNS = "params,tokens,loss\n" + "".join(
    f"{n:g},{n * r:g},{1.8 + 400 * n ** -0.34 + 400 * (n * r) ** -0.28:.5f}\n"
    for n in (1e8, 3e8, 1e9, 3e9) for r in (5, 20, 80))

ODD_NUMBERS = [0, -1, 1e-300, 5e-324, 1e308, 1.7976931348623157e308, 10 ** 400, -(10 ** 30),
               1e-12, 1e40, 0.5, 1, 2, 3, 1e15, "nan", ".nan", ".inf", "-.inf", "1e400", "13X",
               "", " ", "2T", "13B", "1.5e12", "0x10", "1_000", "½", "∞", True, False, None, [],
               {}, [1, 2], {"a": 1}, "auto", "epoch2042", "a" * 300, "\u202e", 1e-5, 0.99999]
ODD_LAW_VALUES = [1e-300, 5e-324, 1e-30, 1e-9, 0.0, -0.3, 1e-3, 0.01, 0.049, 0.05, 2.0, 2.1,
                  50, 1e9, 1e12, 1e300, 10 ** 400, ".nan", ".inf", "x", None, 0.3, 1.7, 406.4]
KEYS_TO_SET = ["law", "law.E", "law.alpha", "law.beta", "law.preset", "target", "target.loss",
               "target.match", "target.match.params", "target.match.tokens", "inference",
               "inference.tokens", "inference.requests", "inference.months",
               "inference.requests_per_month", "inference.tokens_per_request",
               "inference.tokens_per_request.input", "objective", "constraints",
               "constraints.max_params", "constraints.min_params", "constraints.max_total_usd",
               "constraints.max_train_tokens", "train", "train.gpus", "train.max_gpus",
               "train.mfu", "train.deadline_days", "train.hardware", "train.seq_len", "serve",
               "serve.batch_size", "serve.weight_bits", "serve.hardware", "serve.kv_bits",
               "serve.gpus_per_replica", "serve.max_time_per_output_token_ms",
               "serve.speculative", "serve.speculative.acceptance",
               "serve.speculative.draft_params", "serve.speculative.gamma", "model",
               "model.params", "model.n_layer", "model.d_model", "model.n_heads", "data",
               "data.unique_tokens", "uncertainty", "uncertainty.seed", "uncertainty.samples",
               "solver", "schema_version", "name", "extra_key", "inferance", "serve.mfu_prefill"]
PROFILE_FIELDS = ["peak_tflops", "peak_tflops.bf16", "peak_tflops.fp8", "hbm_gb",
                  "hbm_bandwidth_gb_per_s", "tdp_watts", "price_usd_per_hour", "pue",
                  "hbm_headroom", "workload.prefill_mfu", "workload.decode_bandwidth",
                  "workload.step_overhead_s", "achievable_fraction.matmul", "measured",
                  "measured.tflops.bf16", "measured.hbm_bandwidth_gb_per_s", "extends", "name"]


# ---- helpers ------------------------------------------------------------------------------
def _yaml_dump(data) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000)


def _load(text: str):
    from planner.yaml_io import read_yaml

    return read_yaml(text)[0]


def _set(data: dict, dotted: str, value) -> dict:
    parts = dotted.split(".")
    node = data
    for p in parts[:-1]:
        if not isinstance(node.get(p), dict):
            node[p] = {}
        node = node[p]
    node[parts[-1]] = value
    return data


def _odd_value(rng: random.Random):
    v = rng.choice(ODD_NUMBERS)
    if v in ("nan", ".nan", ".inf", "-.inf"):
        return float(v.replace(".", "")) if rng.random() < 0.5 else v
    return v


@dataclass
class Case:
    family: str
    argv: list  # with {dir} placeholders
    files: dict = field(default_factory=dict)  # name -> str | bytes
    budget: str | None = None  # the budget file whose contents errors should point into
    json_plan: bool = False


# ---- generators ---------------------------------------------------------------------------
def gen_budget_mutation(rng: random.Random) -> Case:
    base = _load(rng.choice(list(BASE_BUDGETS.values())))
    for _ in range(rng.randint(1, 3)):
        op = rng.random()
        if op < 0.7:
            _set(base, rng.choice(KEYS_TO_SET), _odd_value(rng))
        elif op < 0.85 and base:
            base.pop(rng.choice(list(base)), None)
        else:  # a typo in a key
            k = rng.choice(list(base)) if base else "target"
            if isinstance(k, str) and k in base and len(k) > 2:
                i = rng.randrange(len(k))
                base[k[:i] + k[i + 1:]] = base.pop(k)
    try:
        text = _yaml_dump(base)
    except Exception:  # noqa: BLE001 - an undumpable mutation
        text = "schema_version: 1\n"
    cmd = rng.choice(["optimize", "optimize", "validate"])
    return Case("budget mutation", [cmd, "{dir}/b.yaml", *(["--json"] if cmd == "optimize"
                                                          else [])],
                {"b.yaml": text}, budget="b.yaml", json_plan=cmd == "optimize")


CONTROL = [b"\x00", b"\x01", b"\x07", b"\x1b", b"\x7f", b"\x0c", b"\x0b", "\u0085".encode(),
           b"\xc2\x9b"]


def gen_text_corruption(rng: random.Random) -> Case:
    raw = bytearray(rng.choice(list(BASE_BUDGETS.values())).encode())
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(9)
        pos = rng.randrange(len(raw) + 1)
        if op == 0:
            raw[pos:pos] = rng.choice(CONTROL)
        elif op == 1:
            raw[pos:pos] = rng.choice([b"\xff", b"\xfe\xff", b"\xc3", b"\xe2\x82", b"\x80"])
        elif op == 2:
            del raw[pos:]
        elif op == 3 and raw:
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        elif op == 4:
            raw[pos:pos] = rng.choice([b"\t", b"  ", b"\n  - ", b": ", b"{", b"]", b"&a ", b"*a",
                                       b"!!binary ", b"? ", b"%YAML 1.1\n---\n", b"---\n"])
        elif op == 5:
            lines = raw.split(b"\n")
            if len(lines) > 1:
                i = rng.randrange(len(lines))
                lines.insert(i, lines[i])
            raw = bytearray(b"\n".join(lines))
        elif op == 6:
            raw = bytearray(b"\xef\xbb\xbf") + raw
        elif op == 7:
            raw = raw.replace(b"\n", b"\r\n") if rng.random() < 0.5 else raw.replace(b"\n", b"\r")
        else:
            raw[pos:pos] = rng.choice(["é".encode(), "😀".encode(), "\u202e".encode(),
                                       "\ufeff".encode(), "\u2028".encode()])
    cmd = rng.choice(["optimize", "validate"])
    return Case("text corruption", [cmd, "{dir}/b.yaml"], {"b.yaml": bytes(raw)},
                budget="b.yaml")


def gen_yaml_feature(rng: random.Random) -> Case:
    k = rng.randrange(12)
    if k == 0:  # billion laughs
        levels = rng.randint(4, 12)
        lines = ["schema_version: 1", "target: {loss: 2.1}", "a0: &a0 [x, x, x, x, x, x, x, x]"]
        for i in range(1, levels):
            lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
        text = "\n".join(lines) + "\n"
    elif k == 1:  # deep nesting
        d = rng.choice([30, 40, 100, 1000, 5000, 20000])
        text = "schema_version: 1\ntarget: " + "[" * d + "2" + "]" * d + "\n"
    elif k == 2:
        d = rng.choice([33, 200, 3000])
        text = "schema_version: 1\ntarget: " + "{a: " * d + "1" + "}" * d + "\n"
    elif k == 3:  # alias cycles
        text = rng.choice(["schema_version: 1\ntarget: &a {loss: *a}\n",
                           "schema_version: 1\na: &a [*a]\ntarget: {loss: 2}\n",
                           "&a {schema_version: 1, target: *a}\n"])
    elif k == 4:  # merge keys and anchors
        text = ("schema_version: 1\nbase: &b {loss: 2.1}\ntarget:\n  <<: *b\n"
                "inference: {tokens: 1T}\n")
    elif k == 5:  # tags
        text = "schema_version: 1\ntarget: {loss: " + rng.choice(
            ["!!python/object:os.system x", "!!binary aGVsbG8=", "!!timestamp 2001-12-14",
             "!!set {a, b}", "!!float x", "!!int 1e3", "!custom 1", "2001-12-14",
             "9999-99-99", "!!omap [a: 1]"]) + "}\ninference: {tokens: 1T}\n"
    elif k == 6:
        text = rng.choice(["", "\n", "---\n", "...\n", "# only a comment\n", "42\n", "- a\n",
                           "null\n", "'text'\n", "!!binary aGk=\n", "---\na: 1\n---\nb: 2\n",
                           "~\n", "[]\n", "{}\n", "? [a, b]\n: 1\n", "schema_version: 1\n"])
    elif k == 7:  # long strings and keys
        n = rng.choice([10_000, 1_000_000])
        text = f"schema_version: 1\nname: {'x' * n}\ntarget: {{loss: 2.1}}\n"
    elif k == 8:  # complex and non-string keys
        text = rng.choice(["schema_version: 1\n[1, 2]: 3\ntarget: {loss: 2}\n",
                           "schema_version: 1\n1: 2\ntarget: {loss: 2}\n",
                           "schema_version: 1\nnull: 2\ntarget: {loss: 2}\n",
                           "schema_version: 1\ntarget: {loss: 2, loss: 3}\n"])
    elif k == 9:  # huge numbers in YAML
        text = (f"schema_version: 1\ntarget: {{loss: 2.1}}\ninference: {{tokens: "
                f"{rng.choice(['9' * 400, '1e400', '-0', '0x1F', '0o17', '1_0_0', '.5e-400'])}}}\n")
    elif k == 10:  # directives and multiple documents
        text = rng.choice(["%YAML 1.1\n---\nschema_version: 1\ntarget: {loss: 2}\n",
                           "%TAG ! tag:x,2000:\n---\nschema_version: 1\n",
                           "schema_version: 1\ntarget: {loss: 2}\n---\nx: 1\n"])
    else:  # scenario and list shapes
        text = rng.choice(["schema_version: 1\ntarget: [2.1]\n",
                           "schema_version: 1\ntarget: {loss: 2}\nmodel: [7B]\n",
                           "schema_version: 1\ntarget: {loss: 2}\nserve: 7\n",
                           "schema_version: 1\ntarget: {loss: 2}\ntrain: [1, 2]\n",
                           "schema_version: 1\ntarget: {loss: 2}\nscenarios: {a: {}}\n"])
    cmd = rng.choice(["optimize", "validate"])
    return Case("YAML feature", [cmd, "{dir}/b.yaml"], {"b.yaml": text}, budget="b.yaml")


def gen_odd_law(rng: random.Random) -> Case:
    if rng.random() < 0.75:
        law = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
        for key in rng.sample(list(law), rng.randint(1, 3)):
            law[key] = rng.choice(ODD_LAW_VALUES)
        if rng.random() < 0.2:
            law[rng.choice(["alpha", "beta"])] = rng.choice([1e-300, 5e-324, 1e-20])
    else:
        law = {"form": "kaplan", "alpha_N": 0.076, "alpha_D": 0.103, "N_c": 6.4e13,
               "D_c": 1.8e13}
        for key in rng.sample(["alpha_N", "alpha_D", "N_c", "D_c"], rng.randint(1, 2)):
            law[key] = rng.choice(ODD_LAW_VALUES)
    target = rng.choice([{"loss": rng.choice([2.0, 2.2, 3.0, 1.0, 10.0, 0.5, 29.0, 1e-9])},
                         {"match": {"params": rng.choice(["13B", 1, "1T", 1e25])}},
                         {"match": {"params": "7B", "tokens": rng.choice(["1", "1T", 1e25])}}])
    data = {"schema_version": 1, "law": law, "target": target,
            "inference": {"tokens": rng.choice(["0", "2T", "1e20", 1])}}
    if rng.random() < 0.3:
        data["serve"] = {"weight_bits": rng.choice([16, 8, "auto"]), "hardware": "h100-sxm"}
        data["objective"] = "usd"
    try:
        text = _yaml_dump(data)
    except Exception:  # noqa: BLE001
        text = "schema_version: 1\n"
    return Case("odd law constants", ["optimize", "{dir}/b.yaml", "--json"], {"b.yaml": text},
                budget="b.yaml", json_plan=True)


def gen_law_file(rng: random.Random) -> Case:
    good = {"law_file_version": 1, "form": "chinchilla", "name": "x",
            "constants": {"E": 1.8, "A": 400.0, "B": 400.0, "alpha": 0.34, "beta": 0.28},
            "fitted_params": [1e8, 1e10], "bootstrap_columns": ["E", "A", "B", "alpha", "beta"],
            "bootstrap_samples": [[1.8, 400.0, 400.0, 0.34, 0.28]] * 3}
    k = rng.randrange(8)
    if k == 0:
        good["form"] = rng.choice(["kaplan", "data-constrained", "gpt", 3, None, ["x"]])
    elif k == 1:
        good["constants"] = rng.choice([None, [], "x", {"E": "a"}, {}, {"E": 1.8}])
    elif k == 2:
        good["constants"][rng.choice(list(good["constants"]))] = rng.choice(ODD_LAW_VALUES)
    elif k == 3:
        good["bootstrap_samples"] = rng.choice([[[1, 2]], "x", [None], [[float("nan")] * 5],
                                                [[1e400] * 5], [["a"] * 5], [[]], 7])
    elif k == 4:
        good["fitted_params"] = rng.choice([[1], "x", [0, -1], [1e400, 1], None, [{}]])
    elif k == 5:
        good = rng.choice([[1, 2], "text", 42, None, {"form": "chinchilla"}])
    elif k == 6:
        good["name"] = rng.choice([["x"], {"a": 1}, 7, None])
    text = _yaml_dump(good) if rng.random() < 0.9 else rng.choice(
        ["\x00\x01", "form: [", "\xff".encode("latin-1").decode("latin-1")])
    budget = ("schema_version: 1\nlaw: {file: law.yaml}\ntarget: {loss: 2.2}\n"
              "inference: {tokens: 2T}\n")
    return Case("law file", [rng.choice(["optimize", "validate"]), "{dir}/b.yaml"],
                {"b.yaml": budget, "law.yaml": text}, budget="b.yaml")


def gen_profile(rng: random.Random) -> Case:
    k = rng.randrange(4)
    files = {}
    if k <= 1:  # inline profile with odd fields
        prof = {"extends": rng.choice(["h100-sxm", "a100-80gb-sxm", "h100-sxmm", 7, None])}
        for f in rng.sample(PROFILE_FIELDS, rng.randint(1, 3)):
            _set(prof, f, rng.choice(ODD_NUMBERS + [0.0, 1e-9, 1e9, 1e10, float("nan")]))
        if prof.get("extends") is None:
            prof.pop("extends")
        hw = prof
    elif k == 2:  # an extends chain or a cycle
        n = rng.choice([2, 10, 16, 17, 50, 1200])
        for i in range(n):
            parent = f"p{i + 1}.yaml" if i + 1 < n else rng.choice(["h100-sxm", "p0.yaml"])
            files[f"p{i}.yaml"] = f"name: p{i}\nextends: {parent}\nprice_usd_per_hour: 2\n"
        hw = "p0.yaml"
    else:  # a junk profile file
        files["hw.yaml"] = rng.choice(["name: x\n", "[1, 2]\n", "peak_tflops: 7\n",
                                       "extends: h100-sxm\nhbm_gb: .nan\n",
                                       "extends: h100-sxm\ntdp_watts: 0\n",
                                       "extends: h100-sxm\nprice_usd_per_hour: 5e-324\n",
                                       "extends: hw.yaml\n", "\x00", "extends: [a]\n",
                                       "extends: h100-sxm\npeak_tflops: {bf16: 1e-300}\n"])
        hw = "hw.yaml"
    where = rng.choice(["serve", "train"])
    data = _load(BASE_BUDGETS["usd"])
    data[where]["hardware"] = hw
    files["b.yaml"] = _yaml_dump(data)
    cmd = rng.choice(["optimize", "validate"])
    return Case("hardware profile", [cmd, "{dir}/b.yaml", *(["--json"] if cmd == "optimize"
                                                           else [])],
                files, budget="b.yaml", json_plan=cmd == "optimize")


def gen_runs_csv(rng: random.Random) -> Case:
    rows = GOOD_RUNS.splitlines()
    k = rng.randrange(8)
    if k == 0:
        i = rng.randrange(1, len(rows))
        cells = rows[i].split(",")
        cells[rng.randrange(3)] = str(rng.choice(["nan", "inf", "-1", "0", "1e400", "x", "",
                                                  "1e-300", "9" * 400, "13B", "1e30"]))
        rows[i] = ",".join(cells)
    elif k == 1:
        rows[0] = rng.choice(["n,d,l", "params,tokens", "", "params,params,tokens,loss",
                              "\ufeffparams,tokens,loss"])
    elif k == 2:
        rows = rows[: rng.randint(0, 3)]
    elif k == 3:
        rows.append(rng.choice(["1,2", "1,2,3,4,5", '"unterminated,1,2', "\x00,1,2"]))
    text: str | bytes = "\n".join(rows) + "\n"
    if k == 4:
        text = text.encode() + b"\xff\xfe"
    elif k == 5:
        text = b"\x00" * 10
    opts = ["--starts", str(rng.choice([1, 2, 4]))]
    if rng.random() < 0.3:
        opts += rng.choice([["--starts", "10000000"], ["--bootstrap", "100000000"],
                            ["--starts", "0"], ["--bootstrap", "-1"], ["--seed", "-1"],
                            ["--law", "gpt"], ["--holdout", "largest:99"], ["--holdout", "x"],
                            ["--columns", "params=x"], ["--exclude", "nope"],
                            ["--plot", "{dir}/fig.gif"]])
    if rng.random() < 0.4:
        opts += rng.choice([["-o", "{dir}/runs.csv"], ["-o", "{dir}/law.yaml"],
                            ["-o", "{dir}"], ["-o", "{dir}/runs.csv/x.yaml"],
                            ["-o", "{dir}/nope/x.yaml"], ["-o", "{dir}/existing.yaml"]])
    return Case("runs CSV", ["fit", "{dir}/runs.csv", *opts],
                {"runs.csv": text, "existing.yaml": "precious: true\n"})


def gen_cli_options(rng: random.Random) -> Case:
    files = {"b.yaml": BASE_BUDGETS["flops"], "existing.csv": "precious\n",
             "old/keep.txt": "precious\n"}
    k = rng.randrange(5)
    if k == 0:  # sweep grids
        vary = rng.choice(["inference.tokens=1e10:1e15:1000001", "inference.tokens=1:2:0",
                           "target.loss=lin:2:3:5", "inference.tokens=1e10:1e15:5",
                           "train.mfu=lin:0:1:5", "law.alpha=0.1,0.3", "target.loss=nan,2",
                           "x", "=1,2", "inference.tokens=-1:5:3", "target.loss=1e400:2:3",
                           "inference.tokens=" + ",".join(["1T"] * 20000),
                           "serve.batch_size=1:1e9:5"])
        argv = ["sweep", "{dir}/b.yaml", "--vary", vary]
        if rng.random() < 0.5:
            argv += ["--vary", rng.choice(["target.loss=lin:2.1:2.5:1000", "train.mfu=lin:0.1:0.9:"
                                           "1000", "target.loss=2.1,2.2"])]
        if rng.random() < 0.4:
            argv += ["--csv", rng.choice(["{dir}/b.yaml", "{dir}/existing.csv", "{dir}",
                                          "{dir}/b.yaml/x.csv", "{dir}/fresh.csv"])]
        if rng.random() < 0.2:
            argv += ["--rows", rng.choice(["0", "-5", "10000000", "x"])]
    elif k == 1:  # compare
        argv = ["compare", "{dir}/b.yaml"]
        if rng.random() < 0.5:
            argv.append(rng.choice(["{dir}/b.yaml", "{dir}/missing.yaml", "{dir}"]))
        argv += rng.choice([[], ["--at", "params=13B"], ["--at", "params=x"],
                            ["--at", "tokens=1e400"], ["--at", "foo=1"], ["--solver", "simplex"],
                            ["--at", "params=0,tokens=-1"]])
    elif k == 2:  # report (no figures: fast)
        argv = ["report", "{dir}/b.yaml", "--formats", rng.choice(["none", "gif", "none,png"]),
                "--no-html", "-o", rng.choice(["{dir}/old", "{dir}/b.yaml", "{dir}/new",
                                               "{dir}/b.yaml/sub", "{dir}/existing.csv"])]
        argv += rng.choice([[], ["--fraction", "0"], ["--fraction", "nan"],
                            ["--fraction", "0.2"]])
    elif k == 3:  # bench: always with a bad option, so nothing is measured
        argv = ["bench", "--backend", "cpu"] + rng.choice([
            ["--seconds", "0"], ["--seconds", "nan"], ["--seconds", "-1"], ["--seconds", "1e9"],
            ["--device", "-1"], ["--write", "{dir}/x.txt"], ["--profile", "h100-sx"],
            ["--write", "{dir}/existing.csv"], ["--backend", "tpu"]])
    else:  # optimize options
        argv = ["optimize", "{dir}/b.yaml"] + rng.choice([
            ["--solver", "simplex"], ["--solver", ""], ["--bogus"], ["--json", "--json"],
            ["--solver", "GP"], ["--check"], []])
    return Case("CLI options", argv, files, budget=None)


GENERATORS = [(gen_budget_mutation, 30), (gen_text_corruption, 14), (gen_yaml_feature, 10),
              (gen_odd_law, 15), (gen_law_file, 6), (gen_profile, 8), (gen_runs_csv, 6),
              (gen_cli_options, 11)]


def generate(rng: random.Random) -> Case:
    total = sum(w for _, w in GENERATORS)
    x = rng.uniform(0, total)
    for gen, w in GENERATORS:
        x -= w
        if x <= 0:
            return gen(rng)
    return GENERATORS[-1][0](rng)


# ---- running and classifying --------------------------------------------------------------
class Hang(BaseException):
    """Raised by the alarm: the input ran past the timeout (not an Exception: the CLI's
    last-line handlers must not swallow it)."""


def _alarm(signum, frame):
    raise Hang()


def _show_warning(message, category, filename, lineno, file=None, line=None):
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def _snapshot(d: Path) -> dict:
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in d.rglob("*") if p.is_file()}




def _walk_numbers(doc):
    if isinstance(doc, dict):
        for v in doc.values():
            yield from _walk_numbers(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from _walk_numbers(v)
    elif isinstance(doc, float):
        yield doc


def _plan_problem(stdout: str) -> str | None:
    """Why a JSON plan printed with exit 0 is nonsense, or None."""
    try:
        doc = json.loads(stdout)
    except ValueError:
        return "exit 0 without a JSON document"
    if any(not math.isfinite(x) for x in _walk_numbers(doc)):
        return "non-finite number in the plan"
    plan = doc.get("plan") or {}
    n, d = plan.get("params"), plan.get("train_tokens")
    if not (isinstance(n, (int, float)) and n >= 1 and isinstance(d, (int, float)) and d >= 1):
        return "fewer than one parameter or training token"
    served = plan.get("served_loss")
    served = plan.get("loss") if served is None else served
    target = doc.get("target_loss")
    if served is None or target is None or served > target * (1 + 1e-6):
        return "served loss above the target"
    return None


def run_case(case: Case, timeout: float = 20.0, keep_dir: bool = False) -> dict:
    """Run one case in a fresh folder; return its outcome and the classes it falls in."""
    from planner.cli.app import run_cli

    d = Path(tempfile.mkdtemp(prefix="planner-fuzz-"))
    try:
        for name, content in case.files.items():
            p = d / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        before = _snapshot(d)
        argv = [a.replace("{dir}", str(d)) for a in case.argv]
        out, err = io.StringIO(), io.StringIO()
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
        t0 = time.perf_counter()
        hang = False
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                    warnings.catch_warnings():
                # warnings print to stderr as in a fresh process (pytest would record them)
                warnings.simplefilter("default")
                warnings.showwarning = _show_warning
                code = run_cli(argv)
        except Hang:
            code, hang = None, True
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException as exc:  # noqa: BLE001 - escaped the CLI entirely
            import traceback

            code = 1
            err.write("Traceback (most recent call last):\n" + "".join(
                traceback.format_exception(exc)))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
        seconds = time.perf_counter() - t0
        after = _snapshot(d)
        stdout, stderr = out.getvalue(), err.getvalue()
        classes = []
        if hang:
            classes.append("hang")
        elif code not in (0, 2, 3, 4, 5):
            classes.append("exit-1")
        if code == 4 and "numerical failure (" in stderr:  # an exception the bounds missed
            classes.append("numerical failure")
        if "Traceback (most recent call last)" in stdout + stderr:
            classes.append("traceback")
        changed = [k for k, v in before.items() if after.get(k) != v]
        leftovers = [k for k in after if k not in before and Path(k).name.startswith(".")
                     and k.endswith(".tmp")]
        if changed or leftovers:
            classes.append("destroyed file")
        errors = [ln for ln in stderr.splitlines() if ln.strip()]
        if code not in (0, None):
            err_lines = [ln for ln in errors if not ln.startswith(("note:", "warning:"))]
            if len(err_lines) != 1:
                classes.append("multi-line error")
            if code == 2 and case.budget and err_lines:
                path = str(d / case.budget)
                if not re.match(rf"error: {re.escape(path)}:\d+:\d+: ", err_lines[0]):
                    classes.append("no file:line:col")
        if code == 0:
            problem = _plan_problem(stdout) if case.json_plan else None
            if not case.json_plan and re.search(r"(?<![\w.])(nan|inf)(?![\w])", stdout, re.I):
                problem = "nan or inf printed"
            if problem:
                classes.append("nonsense plan")
        return {"family": case.family, "argv": argv, "code": code, "seconds": seconds,
                "classes": classes, "stdout": stdout[-2000:], "stderr": stderr[-2000:],
                "changed": changed + leftovers}
    finally:
        if not keep_dir:
            shutil.rmtree(d, ignore_errors=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10_000, help="inputs to generate")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds per input")
    ap.add_argument("--show", type=int, default=3, help="examples printed per failing class")
    ap.add_argument("--log", type=Path, default=None, help="write every failing input (JSONL)")
    args = ap.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    rng = random.Random(args.seed)
    counts = {c: 0 for c in CLASSES}
    by_family: dict[str, dict] = {}
    codes: dict[str, int] = {}
    examples: dict[str, list] = {c: [] for c in CLASSES}
    failing = []
    t0 = time.perf_counter()
    slowest = (0.0, None)
    for i in range(args.n):
        case = generate(rng)
        res = run_case(case, args.timeout)
        fam = by_family.setdefault(case.family, {"inputs": 0, "failing": 0})
        fam["inputs"] += 1
        codes[str(res["code"])] = codes.get(str(res["code"]), 0) + 1
        if res["seconds"] > slowest[0]:
            slowest = (res["seconds"], res["argv"][0])
        if res["classes"]:
            fam["failing"] += 1
            failing.append(res)
        for c in res["classes"]:
            counts[c] += 1
            if len(examples[c]) < args.show:
                examples[c].append(res)
        if (i + 1) % 500 == 0:
            print(f"... {i + 1} inputs, {time.perf_counter() - t0:.0f} s, "
                  f"{sum(1 for _ in failing)} failing", file=sys.stderr, flush=True)
    total = time.perf_counter() - t0
    print(f"\n{args.n:,} generated inputs, seed {args.seed}, {total:.0f} s "
          f"(slowest input {slowest[0]:.1f} s: {slowest[1]})\n")
    print("| class | inputs |\n|---|---|")
    for c in CLASSES:
        print(f"| {c} | {counts[c]} |")
    print("\n| family | inputs | failing |\n|---|---|---|")
    for fam, v in by_family.items():
        print(f"| {fam} | {v['inputs']} | {v['failing']} |")
    print("\nexit codes: " + ", ".join(f"{k}: {v}" for k, v in sorted(codes.items())))
    for c in CLASSES:
        for r in examples[c]:
            print(f"\n[{c}] {r['family']}: planner {' '.join(r['argv'])[:300]} -> {r['code']}")
            print("  stderr: " + r["stderr"].strip()[-600:].replace("\n", "\n  "))
    if args.log:
        with args.log.open("w") as fh:
            for r in failing:
                fh.write(json.dumps(r) + "\n")
    print(json.dumps({"inputs": args.n, "seed": args.seed, "seconds": round(total, 1),
                      "classes": counts, "exit_codes": codes, "families": by_family}))
    return 0 if not any(counts.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
