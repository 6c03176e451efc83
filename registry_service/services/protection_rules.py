"""A project's protection rules: managing them (``/registry/protection/{tag,repository}/rules``)
and loading them for the checks of ``services/protection.py``.

Managing needs Maintainer+ (``admin_container_image``), in GitLab's order: the project
(404), then the role (403), then the rule within the project (404 Not found). A rule the project
cannot have is 422 ``{"message": {"error": …}}`` with GitLab's wording where it has one.
Immutable tag rules are created and deleted, never updated.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from jobs.cleanup import RegexInvalid
from registry_service.catalog import members as member_rows
from registry_service.catalog import projects as project_rows
from registry_service.catalog import protection_rules as rule_rows
from registry_service.catalog import repositories as repository_rows
from registry_service.catalog import tags as tag_rows
from registry_service.catalog.errors import UniqueViolated
from registry_service.catalog.protection_rules import RepositoryRuleRow, TagRuleRow
from registry_service.catalog.protocols import CatalogBackend, Reader
from registry_service.catalog.rows import Project
from registry_service.errors import Forbidden, ProtectionRuleInvalid, RecordNotFound
from registry_service.services import projects
from registry_service.services.permissions import Ability, AccessLevel, Actor
from registry_service.services.projects import ProjectAccess
from registry_service.services.protection import (
    MAX_TAG_PATTERN_LENGTH,
    MAX_TAG_RULES_PER_PROJECT,
    Protection,
    RepositoryProtection,
    RepositoryRule,
    TagProtection,
    TagRule,
    actor_level,
    repository_pattern_regex,
)
from registry_service.services.users import require_signed_in

MAX_REPOSITORY_PATTERN_LENGTH = 255
TAG_PATTERN_TAKEN = "Tag name pattern has already been taken"
REPOSITORY_PATTERN_TAKEN = "Repository path pattern has already been taken"
TOO_MANY_RULES = "Maximum number of protection rules have been reached."
IMMUTABLE_NOT_UPDATED = "Immutable tag rules cannot be updated; delete the rule and create another"
IMMUTABLE_NEEDS_OWNER = (
    "Unauthorized to create an immutable protection rule for container image tags"
)
KIND_FIXED = (
    "A protected tag rule keeps both access levels and cannot be made immutable; delete the rule"
    " and create another"
)
REPOSITORY_LEVEL_NEEDED = (
    "A rule must have at least a minimum access role for push or delete."
)


@dataclass(frozen=True)
class TagRuleChange:
    """What a PATCH sends; ``None`` leaves a field as it is."""

    tag_name_pattern: str | None = None
    push_level: int | None = None
    delete_level: int | None = None
    # Sent at all: a rule's kind is fixed at creation, so is its having both levels.
    immutable: bool | None = None
    clears_level: bool = False


@dataclass(frozen=True)
class RepositoryRuleChange:
    """What a PATCH sends: a level sent as null clears it, one not sent keeps it."""

    repository_path_pattern: str | None = None
    push_level: int | None = None
    delete_level: int | None = None
    clears_push: bool = False
    clears_delete: bool = False


async def load_protection(db: Reader, project_id: int) -> Protection:
    """Both kinds of rule of a project, compiled: two indexed reads."""
    tag_rules = await rule_rows.select_tag_rules(db, project_id)
    repository_rules = await rule_rows.select_repository_rules(db, project_id)
    if not tag_rules and not repository_rules:
        return Protection()
    return Protection(
        TagProtection(tuple(_tag_rule(row) for row in tag_rules)),
        RepositoryProtection(tuple(_repository_rule(row) for row in repository_rules)),
    )


async def load_tag_protection(db: Reader, project_id: int) -> TagProtection:
    return TagProtection(
        tuple(_tag_rule(row) for row in await rule_rows.select_tag_rules(db, project_id))
    )


def _tag_rule(row: TagRuleRow) -> TagRule:
    return TagRule.build(
        row.id, row.tag_name_pattern, row.push_level, row.delete_level, row.immutable
    )


def _repository_rule(row: RepositoryRuleRow) -> RepositoryRule:
    return RepositoryRule.build(
        row.id, row.repository_path_pattern, row.push_level, row.delete_level
    )


async def level_on(catalog: CatalogBackend, actor: Actor, project_id: int) -> int:
    """The actor's level as rules see it (``ADMIN`` for an administrator)."""
    if actor.is_admin:
        return actor_level(0, is_admin=True)
    return int(await projects.project_level(catalog, actor, project_id))


