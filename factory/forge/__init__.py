"""The GitHub side of the factory: webhooks, polling, trust, state, claims and outputs."""
