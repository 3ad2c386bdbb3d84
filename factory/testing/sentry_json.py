"""FakeSentry's issue JSON: the list, detail, update-answer and webhook shapes of an issue.

Each shape has exactly the keys of its real example in tests/data/sentry/ (the issue list
page, ``GET …/issues/{id}/``, the ``PUT`` answer and the ``issue`` webhook's ``data.issue``);
``count`` is a string and ``userCount`` a number, as Sentry sends them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from factory.testing.sentry_state import JSON, Issue, Org, iso


def permalink(org: Org, issue: Issue) -> str:
    """Return the issue's web address in sentry.io's form."""
    return f"https://{org.slug}.sentry.io/issues/{issue.id}/"


def metadata(issue: Issue) -> JSON:
    """Return the issue's metadata: the last exception's type/value for errors, else the title."""
    if not issue.exceptions:
        return {"title": issue.title}
    last = issue.exceptions[-1]
    frames = last.get("frames") or []
    filename = frames[-1].get("filename", "") if frames else ""
    return {"filename": filename, "type": last.get("type", ""), "value": last.get("value", "")}


def issue_type(issue: Issue) -> str:
    """Return ``error`` for an issue with an exception, ``default`` for a message."""
    return "error" if issue.exceptions else "default"


def project_json(org: Org, issue: Issue, with_platform: bool = True) -> JSON:
    """Return the issue's ``project`` object."""
    out: JSON = {"id": org.project_id(issue.project), "name": issue.project, "slug": issue.project}
    if with_platform:
        out["platform"] = issue.platform
    return out


def stats(issue: Issue, period: str, now: datetime | None = None) -> list[list[int]]:
    """Return event counts per bucket: 24 hourly buckets for ``24h``, 30 daily for ``30d``."""
    step = timedelta(hours=1) if period == "24h" else timedelta(days=1)
    buckets = 24 if period == "24h" else 30
    end = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    if period != "24h":
        end = end.replace(hour=0)
    starts = [end - step * (buckets - 1 - i) for i in range(buckets)]
    out: list[list[int]] = []
    for start in starts:
        n = sum(1 for e in issue.events if start <= e.when < start + step)
        out.append([int(start.timestamp()), n])
    return out


def _core(org: Org, issue: Issue) -> JSON:
    """The keys every issue shape shares."""
    return {
        "annotations": [],
        "assignedTo": issue.assigned_to,
        "count": str(issue.count),
        "culprit": issue.culprit,
        "firstSeen": iso(issue.first_seen),
        "hasSeen": issue.has_seen,
        "id": issue.id,
        "isBookmarked": issue.is_bookmarked,
        "isPublic": issue.is_public,
        "isSubscribed": issue.is_subscribed,
        "lastSeen": iso(issue.last_seen),
        "level": issue.level,
        "logger": None,
        "metadata": metadata(issue),
        "numComments": len(issue.comments),
        "permalink": permalink(org, issue),
        "shareId": None,
        "shortId": issue.short_id,
        "status": issue.status,
        "statusDetails": dict(issue.status_details),
        "subscriptionDetails": {"reason": "comment"} if issue.is_subscribed else None,
        "title": issue.title,
        "type": issue_type(issue),
        "userCount": issue.user_count,
    }


def _seer() -> JSON:
    return {
        "priority": "high",
        "priorityLockedAt": None,
        "seerFixabilityScore": None,
        "seerAutofixLastTriggered": None,
        "seerExplorerAutofixLastTriggered": None,
    }


def update_json(org: Org, issue: Issue) -> JSON:
    """Return the ``PUT …/issues/{id}/`` answer (the issue without stats)."""
    return {**_core(org, issue), "project": project_json(org, issue, with_platform=False)}


def webhook_issue_json(org: Org, issue: Issue) -> JSON:
    """Return the ``data.issue`` object of an ``issue`` webhook."""
    return {
        **_core(org, issue),
        "platform": issue.platform,
        "project": project_json(org, issue),
        "substatus": issue.substatus,
    }


def release_json(version: str | None, when: datetime) -> JSON | None:
    """Return the short release object of an issue's first/last release."""
    if version is None:
        return None
    return {
        "version": version,
        "shortVersion": version,
        "dateCreated": iso(when),
        "dateReleased": None,
        "ref": None,
        "url": None,
    }


def detail_json(org: Org, issue: Issue) -> JSON:
    """Return ``GET …/issues/{id}/``: the issue with activity, tags, releases and stats."""
    releases = issue.releases()
    first_release = next((e for e in issue.events if e.release is not None), None)
    last_release = next((e for e in reversed(issue.events) if e.release is not None), None)
    return {
        **_core(org, issue),
        **_seer(),
        "substatus": issue.substatus,
        "platform": issue.platform,
        "project": project_json(org, issue),
        "issueType": "error",
        "issueCategory": "error",
        "activity": [
            *issue.activity,
            {
                "data": {},
                "dateCreated": iso(issue.first_seen),
                "id": "0",
                "type": "first_seen",
                "user": None,
            },
        ],
        "seenBy": [],
        "userReportCount": 0,
        "participants": [],
        "firstRelease": release_json(releases[0], first_release.when)
        if releases and first_release
        else None,
        "lastRelease": release_json(releases[-1], last_release.when)
        if releases and last_release
        else None,
        "tags": [
            {"key": "environment", "name": "Environment", "totalValues": issue.count},
            {"key": "level", "name": "Level", "totalValues": issue.count},
        ],
        "stats": {"24h": stats(issue, "24h"), "30d": stats(issue, "30d")},
    }


def list_json(org: Org, issue: Issue, stats_period: str = "24h") -> JSON:
    """Return one issue of the organization issue list."""
    lifetime = {
        "count": str(issue.count),
        "userCount": issue.user_count,
        "firstSeen": iso(issue.first_seen),
        "lastSeen": iso(issue.last_seen),
    }
    period = stats_period if stats_period in ("24h", "14d") else "24h"
    return {
        **_core(org, issue),
        **_seer(),
        "filtered": None,
        "inbox": None,
        "project": project_json(org, issue),
        "stats": {period: stats(issue, "24h" if period == "24h" else "30d")},
        "owners": None,
        "platform": issue.platform,
        "lifetime": lifetime,
        "substatus": issue.substatus,
        "integrationIssues": [],
        "sentryAppIssues": [],
        "isUnhandled": any(
            not (exc.get("mechanism") or {}).get("handled", True) for exc in issue.exceptions
        ),
        "issueCategory": "error",
        "issueType": "error",
        "sessionCount": 0,
        "latestEventHasAttachments": False,
        "matchingEventId": None,
        "matchingEventEnvironment": None,
        "derivedData": None,
    }
