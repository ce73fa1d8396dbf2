"""Propensity models per product: features, training, the registry, drift, history import.

- ``features``: the one declaration of what a model may read (profile, holdings,
  engagement) and what it must not (protected attributes and declared proxies);
- ``dataset``: labelled responses as a feature matrix, ordered by time;
- ``fitting``: regularised logistic regression and HistGradientBoosting, Platt-calibrated,
  measured on held-out rows and exported to what the engine scores (``engine.ModelSpec``);
- ``registry``: ``model_train`` — champion and challenger, the AUC floor, fair lending;
- ``drift``: the population stability index of each input against recent customers;
- ``history``: importing past campaign responses from CSV and scoring a CSV.
"""
