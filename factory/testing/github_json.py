"""JSON shapes of the fake GitHub's objects, keyed like the recorded real responses."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from factory.testing.github_git import GitCommandError
from factory.testing.github_model import (
    REPO_URL_KEYS,
    Comment,
    Issue,
    IssueEvent,
    Label,
    PullRequest,
    Repo,
    Review,
    User,
    association,
)

JSON = dict[str, Any]
HTML = "https://github.com"
_NODE = "MDA6RW50aXR5MQ=="
_REACTIONS = ("+1", "-1", "laugh", "hooray", "confused", "heart", "rocket", "eyes")


class Renderer:
    """Turns state objects into GitHub-shaped dicts, with URLs under the fake's ``api``."""

    def __init__(self, api: str, users: dict[str, User]) -> None:
        self.api = api
        self.users = users

    def user(self, login: str | None) -> JSON | None:
        """Return the ``simple-user`` object for ``login`` (None for None)."""
        if login is None:
            return None
        known = self.users.get(login)
        uid = known.id if known else 1000
        kind = known.type if known else ("Bot" if login.endswith("[bot]") else "User")
        u = f"{self.api}/users/{quote(login)}"
        return {
            "login": login,
            "id": uid,
            "node_id": _NODE,
            "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4",
            "gravatar_id": "",
            "url": u,
            "html_url": f"{HTML}/{login}",
            "followers_url": f"{u}/followers",
            "following_url": f"{u}/following{{/other_user}}",
            "gists_url": f"{u}/gists{{/gist_id}}",
            "starred_url": f"{u}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{u}/subscriptions",
            "organizations_url": f"{u}/orgs",
            "repos_url": f"{u}/repos",
            "events_url": f"{u}/events{{/privacy}}",
            "received_events_url": f"{u}/received_events",
            "type": kind,
            "site_admin": False,
        }

    def repo_url(self, repo: Repo) -> str:
        """Return the API URL of ``repo``."""
        return f"{self.api}/repos/{repo.full_name}"

    def repo(
        self, repo: Repo, viewer: User | None = None, minimal: bool = False, full: bool = False
    ) -> JSON:
        """Return the repository object embedded in others, or the minimal one.

        ``full`` adds what only ``GET /repos/{o}/{r}`` answers (organization, counts).
        """
        r = self.repo_url(repo)
        owner = self.user(repo.owner)
        assert owner is not None
        owner["type"] = "Organization" if repo.owner not in self.users else owner["type"]
        perm = viewer.permission if viewer else "read"
        level = ["none", "read", "triage", "write", "maintain", "admin"].index(perm)
        open_count = sum(1 for i in repo.issues.values() if i.state == "open")
        body: JSON = {
            "id": repo.id,
            "node_id": _NODE,
            "name": repo.name,
            "full_name": repo.full_name,
            "private": False,
            "owner": owner,
            "html_url": f"{HTML}/{repo.full_name}",
            "description": None,
            "fork": False,
            "url": r,
        }
        for key in REPO_URL_KEYS:
            body[f"{key}_url"] = (
                f"{r}/{key.replace('_', '/', 1) if key.startswith('git_') else key}"
            )
        if minimal:
            return body
        body.update(
            {
                "created_at": repo.created_at,
                "updated_at": repo.created_at,
                "pushed_at": repo.created_at,
                "git_url": f"git://github.com/{repo.full_name}.git",
                "ssh_url": f"git@github.com:{repo.full_name}.git",
                "clone_url": repo.git.path.as_uri(),
                "svn_url": f"{HTML}/{repo.full_name}",
                "homepage": None,
                "size": 0,
                "stargazers_count": 0,
                "watchers_count": 0,
                "language": None,
                "has_issues": True,
                "has_projects": True,
                "has_downloads": True,
                "has_wiki": True,
                "has_pages": False,
                "has_discussions": False,
                "forks_count": 0,
                "mirror_url": None,
                "archived": False,
                "disabled": False,
                "open_issues_count": open_count,
                "license": None,
                "allow_forking": True,
                "is_template": False,
                "web_commit_signoff_required": False,
                "topics": [],
                "visibility": "public",
                "forks": 0,
                "open_issues": open_count,
                "watchers": 0,
                "default_branch": repo.default_branch,
                "permissions": {
                    "admin": level >= 5,
                    "maintain": level >= 4,
                    "push": level >= 3,
                    "triage": level >= 2,
                    "pull": level >= 1,
                },
                "temp_clone_token": "",
                "allow_squash_merge": True,
                "allow_merge_commit": True,
                "allow_rebase_merge": False,
                "allow_auto_merge": False,
                "delete_branch_on_merge": False,
                "allow_update_branch": False,
                "use_squash_pr_title_as_default": False,
            }
        )
        if full:
            body["organization"] = owner if owner["type"] == "Organization" else None
            body["network_count"] = body["subscribers_count"] = 0
            # Kept to the recorded real answer (tests/data/github-api/get-repository.json),
            # which predates has_discussions; see tests/testing/openapi.py RECORDED.
            del body["has_discussions"]
        return body

    def label(self, repo: Repo, label: Label) -> JSON:
        """Return a label object."""
        return {
            "id": label.id,
            "node_id": _NODE,
            "url": f"{self.repo_url(repo)}/labels/{quote(label.name)}",
            "name": label.name,
            "color": label.color,
            "default": label.default,
            "description": label.description,
        }

    def issue(self, repo: Repo, issue: Issue, listed: bool = False) -> JSON:
        """Return an issue object (PRs carry ``pull_request``; list items lack ``closed_by``)."""
        r = self.repo_url(repo)
        i = f"{r}/issues/{issue.number}"
        labels = [self.label(repo, lab) for n in issue.labels if (lab := repo.label(n))]
        body: JSON = {
            "url": i,
            "repository_url": r,
            "labels_url": f"{i}/labels{{/name}}",
            "comments_url": f"{i}/comments",
            "events_url": f"{i}/events",
            "html_url": f"{HTML}/{repo.full_name}/{'pull' if issue.is_pr else 'issues'}/"
            f"{issue.number}",
            "id": issue.id,
            "node_id": _NODE,
            "number": issue.number,
            "title": issue.title,
            "user": self.user(issue.user),
            "labels": labels,
            "state": issue.state,
            "locked": issue.locked,
            "assignee": self.user(issue.assignees[0]) if issue.assignees else None,
            "assignees": [self.user(a) for a in issue.assignees],
            "milestone": None,
            "comments": len(issue.comments),
            "created_at": issue.created_at,
            "updated_at": issue.updated_at,
            "closed_at": issue.closed_at,
            "author_association": association(repo, self.users.get(issue.user)),
            "active_lock_reason": None,
            "body": issue.body,
            "reactions": self.reactions(i),
            "timeline_url": f"{i}/timeline",
            "performed_via_github_app": None,
            "state_reason": issue.state_reason,
        }
        if issue.is_pr:
            pr = repo.pulls[issue.number]
            body["pull_request"] = {
                "url": f"{r}/pulls/{issue.number}",
                "html_url": f"{HTML}/{repo.full_name}/pull/{issue.number}",
                "diff_url": f"{HTML}/{repo.full_name}/pull/{issue.number}.diff",
                "patch_url": f"{HTML}/{repo.full_name}/pull/{issue.number}.patch",
                "merged_at": pr.merged_at,
            }
        if not listed:
            body["closed_by"] = self.user(issue.closed_by) if issue.state == "closed" else None
        return body

    def reactions(self, url: str) -> JSON:
        """Return an empty reactions summary for the object at ``url``."""
        return {"url": f"{url}/reactions", "total_count": 0, **dict.fromkeys(_REACTIONS, 0)}

    def comment(self, repo: Repo, comment: Comment) -> JSON:
        """Return an issue comment object."""
        r = self.repo_url(repo)
        url = f"{r}/issues/comments/{comment.id}"
        return {
            "url": url,
            "html_url": f"{HTML}/{repo.full_name}/issues/{comment.issue_number}"
            f"#issuecomment-{comment.id}",
            "issue_url": f"{r}/issues/{comment.issue_number}",
            "id": comment.id,
            "node_id": _NODE,
            "user": self.user(comment.user),
            "created_at": comment.created_at,
            "updated_at": comment.updated_at,
            "author_association": association(repo, self.users.get(comment.user)),
            "body": comment.body,
            "reactions": self.reactions(url),
            "performed_via_github_app": None,
        }

    def event(self, repo: Repo, event: IssueEvent) -> JSON:
        """Return an issue event object (``GET /issues/N/events``)."""
        body: JSON = {
            "id": event.id,
            "node_id": _NODE,
            "url": f"{self.repo_url(repo)}/issues/events/{event.id}",
            "actor": self.user(event.actor),
            "event": event.event,
            "commit_id": event.commit_id,
            "commit_url": None,
            "created_at": event.created_at,
            "performed_via_github_app": None,
        }
        if event.label is not None:
            body["label"] = {"name": event.label.name, "color": event.label.color}
        return body

    def ref(self, repo: Repo, ref: str, sha: str) -> JSON:
        """Return a git reference object."""
        r = self.repo_url(repo)
        kind = repo.git.object_type(sha) or "commit"
        return {
            "ref": ref,
            "node_id": _NODE,
            "url": f"{r}/git/{ref}",
            "object": {"sha": sha, "type": kind, "url": f"{r}/git/{kind}s/{sha}"},
        }

    def branch_side(self, repo: Repo, ref: str, sha: str) -> JSON:
        """Return the ``head``/``base`` object of a pull request."""
        return {
            "label": f"{repo.owner}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": self.user(repo.owner),
            "repo": self.repo(repo),
        }

    def fork_side(self, repo: Repo, pr: PullRequest) -> JSON:
        """Return the ``head`` object of a pull request from a fork (``pr.head_fork``)."""
        side = self.branch_side(repo, pr.head_ref, pr.head_sha)
        owner, _, name = str(pr.head_fork).partition("/")
        fork = {**side["repo"], "name": name, "full_name": pr.head_fork, "fork": True}
        fork["owner"] = self.user(owner)
        return {**side, "label": f"{owner}:{pr.head_ref}", "user": self.user(owner), "repo": fork}

    def pull(self, repo: Repo, pr: PullRequest, mergeable: bool | None) -> JSON:
        """Return a full pull request object."""
        issue = repo.issues[pr.number]
        r = self.repo_url(repo)
        p = f"{r}/pulls/{pr.number}"
        base_sha = repo.git.resolve(f"refs/heads/{pr.base_ref}") or ""
        try:
            stats = repo.git.file_stats(f"refs/heads/{pr.base_ref}", pr.head_sha)
        except GitCommandError:  # unrelated histories: no merge base to diff from
            stats = []
        commits = repo.git.git("rev-list", "--count", f"refs/heads/{pr.base_ref}..{pr.head_sha}")
        body = self.issue(repo, issue)
        body.pop("pull_request", None)
        body.pop("closed_by", None)
        body.update(
            {
                "url": p,
                "id": pr.id,
                "diff_url": f"{HTML}/{repo.full_name}/pull/{pr.number}.diff",
                "patch_url": f"{HTML}/{repo.full_name}/pull/{pr.number}.patch",
                "issue_url": f"{r}/issues/{pr.number}",
                "commits_url": f"{p}/commits",
                "review_comments_url": f"{p}/comments",
                "review_comment_url": f"{r}/pulls/comments{{/number}}",
                "comments_url": f"{r}/issues/{pr.number}/comments",
                "statuses_url": f"{r}/statuses/{pr.head_sha}",
                "merged_at": pr.merged_at,
                "merge_commit_sha": pr.merge_commit_sha,
                "draft": pr.draft,
                "head": self.fork_side(repo, pr)
                if pr.head_fork
                else self.branch_side(repo, pr.head_ref, pr.head_sha),
                "base": self.branch_side(repo, pr.base_ref, base_sha),
                "merged": pr.merged,
                "mergeable": mergeable,
                "mergeable_state": "clean"
                if mergeable
                else ("dirty" if mergeable is False else "unknown"),
                "merged_by": self.user(pr.merged_by),
                "requested_reviewers": [],
                "requested_teams": [],
                "auto_merge": None,
                "rebaseable": False,
                "maintainer_can_modify": False,
                "review_comments": 0,
                "commits": int(commits or 0),
                "additions": sum(st.additions for st in stats),
                "deletions": sum(st.deletions for st in stats),
                "changed_files": len(stats),
                "_links": self._pull_links(repo, pr),
            }
        )
        for key in (
            "labels_url",
            "events_url",
            "repository_url",
            "timeline_url",
            "reactions",
            "performed_via_github_app",
            "state_reason",
        ):
            body.pop(key, None)
        return body

    def _pull_links(self, repo: Repo, pr: PullRequest) -> JSON:
        r = self.repo_url(repo)
        hrefs = {
            "self": f"{r}/pulls/{pr.number}",
            "html": f"{HTML}/{repo.full_name}/pull/{pr.number}",
            "issue": f"{r}/issues/{pr.number}",
            "comments": f"{r}/issues/{pr.number}/comments",
            "review_comments": f"{r}/pulls/{pr.number}/comments",
            "review_comment": f"{r}/pulls/comments{{/number}}",
            "commits": f"{r}/pulls/{pr.number}/commits",
            "statuses": f"{r}/statuses/{pr.head_sha}",
        }
        return {k: {"href": v} for k, v in hrefs.items()}

    def review(self, repo: Repo, review: Review) -> JSON:
        """Return a pull request review object."""
        html = f"{HTML}/{repo.full_name}/pull/{review.pr_number}#pullrequestreview-{review.id}"
        pull_url = f"{self.repo_url(repo)}/pulls/{review.pr_number}"
        return {
            "id": review.id,
            "node_id": _NODE,
            "user": self.user(review.user),
            "body": review.body,
            "state": review.state,
            "html_url": html,
            "pull_request_url": pull_url,
            "author_association": association(repo, self.users.get(review.user)),
            "submitted_at": review.submitted_at,
            "commit_id": review.commit_id,
            "_links": {"html": {"href": html}, "pull_request": {"href": pull_url}},
        }
