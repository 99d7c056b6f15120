"""Provenance a reviewer reads: a version's lineage (base, adapter, run, copies) and its model card.

Imports the core, audit, integrity and proposals' waivers.
"""
