"""Rendering only: terminal tables and JSON (``terminal``), the planning-review document
(``review``), figures (``figures``, ``fit_figures``)."""
