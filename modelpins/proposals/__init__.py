"""Lifecycle of pinned versions: history, rollback, drift, lineage, lock and model cards.

Pure functions returning typed data; the commands in `modelpins.commands.lifecycle` print them.
"""
