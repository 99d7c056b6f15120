"""The audit trail: what each alias move records on its version, and reading it back (`history`).

Imports the core (pins, plan, registry types) and the base modules only.
"""
