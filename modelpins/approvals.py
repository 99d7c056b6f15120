"""Which owners must approve a change to the pins file, and whether they have. Pure.

Owners as they stand on the base branch decide: a pull request cannot make its author
(or a friend) an owner and have that count for the same change. A model new in the
pull request, and changes outside `models` (deployments, environments, gates defaults,
owners), need the file-level owners of the base branch.

No owners, no pass: a change to a model with no owners (and no file-level owners) is never
approved. The one way out is a change that only adds the first owners where the base has
none: it needs an approving review of anyone (`FIRST_OWNERS`), besides GitHub's own rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from modelpins.github_api import Review
from modelpins.pins import PinsFile

# The owners of a change that only adds the first owners where the base branch has none:
# any approving review counts (there is no owner yet who could give one).
FIRST_OWNERS = "(any reviewer: the change adds the first owners)"


@dataclass(frozen=True)
class Approval:
    """Whether one changed model (or the file as a whole) has an owner's approval."""

    subject: str  # a model name, or the pins file for changes outside `models`
    owners: tuple[str, ...]
    approved_by: tuple[str, ...]
    unknown: tuple[str, ...] = ()  # team owners whose membership could not be read

    @property
    def ok(self) -> bool:
        """Approved by one of the owners; a subject without owners is never approved."""
        return bool(self.approved_by) and bool(self.owners)


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
            owners = before.owners or base_file_owners
            if not owners and after is not None and replace(after, owners=()) == before:
                owners = (FIRST_OWNERS,)  # only adds the model's first owners
            out[name] = owners
        else:
            assert after is not None
            out[name] = base_file_owners or ((FIRST_OWNERS,) if after.owners else ())
    out.update(_environment_requirements(base, head, base_file_owners))
    if base is None or _rest(base) != _rest(head):
        adds_first = base is not None and not base.owners and _rest(replace(head, owners=())) == _rest(base)
        out[file_label] = (FIRST_OWNERS,) if adds_first else base_file_owners
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


def _latest(reviews: Iterable[Review]) -> dict[str, Review]:
    """Each login's (lower case) latest decisive review: approved, changes requested or dismissed."""
    latest: dict[str, Review] = {}
    for r in reviews:
        if r.state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED") and r.login:
            latest[r.login.lower()] = r
    return latest


def approvers(reviews: Iterable[Review], head_sha: str | None = None) -> list[str]:
    """Logins (lower case) whose latest decisive review approves (the head commit, when given)."""
    return [
        login
        for login, r in _latest(reviews).items()
        if r.state == "APPROVED" and (not head_sha or r.commit_id == head_sha)
    ]


def requesting_changes(reviews: Iterable[Review]) -> list[str]:
    """Logins (lower case) whose latest decisive review requests changes."""
    return [login for login, r in _latest(reviews).items() if r.state == "CHANGES_REQUESTED"]


def missing_message(missing: list[Approval], pins_path: str = "model_pins.yaml") -> str:
    """Why approvals fail: the changes without an owner's approval, and those without any owner."""
    n = len(missing)
    out = f"{n} change{'s' if n != 1 else ''} without an owner's approval: " + ", ".join(
        f"{a.subject} (needs one of {' '.join(a.owners)})" if a.owners else f"{a.subject} (has no owners)"
        for a in missing
    )
    if orphans := [a.subject for a in missing if not a.owners]:
        out += (
            f"\nNo owners, no pass: {', '.join(orphans)} {'has' if len(orphans) == 1 else 'have'} no owners, "
            f'so no review can approve {"it" if len(orphans) == 1 else "them"}. Add `owners: ["@org/team"]` '
            f"to the model (or file-level `owners:`) in {pins_path}, in a pull request of its own that changes "
            "nothing else: any approving review passes that one."
        )
    return out


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
            found, unreadable = _approving(owner, logins, member)
            approved += [x for x in found if x not in approved]
            unknown += [owner] if unreadable and owner not in unknown else []
        results.append(Approval(subject, owners, tuple(approved), tuple(unknown)))
    return results


def _approving(owner: str, logins: list[str], member: TeamLookup) -> tuple[list[str], bool]:
    """(the logins that approve for `owner`, whether a team membership could not be read)."""
    if owner == FIRST_OWNERS:
        return list(logins), False
    if not owner.startswith("@"):
        return [], False  # an e-mail owner cannot be matched to a GitHub login
    name = owner[1:]
    if "/" not in name:
        return [x for x in logins if x == name.lower()], False
    org, _, team = name.partition("/")
    found = {login: member(org, team, login) for login in logins}
    return [x for x, ok in found.items() if ok], any(ok is None for ok in found.values())
