"""Progressive delivery on live evidence: a canary's steps advance, hold or roll back from Prometheus's numbers.

`measure` reads each track's values through the Prometheus adapter (`prometheus`), `decide` turns them
into a decision (pure), `edits` makes the decision a one-line edit of the pins file, `record` keeps it in
the audit trail. Imports the core (pins, registry types), proposals, audit and base modules only.
"""
