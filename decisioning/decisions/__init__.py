"""Decisions: inbound requests, storing what the engine decided, replay; the snapshot and
customer context every decision reads."""
