"""Proposals: in-place edits of model_pins.yaml (promote, rollback, import) and the branch and PR that carry them.

Imports the core, audit and the git and GitHub adapters.
"""
