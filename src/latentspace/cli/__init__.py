"""The `latentspace` command line: one module per command group."""
