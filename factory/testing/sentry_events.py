"""FakeSentry's event JSON: the REST event (``…/events/latest/``) and the raw webhook event.

Frames are given as a Sentry SDK sends them (``filename``, ``function``, ``lineno``,
``in_app``, optional ``abs_path``, ``module``, ``colno``, ``pre_context``, ``context_line``,
``post_context``, ``vars``), oldest call first. Exceptions are a chain, the cause first and
the exception that was raised last (Sentry's order). The REST shape renames the frame keys
(``lineNo``, ``inApp``, ``absPath``, ``colNo``) and numbers the context lines
(``context: [[lineno, line], …]``), as rest.issues.events.latest.json shows.
"""

from __future__ import annotations

from typing import Any

from factory.testing.sentry_json import metadata
from factory.testing.sentry_state import JSON, Event, Issue, Org, iso

SDK = {"name": "sentry.python", "version": "2.19.0"}


def context_lines(frame: JSON) -> list[list[Any]]:
    """Return ``[[lineno, line], …]`` from a frame's pre_context/context_line/post_context."""
    lineno = int(frame.get("lineno") or 0)
    pre = list(frame.get("pre_context") or [])
    post = list(frame.get("post_context") or [])
    out: list[list[Any]] = [[lineno - len(pre) + i, line] for i, line in enumerate(pre)]
    if frame.get("context_line") is not None:
        out.append([lineno, frame["context_line"]])
    out += [[lineno + 1 + i, line] for i, line in enumerate(post)]
    return out


def rest_frame(frame: JSON) -> JSON:
    """Return one stack frame in the REST event's form."""
    filename = frame.get("filename")
    return {
        "function": frame.get("function"),
        "errors": None,
        "colNo": frame.get("colno"),
        "vars": frame.get("vars"),
        "package": None,
        "absPath": frame.get("abs_path", filename),
        "inApp": bool(frame.get("in_app", False)),
        "lineNo": frame.get("lineno"),
        "module": frame.get("module"),
        "filename": filename,
        "platform": None,
        "instructionAddr": None,
        "context": context_lines(frame),
        "symbolAddr": None,
        "trust": None,
        "symbol": None,
    }


def raw_frame(frame: JSON) -> JSON:
    """Return one stack frame as stored (the webhook ``data.event`` form)."""
    filename = frame.get("filename")
    return {
        "abs_path": frame.get("abs_path", filename),
        "colno": frame.get("colno"),
        "context_line": frame.get("context_line"),
        "data": {"orig_in_app": 1 if frame.get("in_app") else 0},
        "errors": None,
        "filename": filename,
        "function": frame.get("function"),
        "image_addr": None,
        "in_app": bool(frame.get("in_app", False)),
        "instruction_addr": None,
        "lineno": frame.get("lineno"),
        "module": frame.get("module"),
        "package": None,
        "platform": None,
        "post_context": frame.get("post_context"),
        "pre_context": frame.get("pre_context"),
        "raw_function": None,
        "symbol": None,
        "symbol_addr": None,
        "trust": None,
        "vars": frame.get("vars"),
    }


def _mechanism(exc: JSON) -> JSON:
    return dict(exc.get("mechanism") or {"type": "generic", "handled": True})


def exception_entry(issue: Issue) -> JSON:
    """Return the REST ``exception`` entry: every exception of the chain with its frames."""
    values: list[JSON] = []
    any_system = False
    for exc in issue.exceptions:
        frames = [rest_frame(f) for f in exc.get("frames") or []]
        system = any(not f["inApp"] for f in frames)
        any_system = any_system or system
        values.append(
            {
                "stacktrace": {
                    "frames": frames,
                    "framesOmitted": None,
                    "registers": None,
                    "hasSystemFrames": system,
                },
                "module": exc.get("module"),
                "rawStacktrace": None,
                "mechanism": _mechanism(exc),
                "threadId": None,
                "value": exc.get("value"),
                "type": exc.get("type"),
            }
        )
    return {
        "type": "exception",
        "data": {"values": values, "excOmitted": None, "hasSystemFrames": any_system},
    }


def breadcrumbs_entry(issue: Issue) -> JSON:
    """Return the REST ``breadcrumbs`` entry."""
    crumbs = [
        {
            "category": c.get("category"),
            "level": c.get("level", "info"),
            "event_id": None,
            "timestamp": c.get("timestamp"),
            "data": c.get("data"),
            "message": c.get("message"),
            "type": c.get("type", "default"),
        }
        for c in issue.breadcrumbs
    ]
    return {"type": "breadcrumbs", "data": {"values": crumbs}}


def request_entry(request: JSON) -> JSON:
    """Return the REST ``request`` entry."""
    return {
        "type": "request",
        "data": {
            "fragment": request.get("fragment"),
            "cookies": [list(c) for c in request.get("cookies", [])],
            "inferredContentType": request.get("inferredContentType"),
            "env": request.get("env"),
            "headers": [list(h) for h in request.get("headers", [])],
            "url": request.get("url"),
            "query": [list(q) for q in request.get("query", [])],
            "data": request.get("data"),
            "method": request.get("method"),
        },
    }


def _tags(issue: Issue, event: Event) -> list[tuple[str, str]]:
    tags = [("environment", event.environment), ("level", issue.level)]
    if event.release is not None:
        tags.append(("release", event.release))
    return [*tags, ("user", f"id:{event.user}")]


