"""Chat model adapters and the model spec resolver."""
