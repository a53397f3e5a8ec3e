"""Herald's edges: settings, the CLI, the web app, the worker and the chat adapters."""
