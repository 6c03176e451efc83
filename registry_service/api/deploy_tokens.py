"""Handlers: deploy tokens of a project (``/projects/:id/deploy_tokens``), of a group
(``/groups/:id/deploy_tokens``), and every token for administrators (``/deploy_tokens``)."""

from __future__ import annotations

from typing import Literal

from aiohttp import web

from registry_service.api.deploy_token_entities import DeployTokenSchema, NewDeployTokenSchema
from registry_service.api.deploy_token_params import (
    CreateDeployTokenParams,
    DeployTokenIdParams,
    DeployTokenListParams,
)
from registry_service.http import context as ctx
from registry_service.http.fields import parse_params
from registry_service.services import deploy_tokens
from registry_service.services.deploy_tokens import TokenOwner

OwnerKind = Literal["project", "group"]


async def _list(request: web.Request, owner: TokenOwner | None) -> web.Response:
    params = await parse_params(request, DeployTokenListParams)
    page = params["page"]
    found, total = await deploy_tokens.list_deploy_tokens(
        ctx.catalog(request),
        ctx.actor(request),
        owner,
        active=params["active"],
        limit=page.limit,
        offset=page.offset,
        now=ctx.now(request),
    )
    schema = DeployTokenSchema(now=ctx.now(request), many=True)
    return ctx.paged(request, schema.dump(found), page, total)


def _owner(request: web.Request, kind: OwnerKind) -> TokenOwner:
    return TokenOwner(kind, request.match_info["id"])


async def _create(request: web.Request, kind: OwnerKind) -> web.Response:
    params = await parse_params(request, CreateDeployTokenParams)
    minted = await deploy_tokens.create_deploy_token(
        ctx.catalog(request),
        ctx.actor(request),
        _owner(request, kind),
        name=params["name"],
        username=params["username"],
        scopes=params["scopes"],
        expires_at=params["expires_at"],
        now=ctx.now(request),
    )
    body = NewDeployTokenSchema(now=ctx.now(request)).dump(minted.token)
    body["token"] = minted.value
    return ctx.json(body, status=201)


async def _get(request: web.Request, kind: OwnerKind) -> web.Response:
    params = await parse_params(request, DeployTokenIdParams)
    token = await deploy_tokens.get_deploy_token(
        ctx.catalog(request), ctx.actor(request), _owner(request, kind), params["token_id"]
    )
    return ctx.json(DeployTokenSchema(now=ctx.now(request)).dump(token))


async def _delete(request: web.Request, kind: OwnerKind) -> web.Response:
    params = await parse_params(request, DeployTokenIdParams)
    await deploy_tokens.delete_deploy_token(
        ctx.catalog(request), ctx.actor(request), _owner(request, kind), params["token_id"]
    )
    return web.Response(status=204)


async def list_all_deploy_tokens(request: web.Request) -> web.Response:
    return await _list(request, None)


async def list_project_deploy_tokens(request: web.Request) -> web.Response:
    return await _list(request, _owner(request, "project"))


async def create_project_deploy_token(request: web.Request) -> web.Response:
    return await _create(request, "project")


async def get_project_deploy_token(request: web.Request) -> web.Response:
    return await _get(request, "project")


async def delete_project_deploy_token(request: web.Request) -> web.Response:
    return await _delete(request, "project")


async def list_group_deploy_tokens(request: web.Request) -> web.Response:
    return await _list(request, _owner(request, "group"))


async def create_group_deploy_token(request: web.Request) -> web.Response:
    return await _create(request, "group")


async def get_group_deploy_token(request: web.Request) -> web.Response:
    return await _get(request, "group")


async def delete_group_deploy_token(request: web.Request) -> web.Response:
    return await _delete(request, "group")
