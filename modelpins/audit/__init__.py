"""The audit trail: what each alias move records on its version (`records`), and reading it back (`history`).

Imports the core (pins, plan, registry types) and the base modules only; `records` imports only the core's
data types, because the core's write path (api.apply_plan) writes the records.
"""
