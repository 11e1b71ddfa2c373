"""Shipped shapes of well-known dense models, so budgets can say ``model: llama-3-8b``.

Each entry copies the architecture keys of the model's Hugging Face ``config.json`` (the values
the papers' architecture tables give) and names its source.  ``published_params`` is the total
the model card reports (safetensors parameter count, embeddings and head included); the tests
hold the count from the shape to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_LLAMA = {"model_type": "llama", "hidden_act": "silu", "tie_word_embeddings": False}


@dataclass(frozen=True)
class KnownModel:
    name: str
    config: dict[str, Any]  # the config.json keys the planner reads
    published_params: float
    source: str


def _m(name: str, source: str, published: float, **cfg) -> KnownModel:
    return KnownModel(name, {**_LLAMA, **cfg}, published, source)


_L2 = ("Touvron et al. 2023, Llama 2, arXiv 2307.09288 (Table 1); Hugging Face "
       "meta-llama/{} config.json")
_L3 = ("Llama Team 2024, The Llama 3 Herd of Models, arXiv 2407.21783 (Table 3); Hugging Face "
       "meta-llama/{} config.json")

KNOWN_MODELS: dict[str, KnownModel] = {m.name: m for m in (
    _m("llama-2-7b", _L2.format("Llama-2-7b-hf"), 6.74e9, num_hidden_layers=32,
       hidden_size=4096, num_attention_heads=32, num_key_value_heads=32, vocab_size=32000,
       intermediate_size=11008),
    _m("llama-2-13b", _L2.format("Llama-2-13b-hf"), 13.02e9, num_hidden_layers=40,
       hidden_size=5120, num_attention_heads=40, num_key_value_heads=40, vocab_size=32000,
       intermediate_size=13824),
    _m("llama-2-70b", _L2.format("Llama-2-70b-hf"), 68.98e9, num_hidden_layers=80,
       hidden_size=8192, num_attention_heads=64, num_key_value_heads=8, vocab_size=32000,
       intermediate_size=28672),
    _m("llama-3-8b", _L3.format("Meta-Llama-3-8B"), 8.03e9, num_hidden_layers=32,
       hidden_size=4096, num_attention_heads=32, num_key_value_heads=8, vocab_size=128256,
       intermediate_size=14336),
    _m("llama-3-70b", _L3.format("Meta-Llama-3-70B"), 70.55e9, num_hidden_layers=80,
       hidden_size=8192, num_attention_heads=64, num_key_value_heads=8, vocab_size=128256,
       intermediate_size=28672),
    KnownModel("mistral-7b", {"model_type": "mistral", "hidden_act": "silu",
                              "tie_word_embeddings": False, "num_hidden_layers": 32,
                              "hidden_size": 4096, "num_attention_heads": 32,
                              "num_key_value_heads": 8, "vocab_size": 32000,
                              "intermediate_size": 14336}, 7.24e9,
               "Jiang et al. 2023, Mistral 7B, arXiv 2310.06825 (Table 1); Hugging Face "
               "mistralai/Mistral-7B-v0.1 config.json"),
)}
