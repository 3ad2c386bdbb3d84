"""The agent: session loop, model adapter, tools, prompt layout, budgets."""
