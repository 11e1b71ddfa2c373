"""Budget → Problem → solver → PlanResult.  This package's modules:

* ``build``: budget → law, target loss, candidate Scenarios (the monomial cost terms);
* ``scenario``: the Scenario (the whole problem: objective, constraints, loss constraint) and
  the solvers' ``Solution``;
* ``problem``: ``Problem`` and ``prepare``;
* ``iso_loss``, ``gp``, ``nested``: the solvers; ``solve``: what each accepts, the choice
  among candidates;
* ``baselines``: the Chinchilla-optimal model, plainly or with the serving options;
* ``plans``: evaluate a model, the final check, ``optimize()``;
* ``batch``: many problems at once (sweeps, comparisons).

This module only re-exports.
"""

from planner.optimize.baselines import baseline_candidate, chinchilla_point
from planner.optimize.build import Candidate
from planner.optimize.plans import (
    evaluate,
    optimize,
    optimize_batch,
    optimize_problem,
    plan_candidate,
    plan_result,
)
from planner.optimize.problem import Problem, prepare
from planner.optimize.solve import SOLVERS, solve, solve_candidates

__all__ = ["Candidate", "Problem", "SOLVERS", "baseline_candidate", "chinchilla_point",
           "evaluate", "optimize", "optimize_batch", "optimize_problem", "plan_candidate",
           "plan_result", "prepare", "solve", "solve_candidates"]