@dataclass(frozen=True)
class Guard:
    """One project's rules and one actor's level, for the checks of one request on the image
    at ``path``; each check raises ``403`` with the reason naming the rule."""

    protection: Protection
    level: int
    path: str

    @property
    def tags(self) -> TagProtection:
        return self.protection.tags

    def require_repository(self, action: str) -> None:
        self._refuse(self.protection.repositories.refusal(self.path, action, self.level))

    def require_tag_push(self, tag: str, *, current: str | None, pushed: str) -> None:
        self._refuse(self.tags.push_refusal(tag, self.level, current=current, pushed=pushed))

    def require_tag_delete(self, tag: str) -> None:
        self._refuse(self.tags.delete_refusal(tag, self.level))

    def require_repository_deletion(self, tags: Iterable[str]) -> None:
        self.require_repository("delete")
        self._refuse(self.tags.repository_deletion_refusal(tags, self.level))

    def _refuse(self, reason: str | None) -> None:
        if reason is not None:
            raise Forbidden(reason, detail={"name": self.path})


async def guard_for(catalog: CatalogBackend, actor: Actor, project_id: int, path: str) -> Guard:
    """The guard of image ``path`` in project ``project_id`` for ``actor``: the rules in two
    reads, the actor's role in a third only when there is a rule to compare it with."""
    protection = await load_protection(catalog.reader, project_id)
    level = await level_on(catalog, actor, project_id) if protection else 0
    return Guard(protection, level, path)


async def guard_at_level(catalog: CatalogBackend, project_id: int, level: int, path: str) -> Guard:
    """The guard of image ``path`` for a caller whose rules level is already known (a registry
    token carries the one its holder had when it was issued)."""
    return Guard(await load_protection(catalog.reader, project_id), level, path)


async def require_repositories_deletable(
    db: Reader, actor: Actor, repository_ids: Sequence[int]
) -> None:
    """403 unless the rules let ``actor`` delete every one of these repositories: each one's
    repository rules (delete level), and no tag under an immutable rule (anyone) or a
    protected one (anyone but an administrator) — GitLab's rule for deleting a container
    repository. Reads through ``db``, the caller's transaction, so nothing changes between
    this check and the deletion marks."""
    guards: dict[int, tuple[Project, Protection, int]] = {}
    for repository_id in repository_ids:
        repository = await repository_rows.select_repository_by_id(db, repository_id)
        if repository is None:
            continue
        if repository.project_id not in guards:
            project = await project_rows.select_project_by_id(db, repository.project_id)
            if project is None:
                continue
            protection = await load_protection(db, project.id)
            level = 0
            if actor.is_admin:
                level = actor_level(0, is_admin=True)
            elif protection and actor.user_id is not None:
                level = await member_rows.select_project_level(db, actor.user_id, project.id)
            guards[project.id] = (project, protection, level)
        project, protection, level = guards[repository.project_id]
        if not protection:
            continue
        # Every tag, maybe 100,000: read only when there are tag rules to hold them against.
        names = (
            await tag_rows.select_tag_names(db, repository.id, after=None, limit=-1)
            if protection.tags
            else []
        )
        path = project.full_path.lower() + (f"/{repository.name}" if repository.name else "")
        Guard(protection, level, path).require_repository_deletion(names)


async def _managed_project(catalog: CatalogBackend, actor: Actor, ref: str) -> ProjectAccess:
    require_signed_in(actor)
    access = await projects.find_project(catalog, actor, ref)
    projects.require(access, actor, Ability.ADMIN_CONTAINER_IMAGE)
    return access


# --- tag rules ------------------------------------------------------------------------------


