"""Feedback: customer responses, banker and agent overrides, and the propensity models
trained on them."""
