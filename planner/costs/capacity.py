"""Serving capacity: the batch a replica really runs, provisioned replicas, what is billed.

* **Batch (Little's law).**  Requests in flight = arrival rate × time each spends in the system
  (Little 1961, "A proof for the queuing formula L = λW").  With mean rate λ (requests/s) and the
  latency a request must meet ``W = TTFT limit + T_out · TPOT limit`` (seconds), the
  ``max(min_replicas, 1)`` replicas kept up hold ``λ·W`` requests between them, so each runs a
  batch ``b = min(b_configured, max(1, λ·W / max(min_replicas, 1)))``.  It does not depend on N
  (the SLOs are constants), so the roofline stays a max of monomials.  Missing limits take the
  MLPerf Inference Llama-2-70B server-scenario constraints (TTFT 2 s, TPOT 200 ms; MLCommons,
  MLPerf Inference v4.0 rules).
* **Replicas.**  Sized for the peak rate ``peak_to_mean · λ`` at a target utilisation ``u``:
  ``R = max(min_replicas, peak_to_mean · λ · s_busy / u)`` where ``s_busy`` is the replica-
  seconds of work per request.  Provisioned GPU-seconds over the lifetime ``T``:
  ``g·T·R = max(g·T·min_replicas, peak_to_mean/u · busy GPU-seconds)``: a max of posynomials.
* **Scale to zero** (``min_replicas: 0``): replicas are stopped after ``keep_alive_s`` idle;
  with Poisson arrivals a request finds none up with probability ``exp(−λ·keep_alive_s)``, and
  each such cold start is charged ``g·(cold_start_s + keep_alive_s)`` GPU-seconds.
* **Billing.**  ``provisioned`` (default): pay for every provisioned GPU-hour.  ``busy``: pay
  for busy GPU-hours only (a shared fleet that resells idle time).  Without a request rate
  (``requests_per_month`` and ``months``) there is no lifetime to provision over: busy.

The GP sees the continuous replica count; ``integer_replicas`` re-evaluates the chosen N with
``ceil`` replicas (what a deployment runs) for the report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from planner.terms import CostItem, Posynomial, Term

MLPERF_TTFT_S = 2.0  # MLPerf Inference v4.0, Llama-2-70B server scenario, TTFT limit
MLPERF_TPOT_S = 0.2  # same scenario, time-per-output-token limit


@dataclass(frozen=True)
class Capacity:
    """Capacity settings of one serving configuration (rates in requests/s, times in s)."""

    billing: str  # "provisioned" | "busy"
    peak_to_mean: float
    target_utilization: float
    min_replicas: int
    gpus_per_replica: int
    mean_rate: Optional[float]
    lifetime_s: Optional[float]
    request_latency_s: float
    configured_batch: int
    batch: float
    cold_start_s: float = 60.0
    keep_alive_s: float = 300.0
    note: str = ""

    @property
    def provisioned(self) -> bool:
        return self.billing == "provisioned"

    def cold_starts(self) -> float:
        """Expected cold starts over the lifetime (scale-to-zero only)."""
        if self.mean_rate is None or self.lifetime_s is None:
            return 0.0
        lam = self.mean_rate
        on = np.asarray(self.min_replicas) <= 0  # elementwise for a sweep's stacked points
        return _real(np.where(on, self.lifetime_s * lam * np.exp(-lam * self.keep_alive_s), 0.0))

    def provisioned_item(self, busy: CostItem) -> CostItem:
        """Provisioned GPU-seconds: ``max(g·T·min_replicas, peak/u · busy) + cold starts``."""
        k = self.peak_to_mean / self.target_utilization
        g, life = self.gpus_per_replica, self.lifetime_s or 0.0
        cold = Term(g * self.cold_starts() * (self.cold_start_s + self.keep_alive_s))
        floor: Posynomial = (Term(g * life * self.min_replicas), cold)
        alts = [floor] + [tuple(t.scaled(k) for t in p) + (cold,) for p in busy.alternatives]
        return CostItem("provisioned", tuple(alts), "gpu_s")

    def replicas(self, busy_gpu_seconds: float) -> tuple[float, int]:
        """(continuous, integer) replicas for lifetime busy GPU-seconds."""
        if not self.lifetime_s:
            return math.nan, 0
        need = self.peak_to_mean * busy_gpu_seconds / (
            self.target_utilization * self.lifetime_s * self.gpus_per_replica)
        cont = max(float(self.min_replicas), need)
        return cont, max(self.min_replicas, math.ceil(need - 1e-9))


def effective_batch(configured: int, mean_rate: Optional[float], latency_s: float,
                    min_replicas: int) -> float:
    """Little's law batch per replica: ``min(configured, max(1, λ·W/max(min_replicas, 1)))``
    (the configured batch when no rate is known)."""
    if mean_rate is None:
        return _real(configured)
    inflight = mean_rate * latency_s / np.maximum(min_replicas, 1)
    return _real(np.minimum(configured, np.maximum(1.0, inflight)))


def _real(x):
    """A float, or a float array for the stacked points of a sweep (``optimize.stacked``)."""
    return float(x) if np.ndim(x) == 0 else np.asarray(x, dtype=float)


def request_latency_s(ttft_limit_ms: Optional[float], tpot_limit_ms: Optional[float],
                      output_tokens: float) -> float:
    """``W = TTFT limit + T_out · TPOT limit`` seconds (MLPerf server limits when not given)."""
    ttft = ttft_limit_ms / 1e3 if ttft_limit_ms is not None else MLPERF_TTFT_S
    tpot = tpot_limit_ms / 1e3 if tpot_limit_ms is not None else MLPERF_TPOT_S
    return ttft + output_tokens * tpot
