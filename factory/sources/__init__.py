"""Where events come from (GitHub webhooks and poller, schedules, manual runs): stored Events."""
