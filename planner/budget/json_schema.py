"""The budget's JSON Schema for editors (``planner schema``): Draft 2020-12, describing the YAML
people write.

pydantic's schema of the models is the starting point; this module makes it standard and
true to the loader: ``law: epoch2024`` (preset names as an enum), quantity strings such as
``13B``/``2T``/``1.5e12`` with their pattern, ``uncertainty: true``, bounds as
``minimum``/``exclusiveMinimum``/``maximum`` (never pydantic's ``gt``/``ge``), and a description
with its unit on every field.  Editors read it through a modeline in the budget file::

    # yaml-language-server: $schema=https://.../budget.schema.json   (or a local path)
"""

from __future__ import annotations

import copy
import typing
from typing import Annotated, Any

from pydantic import BaseModel

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "urn:planner:budget:schema_version:1"

QUANTITY_PATTERN = r"^\s*[+-]?(\d[\d_]*\.?\d*|\.\d+)([eE][+-]?\d+)?\s*[kKMBGTP]?\s*$"
"""Strings ``planner.units.parse_quantity`` reads: a number, optional ``_`` digit separators,
an optional exponent and a suffix K/M/B(G)/T/P = 1e3/1e6/1e9/1e12/1e15."""

_BOUND_KEYS = {"gt": "exclusiveMinimum", "ge": "minimum", "lt": "exclusiveMaximum",
               "le": "maximum"}

