"""The web interface's route table and set-up: the only list of its URLs.

Pages live on the root application beside ``/api/v4``, ``/v2``, ``/-/…`` and ``/metrics``,
under paths none of those use. Templates are autoescaped, all of them: every value a page
shows (tag names, paths, annotations, labels) is text, never markup.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from registry_service.web import (
    admin,
    cleanup,
    deploy_tokens,
    explore,
    filters,
    jobs,
    policy,
    protection_rules,
    registry,
    sign_in,
    tag_deletes,
    tag_list,
    tag_page,
    tokens,
)

STATIC_DIR = Path(__file__).parent / "static"
REPOSITORY = "/projects/{project_id}/repositories/{repository_id:\\d+}"
RULES = "/projects/{project_id:\\d+}/protection-rules"
RULE = RULES + "/{kind:tag|repository}/{rule_id:\\d+}"


def add_web_routes(app: web.Application) -> None:
    environment = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("registry_service.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        default_helpers=False,
    )
    environment.filters.update(
        size=filters.size, when=filters.when, short_digest=filters.short_digest
    )
    r = app.router
    r.add_static("/static/", STATIC_DIR, name="web_static")
    r.add_get("/", explore.show_home)
    r.add_get("/sign-in", sign_in.show_sign_in)
    r.add_post("/sign-in", sign_in.sign_in)
    r.add_post("/sign-out", sign_in.sign_out)
    r.add_get("/groups/{group_id:\\d+}", explore.show_group)
    r.add_get("/projects/{project_id:\\d+}", registry.show_project_registry)
    r.add_get(REPOSITORY, tag_list.show_repository)
    r.add_post(REPOSITORY + "/delete", registry.delete_repository)
    r.add_post(REPOSITORY + "/tags/delete", tag_deletes.delete_tags)
    r.add_get(REPOSITORY + "/tags/{tag_name}", tag_page.show_tag)
    r.add_get(REPOSITORY + "/cleanup", cleanup.show_cleanup)
    r.add_post(REPOSITORY + "/cleanup/preview", cleanup.preview_cleanup)
    r.add_post(REPOSITORY + "/cleanup/run", cleanup.run_cleanup)
    r.add_get("/projects/{project_id:\\d+}/jobs", jobs.show_project_jobs)
    r.add_get("/jobs/{job_id:\\d+}", jobs.show_job)
    r.add_get("/jobs/{job_id:\\d+}/progress", jobs.show_job_progress)
    r.add_get("/projects/{project_id:\\d+}/cleanup-policy", policy.show_policy)
    r.add_post("/projects/{project_id:\\d+}/cleanup-policy", policy.update_policy)
    r.add_get("/admin", admin.show_admin)
    r.add_get("/admin/users", admin.show_users)
    r.add_post("/admin/users", admin.create_user)
    r.add_post("/admin/users/{user_id:\\d+}/block", admin.block_user)
    r.add_post("/admin/users/{user_id:\\d+}/unblock", admin.unblock_user)
    r.add_get("/tokens", tokens.show_tokens)
    r.add_post("/tokens", tokens.create_token)
    r.add_post("/tokens/{token_id:\\d+}/revoke", tokens.revoke_token)
    r.add_get(RULES, protection_rules.show_rules)
    r.add_post(RULES + "/tag", protection_rules.create_tag_rule)
    r.add_post(RULES + "/repository", protection_rules.create_repository_rule)
    r.add_post(RULE + "/edit", protection_rules.update_rule)
    r.add_post(RULE + "/delete", protection_rules.delete_rule)
    for owner in ("/projects/{project_id:\\d+}", "/groups/{group_id:\\d+}"):
        r.add_get(owner + "/deploy-tokens", deploy_tokens.show_deploy_tokens)
        r.add_post(owner + "/deploy-tokens", deploy_tokens.create_deploy_token)
        r.add_post(
            owner + "/deploy-tokens/{token_id:\\d+}/revoke", deploy_tokens.revoke_deploy_token
        )
