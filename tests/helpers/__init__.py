"""Shared test helpers: real servers on loopback, seeding, running the CLI as a user would."""
