"""The simulator of a believable day (model, noise, wire format, command line)."""
