"""The /api/v4 route table: the only list of its URLs."""

from __future__ import annotations

from aiohttp import web

from registry_service.api import (
    deletions,
    deploy_tokens,
    groups,
    jobs,
    member_admin,
    members,
    openapi,
    personal_access_tokens,
    projects,
    protection_rules,
    repositories,
    tags,
    user_admin,
    users,
)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/openapi.json", openapi.serve_openapi)
    r.add_get("/user", users.get_current_user)
    r.add_post("/users", users.create_user)
    r.add_get("/users/{user_id}", users.get_user)
    r.add_post("/users/{user_id}/personal_access_tokens", users.create_personal_access_token)
    r.add_get("/groups", groups.list_groups)
    r.add_post("/groups", groups.create_group)
    r.add_get("/groups/{id}", groups.get_group)
    r.add_post("/groups/{id}/members", members.add_group_member)
    r.add_get("/projects", projects.list_projects)
    r.add_post("/projects", projects.create_project)
    r.add_get("/projects/{id}", projects.get_project)
    r.add_put("/projects/{id}", projects.update_project)
    r.add_post("/projects/{id}/members", members.add_project_member)
    # Container registry (gitlab-api.md §1, E1-E8).
    repos = "/projects/{id}/registry/repositories"
    r.add_get(repos, repositories.list_project_repositories)
    r.add_delete(repos + "/{repository_id}", repositories.delete_repository)
    r.add_get(repos + "/{repository_id}/tags", tags.list_tags)
    r.add_delete(repos + "/{repository_id}/tags", tags.bulk_delete_tags)
    r.add_get(repos + "/{repository_id}/tags/{tag_name}", tags.get_tag)
    r.add_delete(repos + "/{repository_id}/tags/{tag_name}", tags.delete_tag)
    r.add_get("/groups/{id}/registry/repositories", repositories.list_group_repositories)
    # GitLab's route requires digits: anything else is an unknown route.
    r.add_get(r"/registry/repositories/{id:\d+}", repositories.get_repository)
    # Job handles (issue 6; not GitLab's): the 202s of E4 and E6 name their job in a header.
    r.add_get("/projects/{id}/registry/jobs", jobs.list_project_jobs)
    r.add_get(r"/registry/jobs/{job_id:\d+}", jobs.get_job)
    # Protection rules (issue 14): tag rules (protected and immutable), repository rules.
    tag_rules = "/projects/{id}/registry/protection/tag/rules"
    r.add_get(tag_rules, protection_rules.list_tag_rules)
    r.add_post(tag_rules, protection_rules.create_tag_rule)
    r.add_patch(tag_rules + "/{protection_rule_id}", protection_rules.update_tag_rule)
    r.add_delete(tag_rules + "/{protection_rule_id}", protection_rules.delete_tag_rule)
    repository_rules = "/projects/{id}/registry/protection/repository/rules"
    r.add_get(repository_rules, protection_rules.list_repository_rules)
    r.add_post(repository_rules, protection_rules.create_repository_rule)
    r.add_patch(
        repository_rules + "/{protection_rule_id}", protection_rules.update_repository_rule
    )
    r.add_delete(
        repository_rules + "/{protection_rule_id}", protection_rules.delete_repository_rule
    )
    # Deploy tokens (issue 14.2).
    r.add_get("/deploy_tokens", deploy_tokens.list_all_deploy_tokens)
    project_tokens = "/projects/{id}/deploy_tokens"
    r.add_get(project_tokens, deploy_tokens.list_project_deploy_tokens)
    r.add_post(project_tokens, deploy_tokens.create_project_deploy_token)
    r.add_get(project_tokens + "/{token_id}", deploy_tokens.get_project_deploy_token)
    r.add_delete(project_tokens + "/{token_id}", deploy_tokens.delete_project_deploy_token)
    group_tokens = "/groups/{id}/deploy_tokens"
    r.add_get(group_tokens, deploy_tokens.list_group_deploy_tokens)
    r.add_post(group_tokens, deploy_tokens.create_group_deploy_token)
    r.add_get(group_tokens + "/{token_id}", deploy_tokens.get_group_deploy_token)
    r.add_delete(group_tokens + "/{token_id}", deploy_tokens.delete_group_deploy_token)
    _add_management_routes(app)


def _add_management_routes(app: web.Application) -> None:
    """What scripts manage a registry with: users, members, tokens, deletions (issue 14)."""
    r = app.router
    r.add_get("/users", user_admin.list_users)
    r.add_post("/users/{user_id}/block", user_admin.block_user)
    r.add_post("/users/{user_id}/unblock", user_admin.unblock_user)
    r.add_delete("/users/{user_id}", user_admin.delete_user)
    r.add_delete("/projects/{id}", deletions.delete_project)
    r.add_delete("/groups/{id}", deletions.delete_group)
    # "/members/all" is registered before "/members/{user_id}", which would take "all".
    project_members = "/projects/{id}/members"
    r.add_get(project_members, member_admin.list_project_members)
    r.add_get(project_members + "/all", member_admin.list_all_project_members)
    r.add_get(project_members + "/all/{user_id}", member_admin.get_inherited_project_member)
    r.add_get(project_members + "/{user_id}", member_admin.get_project_member)
    r.add_put(project_members + "/{user_id}", member_admin.edit_project_member)
    r.add_delete(project_members + "/{user_id}", member_admin.remove_project_member)
    group_members = "/groups/{id}/members"
    r.add_get(group_members, member_admin.list_group_members)
    r.add_get(group_members + "/all", member_admin.list_all_group_members)
    r.add_get(group_members + "/all/{user_id}", member_admin.get_inherited_group_member)
    r.add_get(group_members + "/{user_id}", member_admin.get_group_member)
    r.add_put(group_members + "/{user_id}", member_admin.edit_group_member)
    r.add_delete(group_members + "/{user_id}", member_admin.remove_group_member)
    pats = "/personal_access_tokens"
    r.add_get(pats, personal_access_tokens.list_tokens)
    r.add_get(pats + "/self", personal_access_tokens.get_token)
    r.add_delete(pats + "/self", personal_access_tokens.revoke_token)
    r.add_post(pats + "/self/rotate", personal_access_tokens.rotate_token)
    r.add_get(pats + "/{token_id}", personal_access_tokens.get_token)
    r.add_delete(pats + "/{token_id}", personal_access_tokens.revoke_token)
    r.add_post(pats + "/{token_id}/rotate", personal_access_tokens.rotate_token)
