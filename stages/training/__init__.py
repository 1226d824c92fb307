"""Workshop of the train stage: Trainer controls (precision, max_length, loss, freezing), checkpoints,
training diagnostics and the model card."""
