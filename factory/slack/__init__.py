"""The Slack Web API side: one configured client, and what the daemon asks of Slack."""
