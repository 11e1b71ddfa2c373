"""Energy of a plan by phase: GPU-hours × board power of the phase × PUE.

Four phases, each at its own power (``HardwareProfile.phase_watts``):

* ``train``: training and draft training, compute-bound, on the training hardware;
* ``prefill``: prompt processing, compute-bound;
* ``decode``: memory-bound token generation with what runs alongside it (draft steps, step
  overhead, tensor-parallel communication);
* ``idle``: provisioned GPU-hours with no work (provisioned billing only: peak headroom,
  target utilisation, the minimum-replica floor, cold starts, keep-alive).

``energy_kWh = GPU_hours × W × PUE / 1000``; the phases sum to the plan's ``energy_kwh``
(:func:`planner.costs.evaluate.cost_breakdown`), which the cost model's items give as
``provisioned × idle + busy × (phase − idle)`` under provisioned billing: the same number.
"""

from __future__ import annotations

from planner.costs.model import PHASE, SERVE_ITEMS, TRAIN_ITEMS, CostModel

PHASES = ("train", "prefill", "decode", "idle")


def energy_by_phase(cm: CostModel, params: float, tokens: float) -> dict:
    """Energy of the plan (N, D) under ``cm`` per phase: ``{"phases": {phase: {hardware,
    power_watts, pue, basis, power_source, items, gpu_hours, energy_kwh}}, "energy_kwh"}``
    (``basis``: which profile figure gave ``power_watts``; ``power_source``: the profile's
    citation for it)."""
    gpu_s = {n: float(cm.gpu_seconds[n].value(params, tokens)) for n in cm.gpu_seconds}
    phases: dict[str, dict] = {}
    for item in TRAIN_ITEMS + SERVE_ITEMS:
        _add(phases, PHASE[item], cm.train_hw if item in TRAIN_ITEMS else cm.serve_hw, item,
             gpu_s[item])
    if cm.provisioned:
        busy = sum(gpu_s[n] for n in SERVE_ITEMS)
        _add(phases, "idle", cm.serve_hw, "provisioned - busy", gpu_s["provisioned"] - busy)
    total = 0.0
    for p in phases.values():
        p["energy_kwh"] = p["gpu_hours"] * p["power_watts"] * p["pue"] / 1000.0
        total += p["energy_kwh"]
    return {"phases": {k: phases[k] for k in PHASES if k in phases}, "energy_kwh": total}


def _add(phases: dict, phase: str, hw, item: str, seconds: float) -> None:
    p = phases.setdefault(phase, {
        "hardware": hw.name, "power_watts": hw.phase_watts(phase), "pue": hw.pue,
        "basis": hw.phase_power_basis(phase), "power_source": hw.power_source, "items": [],
        "gpu_hours": 0.0})
    p["items"].append(item)
    p["gpu_hours"] += seconds / 3600.0
