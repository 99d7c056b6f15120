"""Which owners must approve a change to the pins file, and whether they have. Pure.

Owners as they stand on the base branch decide: a pull request cannot make its author
(or a friend) an owner and have that count for the same change. A model new in the
pull request, and changes outside `models` (deployments, environments, gates defaults,
owners), need the file-level owners of the base branch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from modelpins.github_api import Review
from modelpins.pins import PinsFile


@dataclass(frozen=True)
class Approval:
    """Whether one changed model (or the file as a whole) has an owner's approval."""

    subject: str  # a model name, or the pins file for changes outside `models`
    owners: tuple[str, ...]
    approved_by: tuple[str, ...]
    unknown: tuple[str, ...] = ()  # team owners whose membership could not be read

    @property
    def ok(self) -> bool:
        return bool(self.approved_by) or not self.owners


# (org, team, login) -> member?; None when membership cannot be read
TeamLookup = Callable[[str, str, str], "bool | None"]


def requirements(
    base: PinsFile | None, head: PinsFile, file_label: str = "model_pins.yaml"
) -> dict[str, tuple[str, ...]]:
    """{changed model (or the file): owners, one of whom must approve}."""
    base_models = base.models if base else {}
    base_file_owners = base.owners if base else head.owners
    out: dict[str, tuple[str, ...]] = {}
    names = [*head.models, *(n for n in base_models if n not in head.models)]
    for name in names:
        before, after = base_models.get(name), head.models.get(name)
        if before == after:
            continue
        if before is not None:
            out[name] = before.owners or base_file_owners
        else:
            assert after is not None
            out[name] = base_file_owners or after.owners
    out.update(_environment_requirements(base, head, base_file_owners))
    if base is None or _rest(base) != _rest(head):
        out[file_label] = base_file_owners
    return out


def _environment_requirements(
    base: PinsFile | None, head: PinsFile, file_owners: tuple[str, ...]
) -> dict[str, tuple[str, ...]]:
    """A change to a model's pins in an environment (a copy `promote_from` included) needs that
    environment's reviewers, as they stand on the base branch, on top of the model's owners."""
    out: dict[str, tuple[str, ...]] = {}
    envs = base.environments if base else {}
    for name in dict.fromkeys([*head.models, *(base.models if base else {})]):
        before = base.models[name].environments if base and name in base.models else {}
        after = head.models[name].environments if name in head.models else {}
        for env in dict.fromkeys([*after, *before]):
            if before.get(env) != after.get(env):
                owners = envs[env].owners if env in envs else ()
                out[f"{name} in {env}"] = owners or file_owners
    return out


def _rest(p: PinsFile) -> tuple[object, ...]:
    return (p.owners, p.defaults, p.environments, p.deployments, p.images, p.promotion)


def approvers(reviews: Iterable[Review], head_sha: str | None = None) -> list[str]:
    """Logins (lower case) whose latest decisive review approves (the head commit, when given)."""
    latest: dict[str, Review] = {}
    for r in reviews:
        if r.state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED") and r.login:
            latest[r.login.lower()] = r
    return [login for login, r in latest.items() if r.state == "APPROVED" and (not head_sha or r.commit_id == head_sha)]


def check(
    required: dict[str, tuple[str, ...]], logins: list[str], team_member: TeamLookup | None = None
) -> list[Approval]:
    """One Approval per subject. @user owners match logins; @org/team owners ask `team_member`."""
    cache: dict[tuple[str, str, str], bool | None] = {}

    def member(org: str, team: str, login: str) -> bool | None:
        key = (org.lower(), team.lower(), login)
        if key not in cache:
            cache[key] = team_member(org, team, login) if team_member else None
        return cache[key]

    results = []
    for subject, owners in required.items():
        approved: list[str] = []
        unknown: list[str] = []
        for owner in owners:
            if not owner.startswith("@"):
                continue  # an e-mail owner cannot be matched to a GitHub login
            name = owner[1:]
            if "/" not in name:
                approved += [x for x in logins if x == name.lower() and x not in approved]
                continue
            org, _, team = name.partition("/")
            for login in logins:
                found = member(org, team, login)
                if found and login not in approved:
                    approved.append(login)
                elif found is None and owner not in unknown:
                    unknown.append(owner)
        results.append(Approval(subject, owners, tuple(approved), tuple(unknown)))
    return results
