"""The set-up layer: a budget's hardware profiles resolved (names, files, inline fields) and
its plain cost set-up (``planner.costs.setup``), and the cost model of one configuration."""

from __future__ import annotations

from planner.budget import Budget
from planner.errors import InputError


def resolve_hardware(ref, budget: Budget, field: str):
    """A profile from a name, a file path (relative to the budget) or inline fields."""
    from planner.hardware import load_profile, profile_from_data

    try:
        if isinstance(ref, str):
            return load_profile(ref, budget.base_dir)
        data = dict(ref)
        data.setdefault("name", f"{field}-inline")
        return profile_from_data(data, f"{budget.where(field, 'hardware')}", budget.base_dir)
    except InputError as exc:
        raise InputError(f"{budget.where(field, 'hardware')}: {field}.hardware: {exc}") from None


def cost_setup(budget: Budget):
    """The plain set-up the cost formulas read (``planner.costs.setup``), from a budget."""
    from planner.budget import ServeSpec, TrainSpec
    from planner.costs.setup import (
        CostSetup,
        Demand,
        DraftSetup,
        GivenShape,
        ServeSetup,
        TrainSetup,
        plain,
    )

    serve = budget.serve or ServeSpec()
    sd = serve.speculative
    inf = budget.inference
    tin, tout, split = inf.request_shape
    life = inf.months * 30.0 * 86400.0 if inf.months is not None else None
    demand = Demand(inf.lifetime_requests, tin, tout, inf.requests_per_second, True, life, split)
    m = budget.model
    shape = (GivenShape(m.params, m.n_layer, m.d_model, m.n_heads, m.n_kv_heads, m.vocab)
             if m is not None and m.n_layer is not None else None)
    return CostSetup(plain(TrainSetup, budget.train or TrainSpec()),
                     plain(ServeSetup, serve,
                           speculative=plain(DraftSetup, sd) if sd is not None else None),
                     demand, shape)


def cost_model(budget: Budget, config, train_hw=None, serve_hw=None):
    """The cost model of one configuration of a budget (profiles resolved when not given)."""
    from planner.budget import ServeSpec, TrainSpec
    from planner.costs.model import build_cost_model

    train_hw = train_hw or resolve_hardware((budget.train or TrainSpec()).hardware, budget,
                                            "train")
    serve_hw = serve_hw or resolve_hardware((budget.serve or ServeSpec()).hardware, budget,
                                            "serve")
    return build_cost_model(cost_setup(budget), config, train_hw, serve_hw)
