"""The audit trail, the core record: what each alias move records on its version (`records`), what each branch
last applied (`head`), and reading it back (`history`).

A core package below `api`, whose write path writes the records: imports plan, pins, context, the adapters and
the base modules only.
"""
