"""Training configurations: the owner's CRUD, and the public training package of a shared one.

Someone else's configuration is a 404 (PostgREST's "no rows" message); deletes are idempotent.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from mockserver.context import Context, Handler
from mockserver.resources._shapes import const_headers
from mockserver.store.datasets import download_path
from mockserver.store.table import Row
from mockserver.wire import utc_now

NO_ROWS = "Cannot coerce the result to a single JSON object"
PUBLIC_NOT_FOUND = "Config not found or not public"
SIGNED_URL_TTL_MS = 3_600_000  # the platform signs dataset URLs for an hour (ref §10.4)


def check_config(config_json: Mapping[str, Any]) -> dict[str, str] | None:
    """The platform's validation of a configuration: problems by section, or None when it is valid."""
    problems = {}
    model = config_json.get("model")
    if not isinstance(model, Mapping) or not isinstance(model.get("name"), str) or not model.get("name"):
        problems["model"] = "model.name is required"
    if not isinstance(config_json.get("training"), Mapping):
        problems["training"] = "training section is required"
    return problems or None


def list_configs(ctx: Context) -> Response:
    """The caller's configurations, newest first."""
    return ctx.json({"configs": ctx.state.store.configs.newest(ctx.principal.user_id)})


def create_config(ctx: Context) -> Response:
    """Store a new configuration of the caller (201)."""
    body = ctx.body
    now = utc_now()
    problems = check_config(body["config_json"])
    row = ctx.state.store.configs.put(
        {
            "id": str(uuid.uuid4()),
            "user_id": ctx.principal.user_id,
            "name": body["name"],
            "description": body.get("description"),
            "template_type": body["template_type"],
            "config_json": body["config_json"],
            "is_validated": problems is None,
            "validation_errors": problems,
            "times_used": 0,
            "last_used_at": None,
            "public_id": None,
            "is_public": False,
            "gist_urls": None,
            "created_at": now,
            "updated_at": now,
        }
    )
    return ctx.json({"config": row})


def _owned(ctx: Context) -> Row | None:
    return ctx.state.store.configs.owned(ctx.path_params["id"], ctx.principal.user_id)


def get_config(ctx: Context) -> Response:
    """One configuration of the caller."""
    row = _owned(ctx)
    return ctx.json({"config": row}) if row is not None else ctx.error(404, NO_ROWS)


def update_config(ctx: Context) -> Response:
    """Change name, description or configuration; a new configuration is validated, never rejected."""
    row = _owned(ctx)
    if row is None:
        return ctx.error(404, NO_ROWS)
    body = ctx.body
    if body.get("name"):
        row["name"] = body["name"]
    if "description" in body:
        row["description"] = body["description"]
    if "config_json" in body:
        problems = check_config(body["config_json"])
        row |= {"config_json": body["config_json"], "is_validated": problems is None, "validation_errors": problems}
    row["updated_at"] = utc_now()
    return ctx.json({"config": row})


def delete_config(ctx: Context) -> Response:
    """Delete the caller's configuration; success even when there was nothing to delete."""
    if _owned(ctx) is not None:
        ctx.state.store.configs.delete(ctx.path_params["id"])
    return ctx.json({"success": True})


def _public(ctx: Context) -> Row | None:
    return ctx.state.store.configs.public(ctx.path_params["id"])


def _with_cors(ctx: Context, response: Response) -> Response:
    response.headers.update(const_headers(ctx.op, response.status_code))
    return response


def get_public_config(ctx: Context) -> Response:
    """A public configuration, without authentication and with CORS headers."""
    row = _public(ctx)
    if row is None:
        return _with_cors(ctx, ctx.error(404, PUBLIC_NOT_FOUND))
    return _with_cors(ctx, ctx.json({"config": row}))


def signed_url(ctx: Context, dataset: Row) -> str:
    """A download URL of a stored dataset file on this mock, valid for an hour (× `--time-scale`).

    Signed with the process's secret over the file and the expiry; built on the address the request reached,
    never on its `Host` header.
    """
    expires = math.ceil(time.time() + ctx.state.scaled(SIGNED_URL_TTL_MS))
    path = download_path(dataset["id"])
    return f"{ctx.origin}{path}?expires={expires}&token={ctx.state.signer.sign(path, expires)}"


def get_public_datasets(ctx: Context) -> Response:
    """The datasets of a public configuration, each with a signed download URL."""
    row = _public(ctx)
    if row is None:
        return _with_cors(ctx, ctx.error(404, PUBLIC_NOT_FOUND))
    datasets = [
        {**dataset, "download_url": signed_url(ctx, dataset)}
        for dataset in ctx.state.store.datasets.of_config(row["id"])
    ]
    return _with_cors(ctx, ctx.json({"datasets": datasets}))


HANDLERS: dict[str, Handler] = {
    "list_configs": list_configs,
    "create_config": create_config,
    "get_config": get_config,
    "update_config": update_config,
    "delete_config": delete_config,
    "get_public_config": get_public_config,
    "get_public_datasets": get_public_datasets,
}