def _tag_pattern_problem(pattern: str) -> str | None:
    """The model's message for a pattern no rule may have."""
    if not pattern.strip():
        return "Tag name pattern can't be blank"
    if len(pattern) > MAX_TAG_PATTERN_LENGTH:
        return f"Tag name pattern is too long (maximum is {MAX_TAG_PATTERN_LENGTH} characters)"
    try:
        TagRule.build(0, pattern, None, None, False)
    except RegexInvalid as exc:
        return f"Tag name pattern not valid RE2 syntax: {exc.reason}"
    return None


async def list_tag_rules(catalog: CatalogBackend, actor: Actor, ref: str) -> list[TagRuleRow]:
    access = await _managed_project(catalog, actor, ref)
    return await rule_rows.select_tag_rules(catalog.reader, access.project.id)


async def create_tag_rule(
    catalog: CatalogBackend,
    actor: Actor,
    ref: str,
    *,
    pattern: str,
    push_level: int | None,
    delete_level: int | None,
    immutable: bool,
    now: datetime,
) -> TagRuleRow:
    """A new rule; at most ``MAX_TAG_RULES_PER_PROJECT`` per project, of both kinds together."""
    access = await _managed_project(catalog, actor, ref)
    project_id = access.project.id
    if immutable and not _owner_or_admin(actor, access):
        raise ProtectionRuleInvalid(IMMUTABLE_NEEDS_OWNER, message=IMMUTABLE_NEEDS_OWNER)
    # GitLab answers this endpoint's errors unwrapped: the limit as text, the model's
    # validation messages as a list.
    async with catalog.transaction() as tx:
        if await rule_rows.count_tag_rules(tx, project_id) >= MAX_TAG_RULES_PER_PROJECT:
            raise ProtectionRuleInvalid(TOO_MANY_RULES, message=TOO_MANY_RULES)
        problem = _tag_pattern_problem(pattern)
        if problem is not None:
            raise ProtectionRuleInvalid(problem, message=[problem])
        try:
            rule_id = await rule_rows.insert_tag_rule(
                tx, project_id, pattern, push_level, delete_level, immutable, now
            )
        except UniqueViolated:
            raise ProtectionRuleInvalid(TAG_PATTERN_TAKEN, message=[TAG_PATTERN_TAKEN]) from None
        created = await rule_rows.select_tag_rule(tx, project_id, rule_id)
    assert created is not None
    return created


async def update_tag_rule(
    catalog: CatalogBackend, actor: Actor, ref: str, rule_id: int, change: TagRuleChange
) -> TagRuleRow:
    access = await _managed_project(catalog, actor, ref)
    project_id = access.project.id
    async with catalog.transaction() as tx:
        rule = await rule_rows.select_tag_rule(tx, project_id, rule_id)
        if rule is None:
            raise RecordNotFound()
        if rule.immutable:
            raise ProtectionRuleInvalid(IMMUTABLE_NOT_UPDATED)
        if change.immutable or change.clears_level:
            raise ProtectionRuleInvalid(KIND_FIXED)
        pattern = rule.tag_name_pattern if change.tag_name_pattern is None else (
            change.tag_name_pattern
        )
        problem = _tag_pattern_problem(pattern) if change.tag_name_pattern is not None else None
        if problem is not None:
            raise ProtectionRuleInvalid(problem)
        try:
            await rule_rows.update_tag_rule(
                tx,
                rule.id,
                pattern,
                change.push_level if change.push_level is not None else rule.push_level,
                change.delete_level if change.delete_level is not None else rule.delete_level,
            )
        except UniqueViolated:
            raise ProtectionRuleInvalid(TAG_PATTERN_TAKEN) from None
        updated = await rule_rows.select_tag_rule(tx, project_id, rule.id)
    assert updated is not None
    return updated


