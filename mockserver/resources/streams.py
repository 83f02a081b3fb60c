"""The prediction stream (`stream_predictions`): ownership check, then a live or scripted stream.

Authentication happened before the handler; a job that is missing or someone else's is a plain-text 404. A design
with a `limit` refuses a user's stream beyond it; one with a `filter` opens the stream on the query's value.
"""

from __future__ import annotations

from starlette.responses import Response

from mockserver.context import Context, Handler
from mockserver.sse import LiveStream
from spec import Operation

NOT_FOUND = 404


def not_found_message(op: Operation) -> str:
    """The spec's example body of the operation's 404 (the platform's `Job not found`)."""
    response = op.response(NOT_FOUND)
    media = response.media("text/plain") if response is not None else None
    return str(media.example) if media is not None and media.example is not None else "Not found"


def stream_predictions(ctx: Context) -> Response:
    """Open the job's stream: its bound scenario (or the mock's default), else the live stream."""
    job_id = ctx.path_params["jobId"]
    if ctx.state.store.jobs.owned(job_id, ctx.principal.user_id) is None:
        return ctx.error(NOT_FOUND, not_found_message(ctx.op))
    scripted = ctx.state.scenarios.stream(job_id)
    if scripted is not None:
        return scripted
    hub = ctx.state.streams
    rules = hub.stream
    found = rules.filter
    match = ctx.query.get(str(found["parameter"])) if found is not None else None
    user_id = ctx.principal.user_id
    if user_id is not None and not hub.admit(user_id):
        limit = rules.limit or {}
        return ctx.error(
            int(limit.get("status", 429)),
            f"Too many open streams: at most {limit.get('streams')} per {limit.get('per')}",
        )
    return LiveStream(hub, job_id, match=match, user_id=user_id)


HANDLERS: dict[str, Handler] = {"stream_predictions": stream_predictions}
