"""The `rollback` action for a release: every member back to what it ran before the
release its `to_deploy_id` names, by the same all-or-nothing path a failed release takes.

Nothing is registered: the release's revisions are found by their deploy-key tag, and
each member's previous revision by the tags those revisions carry.
"""

from __future__ import annotations

from deployworker.deploy.release.context import Context, Ending
from deployworker.deploy.release.register import Registrar
from deployworker.deploy.release.slots import family_images
from deployworker.deploy.release.undo import undo
from deployworker.errors import invalid

REASON = "rollback requested"


def roll_back(ctx: Context) -> Ending:
    """Undo the release `ctx.deploy_id`. Raises `Rejection` when no revision of it exists."""
    slots = ctx.members.read(ctx.release)
    # Every family a member runs now, or ran before the release: any image list will do,
    # since only revisions found by their tag are used.
    families = family_images(slots, {m.name: {"*": "*"} for m in ctx.release.members})
    revisions = Registrar(ctx.ecs, ctx.tag_key).revisions(
        slots, families, ctx.key, ctx.deploy_id, ctx.release.name, None, register=False
    )
    if not revisions:
        raise invalid(
            f"release {ctx.release.name} has no revision of deploy_id {ctx.deploy_id!r} "
            "to roll back"
        )
    changing = [s for s in slots if s.family in revisions]
    return undo(ctx, changing, revisions, REASON)
