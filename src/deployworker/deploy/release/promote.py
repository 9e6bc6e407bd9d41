"""The `promote` action for a release: the images another release runs now.

Each container's image is read from the revisions the source release's members run;
two members of the source running different images in one container make the
promote ambiguous, and it is refused rather than guessed.
"""

from __future__ import annotations

from deployworker.deploy.plan import current_images
from deployworker.deploy.release.members import Members
from deployworker.errors import invalid
from deployworker.intake.releases import Release


def promoted_images(members: Members, source: Release) -> dict[str, str]:
    """Container name to the image the source release's members run in it.
    Raises `Rejection` when two of them disagree."""
    found: dict[str, str] = {}
    where: dict[str, str] = {}
    for slot in members.read(source):
        member = source.member(slot.member)
        assert member is not None
        task_definition, _ = members.ecs.describe_task_definition(slot.current)
        for container, image in current_images(task_definition).items():
            if container not in member.containers:
                continue
            if found.get(container, image) != image:
                raise invalid(
                    f"release {source.name} runs two images in container {container}: "
                    f"{found[container]} ({where[container]}) and {image} ({slot.id}); "
                    "promote it once they agree"
                )
            found[container], where[container] = image, slot.id
    return found
