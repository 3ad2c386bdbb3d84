"""Configuration as validated data: automation YAML, triggers, harness policy, loading, reload."""
