"""The ``merges_factory_pr`` filter of a github trigger: valid only on merge events."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from factory.config.triggers import GithubTrigger


def test_merges_factory_pr_is_accepted_on_push() -> None:
    """A push trigger may ask for factory merges only."""
    assert GithubTrigger(event="push", merges_factory_pr=True).merges_factory_pr is True


def test_merges_factory_pr_is_accepted_on_deployment_status() -> None:
    """A deployment_status trigger may ask for factory merges only."""
    trigger = GithubTrigger(event="deployment_status", merges_factory_pr=True)
    assert trigger.webhook_event == "deployment_status"


def test_merges_factory_pr_on_another_event_is_an_error() -> None:
    """On an issues trigger the filter could never fire: the validator says so."""
    with pytest.raises(ValidationError) as err:
        GithubTrigger(event="issues.opened", merges_factory_pr=True)
    assert "merges_factory_pr applies only to push and deployment_status" in str(err.value)
