"""When a pull request last made progress: its head's push, a review or a check finishing.

A schedule's ``select: {stale_for: 6h}`` (``factory.config.triggers.Select``) sweeps only the
pull requests that made no progress for that long. Progress is what moves a pull request
towards merging: a new head commit (its committer date: a push of older commits counts as
the time they were made), a review submitted, a check run on the head completed. Comments
and label changes are not progress (the factory's own "needs a human" comment must not reset
the clock); an issue has no such parts, so its ``updated_at`` is used.
"""

from __future__ import annotations

from datetime import datetime

from github.Issue import Issue
from github.PullRequest import PullRequest

from factory.events import as_utc


def last_progress(pull: PullRequest) -> datetime:
    """Return the latest of the head commit's date, a review and a head check run finishing.

    Raises what PyGithub raises.
    """
    commit = pull.base.repo.get_commit(pull.head.sha)
    times = [as_utc(commit.commit.committer.date)]
    times += [as_utc(r.submitted_at) for r in pull.get_reviews() if r.submitted_at]
    times += [as_utc(c.completed_at) for c in commit.get_check_runs() if c.completed_at]
    return max(times)


def stalled(issue: Issue, seconds: float, now: datetime) -> bool:
    """True when ``issue`` (a pull request: its ``last_progress``) made no progress for
    ``seconds`` before ``now``. Raises what PyGithub raises."""
    if issue.pull_request is None:
        last = as_utc(issue.updated_at)
    else:
        last = last_progress(issue.as_pull_request())
    return (as_utc(now) - last).total_seconds() >= seconds
