"""One module per group of CLI commands: parse options, call the core, print its result."""
