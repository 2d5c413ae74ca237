"""The ponder command line."""
