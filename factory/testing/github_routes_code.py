"""Routes of the fake GitHub for git refs, branches, pull requests, reviews and merges."""

from __future__ import annotations

from urllib.parse import unquote

from factory.testing.github_http import Reply, Request, Router, paginate
from factory.testing.github_json_git import branch
from factory.testing.github_model import ApiError, PullRequest, not_found
from factory.testing.github_pulls import create_pull, create_review, merge_pull, pr_json, pull

router = Router()
_REFS_DOCS = "https://docs.github.com/rest/git/refs"


def _ref_reply(req: Request, ref: str) -> Reply:
    sha = req.repo.git.resolve(ref) if ref.startswith("refs/") else None
    pairs = dict(req.repo.git.refs(ref))
    if sha is None or ref not in pairs:
        raise not_found()
    return Reply(body=req.hub.render.ref(req.repo, ref, pairs[ref]))


def _listed(req: Request, prefix: str) -> Reply:
    refs = [
        req.hub.render.ref(req.repo, name, sha)
        for name, sha in req.repo.git.refs("refs/")
        if name.startswith(prefix) and name.startswith(("refs/heads/", "refs/tags/"))
    ]
    return paginate(req, refs)


@router.add("GET", "/git/ref/(?P<ref>.+)")
def get_ref(req: Request) -> Reply:
    """GET /git/ref/heads/x: one ref, 404 when absent."""
    return _ref_reply(req, f"refs/{unquote(req.params['ref'])}")


@router.add("GET", "/git/refs(?:/(?P<ref>.*))?")
def legacy_refs(req: Request) -> Reply:
    """GET /git/refs[/prefix]: the exact ref as an object, else the matching list."""
    ref = f"refs/{unquote(req.params.get('ref') or '')}".rstrip("/")
    if dict(req.repo.git.refs(ref)).get(ref):
        return _ref_reply(req, ref)
    return _listed(req, ref if ref != "refs" else "refs/")


@router.add("GET", "/git/matching-refs/(?P<ref>.*)")
def matching_refs(req: Request) -> Reply:
    """GET /git/matching-refs/heads/prefix: every ref starting with the prefix."""
    return _listed(req, f"refs/{unquote(req.params['ref'])}")


@router.add("POST", "/git/refs")
def create_ref(req: Request) -> Reply:
    """POST /git/refs {ref, sha}: 201; 422 "Reference already exists" when it does."""
    d = req.data()
    ref, sha = str(d.get("ref") or ""), str(d.get("sha") or "")
    if not ref.startswith("refs/") or ref.count("/") < 2:
        raise ApiError(
            422,
            "Reference name must start with 'refs/' and have at least two slashes.",
            documentation_url=f"{_REFS_DOCS}#create-a-reference",
        )
    if req.repo.git.object_type(sha) is None:
        raise ApiError(
            422, "Object does not exist", documentation_url=f"{_REFS_DOCS}#create-a-reference"
        )
    if not req.repo.git.create_ref(ref, sha):
        raise ApiError(
            422, "Reference already exists", documentation_url=f"{_REFS_DOCS}#create-a-reference"
        )
    body = req.hub.render.ref(req.repo, ref, sha)
    return Reply(201, body, {"location": body["url"]})


@router.add("PATCH", "/git/refs/(?P<ref>.+)")
def update_ref(req: Request) -> Reply:
    """PATCH /git/refs/heads/x {sha, force}: 422 when absent or not a fast forward."""
    ref = f"refs/{unquote(req.params['ref'])}"
    d = req.data()
    sha = str(d.get("sha") or "")
    old = dict(req.repo.git.refs(ref)).get(ref)
    docs = f"{_REFS_DOCS}#update-a-reference"
    if old is None:
        raise ApiError(422, "Reference does not exist", documentation_url=docs)
    if req.repo.git.object_type(sha) is None:
        raise ApiError(422, "Object does not exist", documentation_url=docs)
    if not d.get("force") and not req.repo.git.is_ancestor(old, sha):
        raise ApiError(422, "Update is not a fast forward", documentation_url=docs)
    if not req.repo.git.set_ref(ref, sha, old):
        raise ApiError(422, "Reference cannot be updated", documentation_url=docs)
    return Reply(body=req.hub.render.ref(req.repo, ref, sha))


@router.add("DELETE", "/git/refs/(?P<ref>.+)")
def delete_ref(req: Request) -> Reply:
    """DELETE /git/refs/heads/x: 204; 422 "Reference does not exist" when absent."""
    if not req.repo.git.delete_ref(f"refs/{unquote(req.params['ref'])}"):
        raise ApiError(
            422, "Reference does not exist", documentation_url=f"{_REFS_DOCS}#delete-a-reference"
        )
    return Reply(204)


@router.add("GET", "/branches/(?P<branch>.+)")
def get_branch(req: Request) -> Reply:
    """GET /branches/{name}: name, commit sha, protected."""
    name = unquote(req.params["branch"])
    sha = req.repo.git.resolve(f"refs/heads/{name}")
    if sha is None:
        raise ApiError(404, "Branch not found")
    return Reply(body=branch(req.hub.render, req.repo, name, sha))


# -- pull requests --------------------------------------------------------------


def _number(req: Request) -> int:
    return int(req.params["number"])


