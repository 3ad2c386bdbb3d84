"""Routes of the fake GitHub for repos, users, issues, labels, comments, events and search."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from factory.testing.github_http import Reply, Request, Router, paginate
from factory.testing.github_json_accounts import profile
from factory.testing.github_model import ApiError, Issue, Repo, association, not_found

router = Router()
_LEGACY = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
    "none": "none",
}


def _created(req: Request, body: dict[str, Any], location: str) -> Reply:
    return Reply(201, body, {"location": location})


@router.add("GET", "")
def get_repo(req: Request) -> Reply:
    """GET /repos/{o}/{r}."""
    viewer = req.hub.users.get(req.token.login) if req.token else None
    return Reply(body=req.hub.render.repo(req.repo, viewer, full=True))


@router.add("GET", "/user", repo=False)
def get_me(req: Request) -> Reply:
    """GET /user: the caller; an App installation token is no user, so GitHub answers 403."""
    if req.token is not None and req.token.installation_id is not None:
        docs = "https://docs.github.com/rest/users/users#get-the-authenticated-user"
        raise ApiError(403, "Resource not accessible by integration", documentation_url=docs)
    return Reply(body=profile(req.hub.render, req.login, private=True))


@router.add("GET", "/users/(?P<login>[^/]+)", repo=False)
def get_user(req: Request) -> Reply:
    """GET /users/{login}; 404 for unknown logins."""
    if req.params["login"] not in req.hub.users:
        raise not_found()
    return Reply(body=profile(req.hub.render, req.params["login"]))


@router.add("GET", "/rate_limit", repo=False)
def rate_limit(req: Request) -> Reply:
    """GET /rate_limit (the real numbers are in the headers the HTTP layer adds)."""
    core = {"limit": 5000, "remaining": 5000, "reset": 0, "used": 0}
    return Reply(body={"resources": {"core": core, "search": {**core, "limit": 30}}, "rate": core})


@router.add("GET", "/collaborators/(?P<login>[^/]+)/permission")
def get_permission(req: Request) -> Reply:
    """GET /collaborators/{user}/permission: legacy permission plus role_name."""
    user = req.hub.users.get(req.params["login"])
    if user is None:
        raise not_found()
    role = "admin" if user.login == req.repo.owner else user.permission
    return Reply(
        body={
            "permission": _LEGACY[role],
            "role_name": role,
            "user": {**(req.hub.render.user(user.login) or {}), "role_name": role},
        }
    )


# -- labels -------------------------------------------------------------------


@router.add("GET", "/labels")
def list_labels(req: Request) -> Reply:
    """GET /labels, in creation order."""
    labels = sorted(req.repo.labels.values(), key=lambda x: x.id)
    return paginate(req, [req.hub.render.label(req.repo, x) for x in labels])


@router.add("POST", "/labels")
def create_label(req: Request) -> Reply:
    """POST /labels; 422 on a bad color or a taken name."""
    d = req.data()
    label = req.hub.create_label(
        req.repo,
        req.login,
        str(d.get("name") or ""),
        str(d.get("color") or "ededed"),
        d.get("description"),
    )
    body = req.hub.render.label(req.repo, label)
    return _created(req, body, body["url"])


@router.add("GET", "/labels/(?P<name>[^/]+)")
def get_label(req: Request) -> Reply:
    """GET /labels/{name}."""
    label = req.repo.label(unquote(req.params["name"]))
    if label is None:
        raise not_found()
    return Reply(body=req.hub.render.label(req.repo, label))


@router.add("PATCH", "/labels/(?P<name>[^/]+)")
def update_label(req: Request) -> Reply:
    """PATCH /labels/{name} (new_name, color, description)."""
    label = req.hub.update_label(req.repo, unquote(req.params["name"]), req.data())
    return Reply(body=req.hub.render.label(req.repo, label))


@router.add("DELETE", "/labels/(?P<name>[^/]+)")
def delete_label(req: Request) -> Reply:
    """DELETE /labels/{name}: 204."""
    req.hub.delete_label(req.repo, unquote(req.params["name"]))
    return Reply(204)


# -- issues -------------------------------------------------------------------


def _issue_list(req: Request, issues: list[Issue]) -> list[Issue]:
    state = req.arg("state", "open")
    if state != "all":
        issues = [i for i in issues if i.state == state]
    wanted = [n.strip().lower() for n in (req.arg("labels") or "").split(",") if n.strip()]
    issues = [i for i in issues if set(wanted) <= {n.lower() for n in i.labels}]
    since = req.arg("since")
    if since:
        issues = [i for i in issues if i.updated_at >= since]
    creator = req.arg("creator")
    if creator:
        issues = [i for i in issues if i.user == creator]
    sort = req.arg("sort", "created")
    key = {
        "updated": lambda i: (i.updated_at, i.number),
        "comments": lambda i: (len(i.comments), i.number),
    }.get(sort or "", lambda i: (i.created_at, i.number))
    return sorted(issues, key=key, reverse=req.arg("direction", "desc") != "asc")


@router.add("GET", "/issues")
def list_issues(req: Request) -> Reply:
    """GET /issues (state, labels, since, creator, sort, direction; paginated)."""
    issues = _issue_list(req, list(req.repo.issues.values()))
    return paginate(req, [req.hub.render.issue(req.repo, i, listed=True) for i in issues])


@router.add("POST", "/issues")
def create_issue(req: Request) -> Reply:
    """POST /issues: 201 with Location."""
    d = req.data()
    issue = req.hub.create_issue(
        req.repo,
        req.login,
        str(d.get("title") or ""),
        d.get("body"),
        [x if isinstance(x, str) else x["name"] for x in d.get("labels") or []],
        d.get("assignees"),
    )
    body = req.hub.render.issue(req.repo, issue)
    return _created(req, body, body["url"])


def _number(req: Request) -> int:
    return int(req.params["number"])


@router.add("GET", r"/issues/(?P<number>\d+)")
def get_issue(req: Request) -> Reply:
    """GET /issues/{n}."""
    return Reply(body=req.hub.render.issue(req.repo, req.hub.issue(req.repo, _number(req))))


@router.add("PATCH", r"/issues/(?P<number>\d+)")
def update_issue(req: Request) -> Reply:
    """PATCH /issues/{n} (title, body, state, state_reason, labels, assignees)."""
    issue = req.hub.update_issue(req.repo, _number(req), req.login, req.data())
    return Reply(body=req.hub.render.issue(req.repo, issue))


def _labels_of(req: Request, issue: Issue) -> Reply:
    labels = [lab for n in issue.labels if (lab := req.repo.label(n))]
    return Reply(body=[req.hub.render.label(req.repo, x) for x in labels])


def _names(req: Request) -> list[str]:
    body = req.body
    items = body.get("labels", []) if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise ApiError(422, "Invalid request.\n\nFor 'links/0/schema', nil is not an array.")
    return [x if isinstance(x, str) else str(x["name"]) for x in items]


@router.add("GET", r"/issues/(?P<number>\d+)/labels")
def issue_labels(req: Request) -> Reply:
    """GET /issues/{n}/labels."""
    return _labels_of(req, req.hub.issue(req.repo, _number(req)))


@router.add("POST", r"/issues/(?P<number>\d+)/labels")
def add_labels(req: Request) -> Reply:
    """POST /issues/{n}/labels: the issue's labels after adding."""
    return _labels_of(req, req.hub.add_labels(req.repo, _number(req), req.login, _names(req)))


