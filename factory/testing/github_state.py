"""The fake GitHub's state and its issue-side changes (issues, labels, comments, events).

Every change goes through a method here, whether it came over HTTP or from a
test's act-as helper, so the event history and the webhook log stay complete.
Callers hold ``Hub.lock`` (the HTTP layer serializes requests with it).
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

from factory.testing.github_git import BareRepo
from factory.testing.github_json import JSON, Renderer
from factory.testing.github_model import (
    PERMISSIONS,
    ApiError,
    AppConfig,
    CheckSuite,
    Comment,
    Issue,
    IssueEvent,
    Label,
    Repo,
    Token,
    User,
    invalid,
    mergeable,
    not_found,
    now_iso,
)

log = structlog.get_logger(__name__)

EventHook = Callable[[str, JSON], None]
_COLOR = re.compile(r"^[0-9a-fA-F]{6}$")
_LABEL_DOCS = "https://docs.github.com/rest/reference/issues#create-a-label"
DEFAULT_LABELS = (
    ("bug", "d73a4a", "Something isn't working"),
    ("documentation", "0075ca", "Improvements or additions to documentation"),
    ("enhancement", "a2eeef", "New feature or request"),
)


class Hub:
    """Users, tokens, repos and the webhook log of one fake GitHub."""

    def __init__(self, root: Path, api: str) -> None:
        self.root = root
        self.lock = threading.RLock()
        self.users: dict[str, User] = {}
        self.tokens: dict[str, Token] = {}
        self.repos: dict[str, Repo] = {}
        self.render = Renderer(api, self.users)
        self.webhook_log: list[tuple[str, JSON]] = []
        self.on_event: EventHook | None = None
        self.app: AppConfig | None = None
        self._ids = itertools.count(1001)

    def next_id(self) -> int:
        """Return a fresh object id (unique across the fake)."""
        return next(self._ids)

    # -- accounts and repos -------------------------------------------------

    def add_user(self, login: str, token: str | None, permission: str, kind: str) -> User:
        """Register ``login`` (with ``token`` if given); raises ValueError on a bad permission."""
        if permission not in PERMISSIONS:
            raise ValueError(f"permission {permission!r} for {login!r} is not one of {PERMISSIONS}")
        user = self.users.get(login) or User(login=login, id=self.next_id(), type=kind)
        user.permission = permission
        self.users[login] = user
        if token is not None:
            self.tokens[token] = Token(login=login)
        return user

    def create_repo(self, full_name: str, files: dict[str, str | bytes], branch: str) -> Repo:
        """Create ``owner/name`` with a bare git repo holding ``files``; ValueError if bad/taken."""
        owner, _, name = full_name.partition("/")
        if not owner or not name or "/" in name:
            raise ValueError(f"repo name {full_name!r} is not owner/name")
        if full_name.lower() in self.repos:
            raise ValueError(f"repo {full_name!r} already exists")
        git = BareRepo.create(
            self.root / owner / f"{name}.git", files, branch, message="Initial commit"
        )
        repo = Repo(
            owner=owner,
            name=name,
            id=self.next_id(),
            default_branch=branch,
            git=git,
            installation_id=self.next_id(),
            created_at=now_iso(),
        )
        for label_name, color, description in DEFAULT_LABELS:
            repo.labels[label_name] = Label(self.next_id(), label_name, color, description, True)
        self.repos[full_name.lower()] = repo
        log.debug("fake_github_repo_created", repo=full_name)
        return repo

    def repo(self, full_name: str) -> Repo:
        """Return the repo called ``full_name``; raises ApiError 404 when there is none."""
        repo = self.repos.get(full_name.lower())
        if repo is None:
            raise not_found()
        return repo

    def repo_by_id(self, repo_id: int) -> Repo:
        """Return the repo with numeric id ``repo_id``; raises ApiError 404 when there is none."""
        for repo in self.repos.values():
            if repo.id == repo_id:
                return repo
        raise not_found()

    def check_suite(
        self, repo: Repo, sha: str, app_slug: str, status: str = "queued"
    ) -> CheckSuite:
        """Return the check suite of App ``app_slug`` on ``sha``, made (``status``) if absent."""
        for suite in repo.check_suites:
            if suite.head_sha == sha and suite.app_slug == app_slug:
                return suite
        branches = [
            r.removeprefix("refs/heads/") for r, s in repo.git.refs("refs/heads/") if s == sha
        ]
        stamp = now_iso()
        suite = CheckSuite(self.next_id(), sha, next(iter(branches), None), app_slug, stamp, stamp)
        suite.status = status
        repo.check_suites.append(suite)
        return suite

    # -- webhooks -----------------------------------------------------------

    def emit(self, event: str, repo: Repo, actor: str, payload: JSON) -> None:
        """Record a webhook-shaped ``(event, payload)`` and hand it to ``on_event`` if set."""
        payload = {
            **payload,
            "repository": self.render.repo(repo),
            "sender": self.render.user(actor),
        }
        self.webhook_log.append((event, payload))
        if self.on_event is not None:
            self.on_event(event, payload)

    def _issue_hook(self, repo: Repo, issue: Issue, action: str, actor: str, **extra: Any) -> None:
        if issue.is_pr:
            pr = repo.pulls[issue.number]
            body = {
                "action": action,
                "number": issue.number,
                "pull_request": self.render.pull(repo, pr, mergeable(repo, pr)),
            }
            self.emit("pull_request", repo, actor, {**body, **extra})
        else:
            body = {"action": action, "issue": self.render.issue(repo, issue)}
            self.emit("issues", repo, actor, {**body, **extra})

    # -- labels ---------------------------------------------------------------

    def create_label(
        self, repo: Repo, actor: str, name: str, color: str, description: str | None = None
    ) -> Label:
        """Create a repo label; raises ApiError 422 for a bad color or an existing name."""
        if not name:
            raise invalid("Label", "name", "missing_field", _LABEL_DOCS)
        if not _COLOR.match(color.lstrip("#")):
            raise invalid("Label", "color", docs=_LABEL_DOCS)
        if repo.label(name) is not None:
            raise invalid("Label", "name", "already_exists", _LABEL_DOCS)
        label = Label(self.next_id(), name, color.lstrip("#"), description)
        repo.labels[name.lower()] = label
        self.emit(
            "label", repo, actor, {"action": "created", "label": self.render.label(repo, label)}
        )
        return label

    def update_label(self, repo: Repo, name: str, changes: dict[str, Any]) -> Label:
        """Rename/recolor label ``name``; raises ApiError 404 if absent, 422 on a bad color."""
        label = repo.label(name)
        if label is None:
            raise not_found()
        color = changes.get("color")
        if color is not None and not _COLOR.match(str(color).lstrip("#")):
            raise invalid("Label", "color", docs=_LABEL_DOCS)
        del repo.labels[label.name.lower()]
        label.name = changes.get("new_name") or label.name
        label.color = str(color).lstrip("#") if color else label.color
        if "description" in changes:
            label.description = changes["description"]
        repo.labels[label.name.lower()] = label
        return label

    def delete_label(self, repo: Repo, name: str) -> None:
        """Delete label ``name`` from the repo and its issues; raises ApiError 404 if absent."""
        label = repo.label(name)
        if label is None:
            raise not_found()
        del repo.labels[label.name.lower()]
        for issue in repo.issues.values():
            issue.labels = [n for n in issue.labels if n.lower() != label.name.lower()]

    def _ensure_label(self, repo: Repo, name: str) -> Label:
        # GitHub creates unknown labels on the fly (grey) when they are added to an issue.
        label = repo.label(name)
        if label is None:
            label = Label(self.next_id(), name, "ededed")
            repo.labels[name.lower()] = label
        return label

    # -- issues -------------------------------------------------------------

    def issue(self, repo: Repo, number: int) -> Issue:
        """Return issue (or PR) ``number``; raises ApiError 404 when there is none."""
        issue = repo.issues.get(number)
        if issue is None:
            raise not_found()
        return issue

    def create_issue(
        self,
        repo: Repo,
        actor: str,
        title: str,
        body: str | None = None,
        labels: list[str] | None = None,
        assignees: list[str] | None = None,
        is_pr: bool = False,
    ) -> Issue:
        """Open a new issue as ``actor``; raises ApiError 422 when the title is missing."""
        if not title:
            raise invalid("Issue", "title", "missing_field")
        stamp = now_iso()
        issue = Issue(
            number=repo.next_number,
            id=self.next_id(),
            title=title,
            body=body,
            user=actor,
            created_at=stamp,
            updated_at=stamp,
            assignees=list(assignees or []),
            is_pr=is_pr,
        )
        repo.next_number += 1
        repo.issues[issue.number] = issue
        given = [self._ensure_label(repo, name) for name in dict.fromkeys(labels or [])]
        issue.labels.extend(label.name for label in given)
        # Like GitHub: labels given at creation are labeled events (and webhooks) by the author.
        for label in given:
            self.record(repo, issue, actor, "labeled", label=label)
        if not is_pr:
            self._issue_hook(repo, issue, "opened", actor)
            for label in given:
                self._issue_hook(
                    repo, issue, "labeled", actor, label=self.render.label(repo, label)
                )
        return issue

    def record(self, repo: Repo, issue: Issue, actor: str, event: str, **kw: Any) -> IssueEvent:
        """Append one event to ``issue``'s history and return it."""
        item = IssueEvent(self.next_id(), issue.number, actor, event, now_iso(), **kw)
        repo.events.append(item)
        issue.updated_at = item.created_at
        return item

    def add_labels(self, repo: Repo, number: int, actor: str, names: list[str]) -> Issue:
        """Add labels to an issue as ``actor`` (labeled events + webhooks for new ones)."""
        issue = self.issue(repo, number)
        for name in names:
            label = self._ensure_label(repo, name)
            if label.name.lower() in (n.lower() for n in issue.labels):
                continue
            issue.labels.append(label.name)
            self.record(repo, issue, actor, "labeled", label=label)
            self._issue_hook(repo, issue, "labeled", actor, label=self.render.label(repo, label))
        return issue

    def remove_label(self, repo: Repo, number: int, actor: str, name: str) -> Issue:
        """Remove one label as ``actor``; raises ApiError 404 "Label does not exist" if absent."""
        issue = self.issue(repo, number)
        label = repo.label(name)
        if label is None or label.name.lower() not in (n.lower() for n in issue.labels):
            raise ApiError(404, "Label does not exist")
        issue.labels = [n for n in issue.labels if n.lower() != label.name.lower()]
        self.record(repo, issue, actor, "unlabeled", label=label)
        self._issue_hook(repo, issue, "unlabeled", actor, label=self.render.label(repo, label))
        return issue

    def set_labels(self, repo: Repo, number: int, actor: str, names: list[str]) -> Issue:
        """Replace an issue's labels with ``names`` (unlabeled/labeled events for the change)."""
        issue = self.issue(repo, number)
        wanted = {n.lower() for n in names}
        for current in list(issue.labels):
            if current.lower() not in wanted:
                self.remove_label(repo, number, actor, current)
        return self.add_labels(repo, number, actor, names)

    def update_issue(self, repo: Repo, number: int, actor: str, changes: dict[str, Any]) -> Issue:
        """Apply a PATCH (title, body, state, state_reason, labels, assignees) as ``actor``."""
        issue = self.issue(repo, number)
        edited: JSON = {}
        for key in ("title", "body"):
            if key in changes and changes[key] != getattr(issue, key):
                # GitHub's changes.*.from is always a string: an absent body was "".
                edited[key] = {"from": getattr(issue, key) or ""}
                setattr(issue, key, changes[key])
        if "assignees" in changes:
            issue.assignees = list(changes["assignees"] or [])
        if "labels" in changes:
            names = [x if isinstance(x, str) else x["name"] for x in changes["labels"] or []]
            self.set_labels(repo, number, actor, names)
        if edited:
            issue.updated_at = now_iso()
            self._issue_hook(repo, issue, "edited", actor, changes=edited)
        state = changes.get("state")
        if state not in (None, "open", "closed"):
            raise invalid("Issue", "state")
        if state == "closed" and issue.state == "open":
            self.close(repo, issue, actor, changes.get("state_reason") or "completed")
        elif state == "open" and issue.state == "closed":
            issue.state, issue.state_reason, issue.closed_at = "open", "reopened", None
            self.record(repo, issue, actor, "reopened")
            self._issue_hook(repo, issue, "reopened", actor)
        return issue

    def close(self, repo: Repo, issue: Issue, actor: str, reason: str | None) -> None:
        """Close ``issue`` as ``actor`` (closed event + webhook)."""
        issue.state, issue.closed_at, issue.closed_by = "closed", now_iso(), actor
        issue.state_reason = None if issue.is_pr else reason
        commit = repo.pulls[issue.number].merge_commit_sha if issue.is_pr else None
        self.record(repo, issue, actor, "closed", commit_id=commit)
        self._issue_hook(repo, issue, "closed", actor)

    # -- comments -------------------------------------------------------------

    def add_comment(self, repo: Repo, number: int, actor: str, body: str) -> Comment:
        """Comment on issue/PR ``number`` as ``actor``; raises ApiError 422 on an empty body."""
        issue = self.issue(repo, number)
        if not body:
            raise invalid("IssueComment", "body", "missing_field")
        stamp = now_iso()
        comment = Comment(self.next_id(), number, actor, body, stamp, stamp)
        issue.comments.append(comment)
        issue.updated_at = stamp
        self.emit(
            "issue_comment",
            repo,
            actor,
            {
                "action": "created",
                "issue": self.render.issue(repo, issue),
                "comment": self.render.comment(repo, comment),
            },
        )
        return comment

    def comment(self, repo: Repo, comment_id: int) -> Comment:
        """Return comment ``comment_id``; raises ApiError 404 when there is none."""
        for issue in repo.issues.values():
            for comment in issue.comments:
                if comment.id == comment_id:
                    return comment
        raise not_found()

    def edit_comment(self, repo: Repo, comment_id: int, actor: str, body: str) -> Comment:
        """Replace a comment's body as ``actor`` (issue_comment.edited webhook)."""
        comment = self.comment(repo, comment_id)
        old = comment.body
        comment.body, comment.updated_at = body, now_iso()
        self.emit(
            "issue_comment",
            repo,
            actor,
            {
                "action": "edited",
                "changes": {"body": {"from": old}},
                "issue": self.render.issue(repo, repo.issues[comment.issue_number]),
                "comment": self.render.comment(repo, comment),
            },
        )
        return comment
