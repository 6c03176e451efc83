"""The /api/v4 route table: the only list of its URLs."""

from __future__ import annotations

from aiohttp import web

from registry_service.api import (
    deploy_tokens,
    groups,
    jobs,
    members,
    openapi,
    projects,
    protection_rules,
    repositories,
    tags,
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
