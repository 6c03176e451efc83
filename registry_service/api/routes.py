"""The /api/v4 route table: the only list of its URLs."""

from __future__ import annotations

from aiohttp import web

from registry_service.api import groups, members, projects, users


def add_routes(app: web.Application) -> None:
    r = app.router
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
    r.add_post("/projects/{id}/members", members.add_project_member)
