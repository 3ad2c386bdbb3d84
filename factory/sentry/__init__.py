"""The Sentry REST API side (issues, events, updates, comments), no GitHub."""