async def delete_tag_rule(catalog: CatalogBackend, actor: Actor, ref: str, rule_id: int) -> None:
    """Maintainer+ for a protected rule; Owner+ for an immutable one, as for creating it."""
    access = await _managed_project(catalog, actor, ref)
    async with catalog.transaction() as tx:
        rule = await rule_rows.select_tag_rule(tx, access.project.id, rule_id)
        if rule is None:
            raise RecordNotFound()
        if rule.immutable and not _owner_or_admin(actor, access):
            raise Forbidden()
        await rule_rows.delete_tag_rule(tx, access.project.id, rule_id)


def _owner_or_admin(actor: Actor, access: ProjectAccess) -> bool:
    # GitLab keeps immutable rules, which bind administrators too, to Owners.
    return actor.is_admin or access.level >= AccessLevel.OWNER


# --- repository rules -----------------------------------------------------------------------


def _check_repository_pattern(project: Project, pattern: str) -> None:
    if len(pattern) > MAX_REPOSITORY_PATTERN_LENGTH:
        raise ProtectionRuleInvalid(
            "Repository path pattern is too long (maximum is"
            f" {MAX_REPOSITORY_PATTERN_LENGTH} characters)"
        )
    if not pattern.lower().startswith(project.full_path.lower()):
        raise ProtectionRuleInvalid(
            "Repository path pattern should start with the project's full path"
        )
    try:
        repository_pattern_regex(pattern)
    except RegexInvalid as exc:  # pragma: no cover - every character is escaped
        raise ProtectionRuleInvalid(f"Repository path pattern is invalid: {exc.reason}") from None


async def list_repository_rules(
    catalog: CatalogBackend, actor: Actor, ref: str
) -> list[RepositoryRuleRow]:
    access = await _managed_project(catalog, actor, ref)
    return await rule_rows.select_repository_rules(catalog.reader, access.project.id)


async def create_repository_rule(
    catalog: CatalogBackend,
    actor: Actor,
    ref: str,
    *,
    pattern: str,
    push_level: int | None,
    delete_level: int | None,
    now: datetime,
) -> RepositoryRuleRow:
    access = await _managed_project(catalog, actor, ref)
    _check_repository_pattern(access.project, pattern)
    if push_level is None and delete_level is None:
        raise ProtectionRuleInvalid(REPOSITORY_LEVEL_NEEDED)
    project_id = access.project.id
    async with catalog.transaction() as tx:
        try:
            rule_id = await rule_rows.insert_repository_rule(
                tx, project_id, pattern, push_level, delete_level, now
            )
        except UniqueViolated:
            raise ProtectionRuleInvalid(REPOSITORY_PATTERN_TAKEN) from None
        created = await rule_rows.select_repository_rule(tx, project_id, rule_id)
    assert created is not None
    return created


async def update_repository_rule(
    catalog: CatalogBackend, actor: Actor, ref: str, rule_id: int, change: RepositoryRuleChange
) -> RepositoryRuleRow:
    access = await _managed_project(catalog, actor, ref)
    project_id = access.project.id
    async with catalog.transaction() as tx:
        rule = await rule_rows.select_repository_rule(tx, project_id, rule_id)
        if rule is None:
            raise RecordNotFound()
        sent = change.repository_path_pattern
        pattern = rule.repository_path_pattern if sent is None else sent
        if change.repository_path_pattern is not None:
            _check_repository_pattern(access.project, pattern)
        push = None if change.clears_push else (change.push_level or rule.push_level)
        delete = None if change.clears_delete else (change.delete_level or rule.delete_level)
        if push is None and delete is None:
            raise ProtectionRuleInvalid(REPOSITORY_LEVEL_NEEDED)
        try:
            await rule_rows.update_repository_rule(tx, rule.id, pattern, push, delete)
        except UniqueViolated:
            raise ProtectionRuleInvalid(REPOSITORY_PATTERN_TAKEN) from None
        updated = await rule_rows.select_repository_rule(tx, project_id, rule.id)
    assert updated is not None
    return updated


async def delete_repository_rule(
    catalog: CatalogBackend, actor: Actor, ref: str, rule_id: int
) -> None:
    access = await _managed_project(catalog, actor, ref)
    async with catalog.transaction() as tx:
        if not await rule_rows.delete_repository_rule(tx, access.project.id, rule_id):
            raise RecordNotFound()
