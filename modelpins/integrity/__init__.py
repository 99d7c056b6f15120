"""Integrity of a version's files: digests, artefact reads, the artefact lock (model_pins.lock) and signing.

Imports the core and the registry adapter.
"""
