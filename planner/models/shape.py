"""A decoder-only transformer read from a Hugging Face ``config.json``, and its parameter count.

Counted like the reference implementations (Touvron et al. 2023, arXiv 2307.09288; Hugging Face
``LlamaForCausalLM`` / ``MistralForCausalLM``): input embedding ``V·d``; per layer attention
``d·(h·d_h) + 2·d·(h_kv·d_h) + (h·d_h)·d`` (Q, K, V, O; grouped-query attention, Ainslie et al.
2023, arXiv 2305.13245, shrinks K and V to ``h_kv`` heads), a gated MLP of three ``d × d_ff``
matrices (SwiGLU, Shazeer 2020, arXiv 2002.05202) or two for a plain MLP, two RMSNorm weight
vectors ``2·d``; a final norm ``d``; the output head ``V·d`` unless tied to the embedding.
Counts are parameters (weights), no biases unless ``attention_bias``/``mlp_bias`` say so.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

# keys whose presence means a mixture-of-experts model (not costed: every parameter is treated
# as active per token)
MOE_KEYS = ("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts",
            "num_experts_per_tok", "moe_intermediate_size", "router_aux_loss_coef")
GATED_ACTS = {"silu", "swiglu", "gelu_pytorch_tanh_gated", "geglu"}
GATED_TYPES = {"llama", "mistral", "qwen2", "gemma", "gemma2"}  # 3-matrix MLPs


class ConfigError(ValueError):
    """A config that cannot be read or costed: one line naming the file and the key."""


@dataclass(frozen=True)
class TransformerShape:
    """Shape of a dense decoder-only transformer (sizes in elements, counts in parameters)."""

    n_layer: int
    d_model: int
    n_heads: int
    n_kv_heads: int
    vocab: int
    d_ff: int
    head_dim: int
    gated_mlp: bool = True
    tie_word_embeddings: bool = False
    attention_bias: bool = False
    mlp_bias: bool = False
    model_type: str = ""

    def parameter_counts(self) -> dict[str, int]:
        """Parameters by part (embedding, attention, mlp, norms, head) and ``total``."""
        d, L = self.d_model, self.n_layer
        q = self.n_heads * self.head_dim
        kv = self.n_kv_heads * self.head_dim
        attn = d * q + 2 * d * kv + q * d
        if self.attention_bias:
            attn += q + 2 * kv + d
        mats = 3 if self.gated_mlp else 2
        mlp = mats * d * self.d_ff
        if self.mlp_bias:
            mlp += (mats - 1) * self.d_ff + d
        out = {
            "embedding": self.vocab * d,
            "attention": L * attn,
            "mlp": L * mlp,
            "norms": L * 2 * d + d,
            "head": 0 if self.tie_word_embeddings else self.vocab * d,
        }
        out["total"] = sum(out.values())
        return out

    @property
    def params(self) -> int:
        """Total parameters (embeddings and output head included)."""
        return self.parameter_counts()["total"]

    def model_fields(self) -> dict[str, Any]:
        """The ``model:`` fields of a budget (``planner.budget.ModelSpec``)."""
        return {"params": float(self.params), "n_layer": self.n_layer, "d_model": self.d_model,
                "n_heads": self.n_heads, "n_kv_heads": self.n_kv_heads, "vocab": self.vocab}

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "parameters": self.parameter_counts()}


def _int(cfg: dict, key: str, where: str, default: Optional[int] = None) -> int:
    if key not in cfg or cfg[key] is None:
        if default is not None:
            return default
        raise ConfigError(f"{where}: {key}: required key is missing")
    v = cfg[key]
    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
        raise ConfigError(f"{where}: {key}: expected a positive integer, got {v!r}")
    return v


def _bool(cfg: dict, key: str, where: str, default: bool) -> bool:
    v = cfg.get(key, default)
    if v is None:
        return default
    if not isinstance(v, bool):
        raise ConfigError(f"{where}: {key}: expected true or false, got {v!r}")
    return v


def shape_from_config(cfg: Any, where: str = "config.json") -> TransformerShape:
    """The shape described by a parsed Hugging Face ``config.json`` (dense models only)."""
    if not isinstance(cfg, dict):
        raise ConfigError(f"{where}: expected a JSON object of config keys, got "
                          f"{type(cfg).__name__}")
    if isinstance(cfg.get("text_config"), dict):  # multimodal wrappers keep the LM inside
        raise ConfigError(f"{where}: text_config: multimodal configs are not supported; give "
                          "the language model's own config.json")
    for key in MOE_KEYS:
        if cfg.get(key) not in (None, 0, 1):
            raise ConfigError(f"{where}: {key}: mixture-of-experts configs cannot be costed "
                              f"yet (got {key} = {cfg[key]!r}); the planner counts every "
                              "parameter as active per token")
    n_layer = _int(cfg, "num_hidden_layers", where)
    d_model = _int(cfg, "hidden_size", where)
    n_heads = _int(cfg, "num_attention_heads", where)
    n_kv = _int(cfg, "num_key_value_heads", where, default=n_heads)
    vocab = _int(cfg, "vocab_size", where)
    d_ff = _int(cfg, "intermediate_size", where)
    if n_heads % n_kv:
        raise ConfigError(f"{where}: num_key_value_heads: {n_kv} does not divide "
                          f"num_attention_heads {n_heads}")
    head_dim = _int(cfg, "head_dim", where, default=max(1, d_model // n_heads))
    model_type = str(cfg.get("model_type") or "")
    act = str(cfg.get("hidden_act") or cfg.get("hidden_activation") or "")
    gated = model_type in GATED_TYPES or act in GATED_ACTS
    return TransformerShape(
        n_layer=n_layer, d_model=d_model, n_heads=n_heads, n_kv_heads=n_kv, vocab=vocab,
        d_ff=d_ff, head_dim=head_dim, gated_mlp=gated,
        tie_word_embeddings=_bool(cfg, "tie_word_embeddings", where, False),
        attention_bias=_bool(cfg, "attention_bias", where, False),
        mlp_bias=_bool(cfg, "mlp_bias", where, False), model_type=model_type)


def read_config(path: str | Path) -> TransformerShape:
    """Read and cost a ``config.json`` from disk (never downloads)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read it ({exc})") from None
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{p}:{exc.lineno}:{exc.colno}: invalid JSON ({exc.msg})") from None
    return shape_from_config(cfg, str(p))