@router.add("PUT", r"/issues/(?P<number>\d+)/labels")
def set_labels(req: Request) -> Reply:
    """PUT /issues/{n}/labels: replace all labels."""
    return _labels_of(req, req.hub.set_labels(req.repo, _number(req), req.login, _names(req)))


@router.add("DELETE", r"/issues/(?P<number>\d+)/labels/(?P<name>[^/]+)")
def remove_label(req: Request) -> Reply:
    """DELETE /issues/{n}/labels/{name}: remaining labels; 404 when not on the issue."""
    name = unquote(req.params["name"])
    return _labels_of(req, req.hub.remove_label(req.repo, _number(req), req.login, name))


@router.add("GET", r"/issues/(?P<number>\d+)/events")
def issue_events(req: Request) -> Reply:
    """GET /issues/{n}/events, oldest first (labeled/unlabeled/closed/... with actor)."""
    number = req.hub.issue(req.repo, _number(req)).number
    items = [req.hub.render.event(req.repo, e) for e in req.repo.events if e.issue_number == number]
    return paginate(req, items)


# -- comments -----------------------------------------------------------------


@router.add("GET", r"/issues/(?P<number>\d+)/comments")
def list_comments(req: Request) -> Reply:
    """GET /issues/{n}/comments, oldest first (``since`` filter)."""
    comments = req.hub.issue(req.repo, _number(req)).comments
    since = req.arg("since")
    items = [c for c in comments if not since or c.updated_at >= since]
    return paginate(req, [req.hub.render.comment(req.repo, c) for c in items])


@router.add("POST", r"/issues/(?P<number>\d+)/comments")
def create_comment(req: Request) -> Reply:
    """POST /issues/{n}/comments: 201."""
    comment = req.hub.add_comment(
        req.repo, _number(req), req.login, str(req.data().get("body") or "")
    )
    body = req.hub.render.comment(req.repo, comment)
    return _created(req, body, body["url"])


