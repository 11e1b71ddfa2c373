"""Fitting loss laws to a team's own training runs: reading runs (``runs``), the Huber fit,
bootstrap and hold-out (``law_fit``)."""
