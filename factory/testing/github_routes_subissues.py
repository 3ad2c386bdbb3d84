"""Routes of the fake GitHub for sub-issues (``/repos/{o}/{r}/issues/{n}/sub_issues``).

As GitHub answers them (REST "Sub-issues"): ``sub_issue_id`` is the sub-issue's *id*, not its
number; adding answers 201 with the parent issue; an issue has at most one parent (422 unless
``replace_parent``); an issue cannot be its own sub-issue; listing is paginated.
"""

from __future__ import annotations

from factory.testing.github_http import Reply, Request, Router, paginate
from factory.testing.github_model import Issue, Repo, invalid, not_found

router = Router()
DOCS = "https://docs.github.com/rest/issues/sub-issues"


def _parent(req: Request) -> Issue:
    issue = req.hub.issue(req.repo, int(req.params["number"]))
    if issue.is_pr:
        raise not_found()
    return issue


def _by_id(repo: Repo, issue_id: object) -> Issue:
    if not isinstance(issue_id, int) or isinstance(issue_id, bool):
        raise invalid("Issue", "sub_issue_id", docs=DOCS)
    for issue in repo.issues.values():
        if issue.id == issue_id and not issue.is_pr:
            return issue
    raise invalid("Issue", "sub_issue_id", "not_found", docs=DOCS)


def parent_of(repo: Repo, number: int) -> int | None:
    """Return the number of issue ``number``'s parent, or None."""
    return next((p for p, subs in repo.sub_issues.items() if number in subs), None)


@router.add("GET", r"/issues/(?P<number>\d+)/sub_issues")
def list_sub_issues(req: Request) -> Reply:
    """GET /issues/{n}/sub_issues: the sub-issues, in order, paginated."""
    parent = _parent(req)
    subs = [req.hub.issue(req.repo, n) for n in req.repo.sub_issues.get(parent.number, [])]
    return paginate(req, [req.hub.render.issue(req.repo, i, listed=True) for i in subs])


@router.add("POST", r"/issues/(?P<number>\d+)/sub_issues")
def add_sub_issue(req: Request) -> Reply:
    """POST /issues/{n}/sub_issues {sub_issue_id, replace_parent}: 201 with the parent."""
    _ = req.login
    parent = _parent(req)
    data = req.data()
    sub = _by_id(req.repo, data.get("sub_issue_id"))
    if sub.number == parent.number:
        raise invalid("Issue", "sub_issue_id", "custom", docs=DOCS)
    current = parent_of(req.repo, sub.number)
    if current is not None and current != parent.number and not data.get("replace_parent"):
        raise invalid("Issue", "sub_issue_id", "already_exists", docs=DOCS)
    if current is not None and current != parent.number:
        req.repo.sub_issues[current].remove(sub.number)
    subs = req.repo.sub_issues.setdefault(parent.number, [])
    if sub.number in subs:
        raise invalid("Issue", "sub_issue_id", "already_exists", docs=DOCS)
    subs.append(sub.number)
    body = req.hub.render.issue(req.repo, parent)
    return Reply(201, body, {"location": f"{body['url']}/sub_issues"})


@router.add("DELETE", r"/issues/(?P<number>\d+)/sub_issue")
def remove_sub_issue(req: Request) -> Reply:
    """DELETE /issues/{n}/sub_issue {sub_issue_id}: 200 with the parent."""
    _ = req.login
    parent = _parent(req)
    sub = _by_id(req.repo, req.data().get("sub_issue_id"))
    subs = req.repo.sub_issues.get(parent.number, [])
    if sub.number not in subs:
        raise not_found()
    subs.remove(sub.number)
    return Reply(body=req.hub.render.issue(req.repo, parent))


@router.add("GET", r"/issues/(?P<number>\d+)/parent")
def get_parent(req: Request) -> Reply:
    """GET /issues/{n}/parent: the parent issue, 404 when there is none."""
    issue = req.hub.issue(req.repo, int(req.params["number"]))
    number = parent_of(req.repo, issue.number)
    if number is None:
        raise not_found()
    return Reply(body=req.hub.render.issue(req.repo, req.hub.issue(req.repo, number)))
