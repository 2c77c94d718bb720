"""Runner hooks of the plugin."""
