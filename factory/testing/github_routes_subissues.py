"""Routes of the fake GitHub for sub-issues (``/repos/{o}/{r}/issues/{n}/sub_issues``).

As GitHub answers them (REST "Sub-issues"): ``sub_issue_id`` is the sub-issue's *id*, not its
number (an id no issue has, e.g. a number sent by mistake, is GitHub's 404); adding answers 201
with the parent issue; an issue has at most one parent (422 "Sub issue may only have one
parent" unless ``replace_parent``); a parent holds at most ``MAX_SUB_ISSUES`` sub-issues, closed
ones included (422); an issue cannot be its own sub-issue; the sub-issue must belong to the
parent's repository owner (422). Listing is paginated. The fake keeps sub-issues within one
repository: a same-owner issue of another repository is refused (422), stricter than GitHub.
"""

from __future__ import annotations

from factory.testing.github_http import Reply, Request, Router, paginate
from factory.testing.github_model import ApiError, Issue, Repo, invalid, not_found

router = Router()
DOCS = "https://docs.github.com/rest/issues/sub-issues"
ADD_DOCS = f"{DOCS}#add-sub-issue"
MAX_SUB_ISSUES = 100
"""Sub-issues one parent may hold (GitHub's documented limit; closed ones count)."""


def _refused(message: str) -> ApiError:
    """GitHub's 422 for a sub-issue rule, with its message."""
    error = {"resource": "Issue", "code": "custom", "field": "sub_issue_id", "message": message}
    return ApiError(422, "Validation Failed", [error], documentation_url=ADD_DOCS)


def _parent(req: Request) -> Issue:
    issue = req.hub.issue(req.repo, int(req.params["number"]))
    if issue.is_pr:
        raise not_found()
    return issue


def _by_id(req: Request, issue_id: object) -> Issue:
    """Return the issue with id ``issue_id`` in the request's repository; 404 for an id no
    issue the caller can see has, 422 for another owner's or another repository's issue."""
    if not isinstance(issue_id, int) or isinstance(issue_id, bool):
        raise invalid("Issue", "sub_issue_id", docs=ADD_DOCS)
    for repo in req.hub.repos.values():
        for issue in repo.issues.values():
            if issue.id != issue_id or issue.is_pr:
                continue
            if repo is req.repo:
                return issue
            if repo.owner.lower() != req.repo.owner.lower():
                raise _refused("Sub issue must belong to the same repository owner as the parent")
            raise _refused("Sub issue must belong to the same repository as the parent (fake)")
    raise ApiError(404, "Not Found", documentation_url=ADD_DOCS)


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
    sub = _by_id(req, data.get("sub_issue_id"))
    if sub.number == parent.number:
        raise _refused("An issue cannot be a sub issue of itself")
    current = parent_of(req.repo, sub.number)
    if current is not None and (current == parent.number or not data.get("replace_parent")):
        raise _refused("Sub issue may only have one parent")
    subs = req.repo.sub_issues.setdefault(parent.number, [])
    if len(subs) >= MAX_SUB_ISSUES:
        raise _refused(f"Parent issue may have at most {MAX_SUB_ISSUES} sub issues")
    if current is not None:
        req.repo.sub_issues[current].remove(sub.number)
    subs.append(sub.number)
    body = req.hub.render.issue(req.repo, parent)
    return Reply(201, body, {"location": f"{body['url']}/sub_issues"})


@router.add("DELETE", r"/issues/(?P<number>\d+)/sub_issue")
def remove_sub_issue(req: Request) -> Reply:
    """DELETE /issues/{n}/sub_issue {sub_issue_id}: 200 with the parent."""
    _ = req.login
    parent = _parent(req)
    sub = _by_id(req, req.data().get("sub_issue_id"))
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