@router.add("GET", r"/issues/comments/(?P<id>\d+)")
def get_comment(req: Request) -> Reply:
    """GET /issues/comments/{id}."""
    comment = req.hub.comment(req.repo, int(req.params["id"]))
    return Reply(body=req.hub.render.comment(req.repo, comment))


@router.add("PATCH", r"/issues/comments/(?P<id>\d+)")
def update_comment(req: Request) -> Reply:
    """PATCH /issues/comments/{id} (body)."""
    comment = req.hub.edit_comment(
        req.repo, int(req.params["id"]), req.login, str(req.data().get("body") or "")
    )
    return Reply(body=req.hub.render.comment(req.repo, comment))


# -- search -------------------------------------------------------------------

_TOKEN = re.compile(r'(-?)(\w+):"([^"]*)"|(-?)(\w+):(\S+)|"([^"]*)"|(\S+)')


def parse_query(q: str) -> tuple[list[tuple[bool, str, str]], list[str]]:
    """Split a search ``q`` into (negated, qualifier, value) triples and plain words."""
    quals: list[tuple[bool, str, str]] = []
    words: list[str] = []
    for m in _TOKEN.finditer(q):
        if m.group(2):
            quals.append((m.group(1) == "-", m.group(2).lower(), m.group(3)))
        elif m.group(5):
            quals.append((m.group(4) == "-", m.group(5).lower(), m.group(6)))
        else:
            words.append((m.group(7) or m.group(8)).lower())
    return quals, words


def _matches(
    repo: Repo,
    issue: Issue,
    quals: list[tuple[bool, str, str]],
    words: list[str],
    association_of: Any,
) -> bool:
    fields = {
        "title": issue.title.lower(),
        "body": (issue.body or "").lower(),
        "comments": " ".join(c.body.lower() for c in issue.comments),
    }
    scopes = [v.lower() for neg, k, v in quals if k == "in"] or ["title", "body"]
    for word in words:
        if not any(word in fields.get(s, "") for s in scopes):
            return False
    for neg, key, value in quals:
        v = value.lower()
        labels = {n.lower() for n in issue.labels}
        ok = {
            "repo": repo.full_name.lower() == v,
            "is": v in ("issue", "pr", "open", "closed", "merged")
            and (
                v == ("pr" if issue.is_pr else "issue")
                or v == issue.state
                or (v == "merged" and issue.is_pr and repo.pulls[issue.number].merged)
            ),
            "type": v == ("pr" if issue.is_pr else "issue"),
            "state": v == issue.state,
            "label": v in labels,
            "author": issue.user.lower() == v,
            "assignee": v in (a.lower() for a in issue.assignees),
            "no": v == "label" and not labels,
            "in": True,
            "involves": issue.user.lower() == v or any(c.user.lower() == v for c in issue.comments),
            "user": repo.owner.lower() == v,
            "org": repo.owner.lower() == v,
            "author-association": association_of(issue).lower() == v,
        }.get(key)
        if ok is None:
            raise ApiError(
                422,
                "Validation Failed",
                [
                    {
                        "message": f"unsupported qualifier {key}",
                        "resource": "Search",
                        "field": "q",
                        "code": "invalid",
                    }
                ],
            )
        if ok == neg:
            return False
    return True


@router.add("GET", "/search/issues", repo=False)
def search_issues(req: Request) -> Reply:
    """GET /search/issues?q=...: total_count, incomplete_results, items (paginated)."""
    q = req.arg("q")
    if not q:
        raise ApiError(
            422, "Validation Failed", [{"resource": "Search", "field": "q", "code": "missing"}]
        )
    quals, words = parse_query(q)
    found: list[tuple[Repo, Issue]] = []
    for repo in req.hub.repos.values():

        def assoc(i: Issue, repo: Repo = repo) -> str:
            return association(repo, req.hub.users.get(i.user))

        found += [(repo, i) for i in repo.issues.values() if _matches(repo, i, quals, words, assoc)]
    sort = req.arg("sort")
    attr = {"updated": "updated_at", "comments": "comments"}.get(sort or "", "created_at")
    found.sort(
        key=lambda p: (
            len(p[1].comments) if attr == "comments" else getattr(p[1], attr),
            p[1].number,
        ),
        reverse=req.arg("order", "desc") != "asc",
    )
    page = paginate(req, [req.hub.render.issue(r, i, listed=True) for r, i in found])
    for item in page.body:
        item["score"] = 1.0
        item["body"] = item["body"] or ""  # issue-search-result-item: body is a string
    page.body = {
        "total_count": len(found),
        "incomplete_results": False,
        "items": page.body,
    }
    return page
