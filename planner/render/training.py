"""The training plan as rows (terminal table and review report): draw only."""

from __future__ import annotations

from typing import Any, Optional

from planner.units import format_count


def training_rows(tp: Optional[dict[str, Any]]) -> list[tuple[str, str]]:
    """(label, value) rows of a plan's ``training_plan`` dict (empty when absent)."""
    if not tp:
        return []
    s = tp["shape"]
    rows = [("model shape",
             f"{s['n_layer']} layers, d_model {s['d_model']:,}, {s['n_heads']} heads "
             f"(KV {s['n_kv_heads']}, head size {s['head_dim']})"
             + (f", vocab {s['vocab']:,}" if s.get("vocab") else "")),
            ("shape rule", s["rule"])]
    hp = tp.get("hyperparameters")
    if hp:
        rows += [("hyperparameter law", hp["law"]),
                 ("peak learning rate", f"{hp['peak_learning_rate']:.3g}"),
                 ("global batch", f"{hp['batch_sequences']:,} sequences × {tp['seq_len']:,} = "
                                  f"{format_count(hp['batch_tokens'])} tokens"),
                 ("optimizer steps", f"{hp['optimizer_steps']:,}")]
    else:
        rows.append(("hyperparameter law", "none (no batch limit)"))
    sp = tp.get("split")
    if sp:
        m = sp["memory"]
        rows += [("parallel split", f"TP {sp['tensor_parallel']} × PP {sp['pipeline_parallel']} "
                                    f"× DP {sp['data_parallel']}"),
                 ("memory per GPU",
                  f"{m['total_bytes'] / 1e9:.1f} GB of {m['limit_bytes'] / 1e9:.1f} GB "
                  f"(weights {m['weights_bytes'] / 1e9:.1f}, grads "
                  f"{m['gradients_bytes'] / 1e9:.1f}, optimizer {m['optimizer_bytes'] / 1e9:.1f},"
                  f" activations {m['activations_bytes'] / 1e9:.1f})")]
    if tp.get("max_useful_gpus") is not None:
        rows.append(("largest useful GPU count", f"{tp['max_useful_gpus']:,}"))
    if tp.get("gpus_used") is not None:
        avail = tp.get("gpus_available")
        rows.append(("GPUs used", f"{tp['gpus_used']:,}" + (f" of {avail:,}" if avail else "")))
    if tp.get("wall_clock_days") is not None:
        rows.append(("training wall-clock", f"{tp['wall_clock_days']:.2f} days"))
    rows.append(("limits that bind", "; ".join(tp["binding"]) or "none"))
    return rows