# Descriptions (with units) of every field, by model and field name.  A pydantic
# ``Field(description=...)`` takes precedence; a field with neither fails tests/test_schema.py.
DESCRIPTIONS: dict[str, dict[str, str]] = {
    "Budget": {
        "schema_version": "Version of the budget format; this planner reads 1.",
        "name": "A short name for the budget, shown in reports.",
        "description": "Free text describing the budget.",
        "law": "Loss law L(N, D) in nats/token: a preset name (planner laws), inline "
               "Chinchilla constants {E, A, B, alpha, beta}, {form: kaplan, ...}, or "
               "{file: law.yaml} written by planner fit.",
        "target": "Quality to reach: a loss in nats/token, or the loss of a reference model.",
        "inference": "Lifetime inference demand: total tokens, or requests with a shape.",
        "objective": "What to minimise: flops (FLOPs), usd (dollars), gpu_hours (GPU-hours) "
                     "or energy_kwh (kWh).",
        "constraints": "Hard limits on the plan (parameters, tokens, FLOPs, dollars).",
        "train": "Training cluster: hardware, GPUs, MFU, deadline (days), dollar limit.",
        "serve": "Serving: hardware, batch, weight/KV bits, latency SLOs (ms), speculation.",
        "model": "Pin the model: its parameter count (and shape) is costed, not optimised.",
        "solver": "auto (iso_loss), gp (geometric program, Clarabel) or iso_loss (1-D).",
        "data": "Training data available (unique tokens).",
        "uncertainty": "Spread of the optimum over the law's bootstrap samples: true, or "
                       "{samples, seed}.",
    },
    "PresetLaw": {"preset": "Name of a loss-law preset (planner laws)."},
    "InlineChinchillaLaw": {
        "E": "Irreducible loss E, nats/token (Hoffmann et al. 2022, arXiv 2203.15556).",
        "A": "Parameter coefficient A of A·N^-alpha, nats/token.",
        "B": "Data coefficient B of B·D^-beta, nats/token.",
        "alpha": "Parameter exponent alpha (dimensionless).",
        "beta": "Data exponent beta (dimensionless).",
        "name": "Name of the law in outputs.",
        "source": "Where the constants come from (paper, arXiv id, fit).",
    },
    "InlineKaplanLaw": {
        "form": "kaplan: L = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D (Kaplan et al. "
                "2020, arXiv 2001.08361).",
        "alpha_N": "Parameter exponent alpha_N (dimensionless).",
        "alpha_D": "Data exponent alpha_D (dimensionless).",
        "N_c": "Critical parameter count N_c, parameters (non-embedding).",
        "D_c": "Critical data size D_c, tokens.",
        "name": "Name of the law in outputs.",
    },
    "LawFile": {"file": "Path of a law file written by planner fit -o (relative to the "
                        "budget file)."},
    "MatchTarget": {
        "params": "Parameters of the reference model (count; 13B).",
        "tokens": "Training tokens of the reference model (count; absent: the "
                  "compute-optimal token count for its size).",
    },
    "Target": {
        "__doc__": "Quality to reach: give exactly one of loss, match or downstream.",
        "loss": "Target loss, nats/token.",
        "match": "The loss of a reference model under the budget's law.",
        "downstream": "A benchmark error to reach, turned into a loss by a mapping.",
    },
    "TokensPerRequest": {
        "input": "Prompt tokens per request (tokens).",
        "output": "Generated tokens per request (tokens).",
    },
    "Inference": {
        "tokens": "Lifetime inference tokens (count; costed as prefill).",
        "requests": "Lifetime requests (count).",
        "requests_per_month": "Requests per 30-day month (count); goes with months.",
        "months": "Serving lifetime, months (30 days).",
        "tokens_per_request": "Prompt and generated tokens per request.",
    },
    "TrainSpec": {
        "hardware": "Training accelerator: a profile name (planner profiles list), a .yaml "
                    "path, or inline profile fields (may extends: a profile).",
        "gpus": "GPUs in the training cluster (count).",
        "max_gpus": "Most GPUs available for training (count).",
        "mfu": "Model FLOPs utilisation of training, fraction of the spec peak (0-1].",
        "precision": "Training precision whose spec peak MFU refers to.",
        "seq_len": "Training sequence length, tokens.",
        "deadline_days": "Longest training wall-clock time, days (needs gpus or max_gpus).",
        "max_train_usd": "Most training dollars, USD.",
        "hyperparameters": "Hyperparameter law of the training plan: step-law, deepseek2024 or "
                           "none (docs/training-plan.md).",
        "optimizer": "Optimizer state: adamw (2+2+12 bytes/parameter) or adamw-fp32 (4+4+8).",
        "zero_stage": "ZeRO stage 0-3 (Rajbhandari et al. 2020, arXiv 1910.02054).",
        "activation_recompute": "Activation recomputation: none, selective or full.",
        "max_tensor_parallel": "Largest tensor-parallel degree (GPUs; 8 is one NVLink node).",
        "max_pipeline_parallel": "Largest pipeline-parallel degree (stages).",
        "micro_batch_sequences": "Sequences per micro-batch per data-parallel rank (count).",
    },
    "SpeculativeSpec": {
        "acceptance": "Per-token acceptance rate of draft tokens, fraction (0-1) (Leviathan "
                      "et al. 2023, arXiv 2211.17192).",
        "draft_params": "Draft model parameters (count; 68M).",
        "draft_fraction": "Draft model size as a fraction of the target model (0-1).",
        "gamma": "Draft tokens per step (count), or auto (0 … max_gamma).",
        "max_gamma": "Largest draft length auto tries (count).",
        "train_draft": "Cost training the draft model too.",
        "draft_train_tokens": "Draft training tokens (count).",
        "draft_step_overhead_s": "Fixed time of one draft step, seconds (default: the "
                                 "profile's step overhead).",
        "drafts": "Candidate draft models, each with its size and acceptance rate; the "
                  "optimizer picks one or none (docs/choices.md).",
        "name": "Name of the single draft in outputs.",
    },
    "DraftSpec": {
        "name": "Name of the draft in outputs (not 'none').",
        "params": "Draft model parameters (count; 68M).",
        "fraction": "Draft size as a fraction of the target model (0-1).",
        "acceptance": "Per-token acceptance rate of its draft tokens, fraction (0-1).",
        "train": "Cost training this draft too (false: an existing model).",
        "train_tokens": "Draft training tokens (count).",
    },
    "ServeSpec": {
        "hardware": "Serving accelerator: a profile name, a .yaml path, or inline fields.",
        "batch_size": "Concurrent sequences per replica (count).",
        "weight_bits": "Bits per weight (16, 8, 6, 5, 4, 3) or auto (every width tried).",
        "kv_bits": "Bits per KV-cache element.",
        "compute_precision": "Tensor-core precision when weights are 8 bits or fewer.",
        "quantization_penalty": "Loss penalty law of quantised weights, or none.",
        "efficiency": "realistic (workload fractions of spec) or idealized (pure roofline).",
        "mfu_prefill": "Prefill MFU, fraction (0-1]; with mfu_decode: cost serving as FLOPs.",
        "mfu_decode": "Decode MFU, fraction (0-1]; with mfu_prefill.",
        "gpus_per_replica": "GPUs per serving replica (count), or auto (1, 2, 4, 8 …).",
        "max_gpus_per_replica": "Most GPUs per replica auto tries (count).",
        "max_time_per_output_token_ms": "Latency SLO: time per output token, milliseconds "
                                        "(needs request-shaped demand).",
        "max_time_to_first_token_ms": "Latency SLO: time to first token, milliseconds "
                                      "(needs request-shaped demand).",
        "speculative": "Speculative decoding with a draft model.",
        "billing": "provisioned (every provisioned GPU-hour is paid) or busy (busy GPU-hours "
                   "only).",
        "peak_to_mean": "Peak-to-mean request rate (ratio ≥ 1); replicas are sized for the peak.",
        "load_profile": "Relative request rates over a period (hourly or daily, ≥ 2 values); "
                        "peak-to-mean is max/mean.",
        "target_utilization": "Busy fraction of a replica at the peak rate (0-1].",
        "min_replicas": "Replicas kept up at all times (count; 0 scales to zero).",
        "cold_start_s": "Time to start a stopped replica, seconds.",
        "keep_alive_s": "Idle time before a replica is stopped (with min_replicas: 0), seconds.",
    },
    "ModelSpec": {
        "params": "Parameters of the pinned model (count; 6.74B).",
        "n_layer": "Transformer layers (count).",
        "d_model": "Hidden size (count).",
        "n_heads": "Attention heads (count).",
        "n_kv_heads": "Key/value heads (count; grouped-query attention).",
        "vocab": "Vocabulary size (tokens).",
        "pins": "A partial shape with params free (the shape rule follows these pins).",
    },
    "ShapePins": {
        "n_layer": "Transformer layers (count).",
        "d_model": "Hidden size (count).",
        "aspect_ratio": "d_model / n_layer (ratio).",
        "head_dim": "Attention head size (count).",
        "n_heads": "Attention heads (count).",
        "n_kv_heads": "Key/value heads (count).",
        "gqa_ratio": "n_heads / n_kv_heads (ratio).",
        "vocab": "Vocabulary size (tokens).",
    },
    "DownstreamTarget": {
        "error": "Average top-1 error to reach, a fraction (0-1) (Gadre et al. 2024, arXiv "
                 "2403.08540).",
        "mapping": "Error-vs-loss mapping: a preset name (planner downstream-presets) or "
                   "{file: mapping.yaml} from planner fit-downstream.",
    },
    "MappingFile": {"file": "Path of a mapping file written by planner fit-downstream "
                            "(relative to the budget file)."},
    "Bounds": {
        "max_params": "Most parameters (count).",
        "min_params": "Fewest parameters (count).",
        "max_train_tokens": "Most training tokens (count).",
        "max_train_flops": "Most training FLOPs.",
        "max_total_flops": "Most lifetime (training + inference) FLOPs.",
        "max_total_usd": "Most lifetime dollars, USD.",
    },
    "DataSpec": {"unique_tokens": "Unique training tokens available (count)."},
    "UncertaintySpec": {
        "samples": "Bootstrap samples of the law used (count).",
        "seed": "Seed of the sampling (0 to 2^32-1).",
    },
}


