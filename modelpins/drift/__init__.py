"""Drift: the registry or the cluster differing from model_pins.yaml, and the webhook that reports it.

Imports the core, audit, proposals' YAML edits and the adapters.
"""
