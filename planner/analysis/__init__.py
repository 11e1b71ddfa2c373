"""Analyses built on the optimizer: sweeps, scenario comparison, sensitivity, uncertainty and
cost curves.  They call ``planner.optimize``; they never draw (``planner.render`` does)."""