def _has_quantity_validator(annotation: Any) -> bool:
    """True when the annotation parses ``13B``-style strings (planner.units)."""
    from planner.budget.base import _quantity

    for meta in getattr(annotation, "__metadata__", ()):
        if getattr(meta, "func", None) is _quantity:
            return True
    return any(_has_quantity_validator(a) for a in typing.get_args(annotation))


def _models(model: type[BaseModel], seen: dict[str, type[BaseModel]]) -> None:
    seen[model.__name__] = model
    for f in model.model_fields.values():
        for m in _models_in(f.annotation):
            if m.__name__ not in seen:
                _models(m, seen)


def _models_in(annotation: Any) -> list:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out = []
    for a in typing.get_args(annotation):
        out += _models_in(a)
    return out


def _standard(node: Any) -> Any:
    """pydantic's ``gt``/``ge``/``lt``/``le`` as Draft 2020-12 keywords, recursively."""
    if isinstance(node, dict):
        return {_BOUND_KEYS.get(k, k): _standard(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_standard(v) for v in node]
    return node


def _quantity_schema(number: dict) -> dict:
    """A number schema widened to the quantity strings the loader reads."""
    bounds = {k: v for k, v in number.items() if k in _BOUND_KEYS.values()}
    text = ", ".join(f"{k} {v:g}" for k, v in bounds.items())
    return {"anyOf": [{"type": "number", **bounds},
                      {"type": "string", "pattern": QUANTITY_PATTERN,
                       "description": "A count such as 13B, 2T, 1.5e12 or 2_000_000"
                                      + (f" ({text})" if text else "")}]}


def _widen_quantity(prop: dict) -> dict:
    """Replace the number branch(es) of a property by the quantity schema."""
    if prop.get("type") == "number":
        rest = {k: v for k, v in prop.items() if k not in ("type",) and k not in
                _BOUND_KEYS.values()}
        return {**rest, **_quantity_schema(prop)}
    if "anyOf" in prop:
        branches = []
        for b in prop["anyOf"]:
            if b.get("type") == "number":
                branches += _quantity_schema(b)["anyOf"]
            else:
                branches.append(b)
        return {**prop, "anyOf": branches}
    return prop


def _named_strings(raw: dict, defs: dict) -> None:
    """Shipped names as enums: ``model: llama-3-8b`` (and ``model.preset``), downstream
    mapping presets."""
    try:
        from planner.models import KNOWN_MODELS

        models = sorted(KNOWN_MODELS)
    except ImportError:  # pragma: no cover - a planner without shipped model shapes
        models = []
    if models and "model" in raw["properties"]:
        prop = raw["properties"]["model"]
        prop.setdefault("anyOf", []).insert(0, {"type": "string", "enum": models,
                                                "description": "A shipped model shape."})
        preset = defs.get("ModelSpec", {}).get("properties", {}).get("preset")
        for branch in (preset or {}).get("anyOf", []):
            if branch.get("type") == "string":
                branch["enum"] = models
    try:
        from planner.laws.downstream import PRESET_NAMES
    except ImportError:  # pragma: no cover
        return
    mapping = defs.get("DownstreamTarget", {}).get("properties", {}).get("mapping")
    for branch in (mapping or {}).get("anyOf", []):
        if branch.get("type") == "string":
            branch["enum"] = sorted(PRESET_NAMES)


def budget_schema() -> dict:
    """The Draft 2020-12 JSON Schema of a budget file."""
    from planner.budget.schema import Budget
    from planner.laws import ALL_PRESETS

    raw = _standard(copy.deepcopy(Budget.model_json_schema(mode="validation")))
    defs = raw.setdefault("$defs", {})
    models: dict[str, type[BaseModel]] = {}
    _models(Budget, models)
    for name, model in models.items():
        node = raw if name == "Budget" else defs.get(name)
        if node is None:
            continue
        props = node.get("properties", {})
        for fname, finfo in model.model_fields.items():
            key = finfo.alias or fname
            if key not in props:
                continue
            prop = props[key]
            prop.pop("title", None)
            if _has_quantity_validator(finfo.annotation) or any(
                    _has_quantity_validator(Annotated[float, m]) for m in finfo.metadata):
                prop = _widen_quantity(prop)
            desc = finfo.description or DESCRIPTIONS.get(name, {}).get(fname)
            if desc:
                prop["description"] = desc
            props[key] = prop
        node.pop("title", None)
        doc = DESCRIPTIONS.get(name, {}).get("__doc__") or model.__doc__
        if doc and "description" not in node:
            node["description"] = " ".join(doc.split())
    presets = sorted(ALL_PRESETS)
    if "PresetLaw" in defs:
        defs["PresetLaw"]["properties"]["preset"]["enum"] = presets
    law = raw["properties"]["law"]
    refs = [b for b in law.pop("oneOf", law.pop("anyOf", [])) if "$ref" in b]
    law["anyOf"] = [{"type": "string", "enum": presets,
                     "description": "A loss-law preset (planner laws)."}] + refs
    law.pop("discriminator", None)
    unc = raw["properties"].get("uncertainty")
    if unc is not None and "anyOf" in unc:
        unc["anyOf"].append({"type": "boolean", "description": "true: 1000 samples, seed 0; "
                             "false: none."})
    _named_strings(raw, defs)
    raw["properties"]["scenarios"] = {
        "type": ["object", "array"],
        "description": "planner compare only: scenario name → overrides merged onto the rest "
                       "of the file (docs/review.md); planner optimize refuses it."}
    return {"$schema": SCHEMA_DIALECT, "$id": SCHEMA_ID, "title": "planner budget",
            **{k: v for k, v in raw.items() if k not in ("title",)}}


__all__ = ["DESCRIPTIONS", "QUANTITY_PATTERN", "SCHEMA_DIALECT", "SCHEMA_ID", "budget_schema"]
