"""What every stage may use: typed params, errors, the stage CLI, atomic I/O, text, markdown,
provenance, model loading with the one batched-inference routine, and the hand-off contracts."""