def _release(event: Event) -> JSON | None:
    if event.release is None:
        return None
    return {
        "dateReleased": None,
        "commitCount": 0,
        "url": None,
        "data": {},
        "lastDeploy": None,
        "deployCount": 0,
        "dateCreated": iso(event.when),
        "version": event.release,
        "lastCommit": None,
        "ref": None,
    }


def location(issue: Issue) -> str | None:
    """Return ``file:line`` of the innermost in-app frame of the raised exception."""
    frames = (issue.exceptions[-1].get("frames") or []) if issue.exceptions else []
    inner = [f for f in frames if f.get("in_app")] or frames
    if not inner:
        return None
    return f"{inner[-1].get('filename')}:{inner[-1].get('lineno')}"


def rest_event(org: Org, issue: Issue, index: int) -> JSON:
    """Return event ``index`` of ``issue`` as ``GET …/events/{latest|oldest|id}/`` does."""
    event = issue.events[index]
    entries = []
    if issue.exceptions:
        entries.append(exception_entry(issue))
    if issue.breadcrumbs:
        entries.append(breadcrumbs_entry(issue))
    if issue.request is not None:
        entries.append(request_entry(issue.request))
    prev_id = issue.events[index - 1].id if index > 0 else None
    next_id = issue.events[index + 1].id if index + 1 < len(issue.events) else None
    return {
        "groupID": issue.id,
        "eventID": event.id,
        "dist": None,
        "userReport": None,
        "previousEventID": prev_id,
        "message": issue.message,
        "title": issue.title,
        "id": event.id,
        "size": 4096,
        "errors": [],
        "platform": issue.platform,
        "nextEventID": next_id,
        "type": "error" if issue.exceptions else "default",
        "metadata": _event_metadata(issue),
        "tags": [{"value": v, "key": k} for k, v in _tags(issue, event)],
        "dateCreated": iso(event.when),
        "dateReceived": iso(event.when),
        "user": {
            "username": None,
            "name": None,
            "ip_address": None,
            "email": None,
            "data": None,
            **(issue.user or {}),
            "id": event.user,
        },
        "entries": entries,
        "packages": {},
        "sdk": dict(SDK),
        "_meta": {
            "user": None,
            "context": None,
            "entries": {},
            "contexts": None,
            "message": None,
            "packages": None,
            "tags": {},
            "sdk": None,
        },
        "contexts": {"runtime": {"name": "CPython", "type": "runtime", "version": "3.11.9"}},
        "fingerprints": [issue.id.rjust(32, "0")],
        "context": dict(issue.extra),
        "release": _release(event),
        "crashFile": None,
        "location": location(issue),
        "culprit": issue.culprit,
        "groupingConfig": {"enhancements": "KLUv_SAdaQAAkAEA", "id": "newstyle:2023-01-11"},
        "occurrence": None,
        "projectID": org.project_id(issue.project),
        "resolvedWith": [],
        "sdkUpdates": [],
    }


def _event_metadata(issue: Issue) -> JSON:
    if not issue.exceptions:
        return {"title": issue.title}
    last = issue.exceptions[-1]
    return {"type": last.get("type"), "value": last.get("value")}


def raw_event(org: Org, issue: Issue, index: int) -> JSON:
    """Return event ``index`` as stored: the ``data.event`` of an ``event_alert`` webhook."""
    event = issue.events[index]
    api = f"https://sentry.io/api/0/projects/{org.slug}/{issue.project}/events/{event.id}/"
    web = f"https://{org.slug}.sentry.io/issues/{issue.id}/events/{event.id}/"
    exception = {
        "values": [
            {
                "mechanism": _mechanism(exc),
                "stacktrace": {"frames": [raw_frame(f) for f in exc.get("frames") or []]},
                "type": exc.get("type"),
                "value": exc.get("value"),
            }
            for exc in issue.exceptions
        ]
    }
    request = issue.request or {}
    return {
        "_ref": int(org.project_id(issue.project)),
        "_ref_version": 2,
        "contexts": {"runtime": {"name": "CPython", "type": "runtime", "version": "3.11.9"}},
        "culprit": issue.culprit,
        "datetime": iso(event.when),
        "dist": None,
        "event_id": event.id,
        "exception": exception,
        "fingerprint": ["{{ default }}"],
        "grouping_config": {"enhancements": "KLUv_SAdaQAAkAEA", "id": "newstyle:2023-01-11"},
        "hashes": [issue.id.rjust(32, "0")],
        "issue_url": f"https://sentry.io/api/0/issues/{issue.id}/",
        "issue_id": issue.id,
        "key_id": "667532",
        "level": issue.level,
        "location": location(issue),
        "logger": "",
        "message": issue.message,
        "metadata": metadata(issue),
        "platform": issue.platform,
        "project": int(org.project_id(issue.project)),
        "received": event.when.timestamp(),
        "release": event.release,
        "request": {
            "cookies": [list(c) for c in request.get("cookies", [])] or None,
            "data": request.get("data"),
            "env": request.get("env"),
            "fragment": None,
            "headers": [list(h) for h in request.get("headers", [])],
            "inferred_content_type": None,
            "method": request.get("method"),
            "query_string": [list(q) for q in request.get("query", [])],
            "url": request.get("url"),
        },
        "sdk": {**SDK, "integrations": [], "packages": []},
        "tags": [list(t) for t in _tags(issue, event)],
        "time_spent": None,
        "timestamp": event.when.timestamp(),
        "title": issue.title,
        "type": "error" if issue.exceptions else "default",
        "url": api,
        "user": {"id": event.user},
        "version": "7",
        "web_url": web,
    }
