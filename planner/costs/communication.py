"""Tensor-parallel communication time as monomial terms in N.

Megatron-LM tensor parallelism (Shoeybi et al. 2019, arXiv 1909.08053, §3) needs two
all-reduces of the layer's activations per transformer layer in the forward pass (one after
the attention block, one after the MLP).  A ring all-reduce of ``S`` bytes over ``g`` GPUs moves
``2(g − 1)/g · S`` bytes through each GPU's link (Patarasuk & Yuan 2009, "Bandwidth optimal
all-reduce algorithms for clusters of workstations"), so it takes

    t = 2(g − 1)/g · S / bw + latency

with ``bw`` the one-direction link bandwidth of one GPU and ``latency`` a fixed cost per
collective.  One step over ``T`` tokens moves ``S = T·d_model·act_bytes`` per all-reduce, and
``2·n_layer`` of them: ``n_layer`` and ``d_model`` are ∝ N^(1/3) under the shape rule, so the
step costs ``c1·T·N^(2/3) + c2·N^(1/3)`` seconds: two monomials.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.costs.shape import Shape
from planner.terms import Posynomial, Term, uniform

ALLREDUCES_PER_LAYER = 2  # Megatron-LM: after attention and after the MLP (forward)


def ring_allreduce_seconds(size_bytes: float, gpus: int, bandwidth: float,
                           latency_s: float) -> float:
    """Seconds for one ring all-reduce of ``size_bytes`` over ``gpus`` GPUs at ``bandwidth``
    bytes/s per direction, plus ``latency_s``; 0 on one GPU."""
    if gpus <= 1:
        return 0.0
    return 2.0 * (gpus - 1) / gpus * size_bytes / bandwidth + latency_s


@dataclass(frozen=True)
class Interconnect:
    """The replica's GPU-to-GPU link: ``bandwidth`` bytes/s per direction, ``latency_s`` per
    collective, activations of ``act_bytes`` bytes per element."""

    gpus: int
    bandwidth: float
    latency_s: float
    act_bytes: float = 2.0
    kind: str = ""

    def step_seconds(self, shape: Shape, tokens: float) -> Posynomial:
        """Wall seconds of the ``2·n_layer`` all-reduces of one forward step over ``tokens``
        tokens: ``2·n_layer·(2(g−1)/g·tokens·d_model·act_bytes/bw + latency)`` (zero on 1 GPU;
        the terms stay so candidate structures match)."""
        g = self.gpus
        one = uniform(g <= 1)  # the same for every entry of a batch of configurations
        on = 0.0 if one else 1.0
        ring = 0.0 if one else 2.0 * (g - 1) / g
        per_layer = ALLREDUCES_PER_LAYER * shape.n_layer_coef  # × N^(1/3)
        bytes_coef = per_layer * ring * tokens * shape.d_model_coef * self.act_bytes  # × N^(2/3)
        return (Term(on * bytes_coef / self.bandwidth, 2.0 / 3.0, 0),
                Term(on * per_layer * self.latency_s, 1.0 / 3.0, 0))