@router.add("GET", "/pulls")
def list_pulls(req: Request) -> Reply:
    """GET /pulls (state, head "owner:branch", base, sort, direction; paginated)."""
    state, head, base = req.arg("state", "open"), req.arg("head"), req.arg("base")
    out: list[PullRequest] = []
    for number in sorted(req.repo.pulls, reverse=req.arg("direction", "desc") != "asc"):
        pr = pull(req.hub, req.repo, number)
        issue = req.repo.issues[number]
        if state != "all" and issue.state != state:
            continue
        if head and f"{req.repo.owner}:{pr.head_ref}" != head and pr.head_ref != head:
            continue
        if base and pr.base_ref != base:
            continue
        out.append(pr)
    return paginate(req, [pr_json(req.hub, req.repo, pr) for pr in out])


@router.add("POST", "/pulls")
def open_pull(req: Request) -> Reply:
    """POST /pulls {title, head, base, body, draft}: 201; 422 when the head is missing."""
    pr = create_pull(req.hub, req.repo, req.login, req.data())
    body = pr_json(req.hub, req.repo, pr)
    return Reply(201, body, {"location": body["url"]})


@router.add("GET", r"/pulls/(?P<number>\d+)")
def get_pull(req: Request) -> Reply:
    """GET /pulls/{n}; with a ``diff``/``patch`` Accept media type, the real git diff."""
    pr = pull(req.hub, req.repo, _number(req))
    accept = req.headers.get("accept", "")
    if "diff" in accept or "patch" in accept:
        text = req.repo.git.diff(f"refs/heads/{pr.base_ref}", pr.head_sha)
        return Reply(body=text, content_type="text/plain; charset=utf-8")
    return Reply(body=pr_json(req.hub, req.repo, pr))


@router.add("PATCH", r"/pulls/(?P<number>\d+)")
def update_pull(req: Request) -> Reply:
    """PATCH /pulls/{n} (title, body, state, base)."""
    number = _number(req)
    pr = pull(req.hub, req.repo, number)
    d = req.data()
    if d.get("base"):
        pr.base_ref = str(d["base"])
    req.hub.update_issue(
        req.repo, number, req.login, {k: v for k, v in d.items() if k in ("title", "body", "state")}
    )
    return Reply(body=pr_json(req.hub, req.repo, pr))


@router.add("GET", r"/pulls/(?P<number>\d+)/files")
def pull_files(req: Request) -> Reply:
    """GET /pulls/{n}/files: per-file status and line counts from ``git diff``."""
    pr = pull(req.hub, req.repo, _number(req))
    base = f"refs/heads/{pr.base_ref}"
    api = req.hub.render.repo_url(req.repo)
    items = []
    for st in req.repo.git.file_stats(base, pr.head_sha):
        patch = req.repo.git.git("diff", "--no-color", f"{base}...{pr.head_sha}", "--", st.filename)
        item = {
            "sha": req.repo.git.git("rev-parse", f"{pr.head_sha}:{st.filename}", check=False)
            or "0" * 40,
            "filename": st.filename,
            "status": st.status,
            "additions": st.additions,
            "deletions": st.deletions,
            "changes": st.additions + st.deletions,
            "blob_url": f"https://github.com/{req.repo.full_name}/blob/{pr.head_sha}/{st.filename}",
            "raw_url": f"https://github.com/{req.repo.full_name}/raw/{pr.head_sha}/{st.filename}",
            "contents_url": f"{api}/contents/{st.filename}?ref={pr.head_sha}",
            "patch": patch[patch.find("@@") :] if "@@" in patch else "",
        }
        if st.previous_filename:
            item["previous_filename"] = st.previous_filename
        items.append(item)
    return paginate(req, items)


@router.add("GET", r"/pulls/(?P<number>\d+)/reviews")
def list_reviews(req: Request) -> Reply:
    """GET /pulls/{n}/reviews, oldest first."""
    pr = pull(req.hub, req.repo, _number(req))
    return paginate(req, [req.hub.render.review(req.repo, r) for r in pr.reviews])


@router.add("POST", r"/pulls/(?P<number>\d+)/reviews")
def submit_review(req: Request) -> Reply:
    """POST /pulls/{n}/reviews {event, body}: 200 with the review."""
    review = create_review(req.hub, req.repo, _number(req), req.login, req.data())
    return Reply(body=req.hub.render.review(req.repo, review))


@router.add("PUT", r"/pulls/(?P<number>\d+)/merge")
def merge(req: Request) -> Reply:
    """PUT /pulls/{n}/merge: 200 merged; 405 not mergeable; 409 head sha mismatch."""
    return Reply(body=merge_pull(req.hub, req.repo, _number(req), req.login, req.data()))


@router.add("GET", r"/pulls/(?P<number>\d+)/merge")
def is_merged(req: Request) -> Reply:
    """GET /pulls/{n}/merge: 204 when merged, 404 otherwise."""
    if not pull(req.hub, req.repo, _number(req)).merged:
        raise not_found()
    return Reply(204)


@router.add("GET", "/commits/(?P<sha>[^/]+)/pulls")
def commit_pulls(req: Request) -> Reply:
    """GET /commits/{sha}/pulls: the merged pull request that brought the commit in (its
    merge commit or head), else the open ones whose head it is; 422 for an unknown commit."""
    sha = req.repo.git.resolve(req.params["sha"])
    if sha is None:
        raise ApiError(422, f"No commit found for SHA: {req.params['sha']}")
    merged, open_ = [], []
    for number in sorted(req.repo.pulls, reverse=True):
        pr = pull(req.hub, req.repo, number)
        if pr.merged and sha in (pr.merge_commit_sha, pr.head_sha):
            merged.append(pr)
        elif not pr.merged and req.repo.issues[number].state == "open" and pr.head_sha == sha:
            open_.append(pr)
    return paginate(req, [pr_json(req.hub, req.repo, pr) for pr in merged or open_])
