"""Evaluation metrics of the plugin."""
