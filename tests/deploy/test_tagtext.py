"""Free text in ECS tag values: every value is legal for ECS and decodes to the text."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import REPO, World, deploy, drain, metric
from deployworker.deploy import tagtext
from deployworker.deploy.apply import deploy_tags
from deployworker.deploy.plan import deploy_key
from deployworker.intake.message import Source

# ECS's own rule for a tag value (with Python's \w standing in for \p{L}\p{N}_).
ECS_VALUE = re.compile(r"[\w .:/=+\-@]{0,256}")
URL_KEY = "deployworker:source-url"


def legal(value: str) -> bool:
    return bool(ECS_VALUE.fullmatch(value)) and not value.lower().startswith("aws:")


@pytest.mark.parametrize(
    ("text", "encoded"),
    [
        ("https://ci.example/builds/8812", "https://ci.example/builds/8812"),
        ("https://ci.example/b?id=1&x=%20", "https://ci.example/b+3Fid=1+26x=+2520"),
        ("https://ci.example/b#1", "https://ci.example/b+231"),
        ("https://ci.example/b?1", "https://ci.example/b+3F1"),
        ("a+b", "a+2Bb"),
        ("+41", "+2B41"),
        ("aws:thing", "+61ws:thing"),
        ("AWS:thing", "+41WS:thing"),
        ("x aws:y", "x aws:y"),
        ("café", "café"),
        ("tab\there", "tab+09here"),
        ("emoji 🚀", "emoji +F0+9F+9A+80"),
        ("lone \ud800", "lone +ED+A0+80"),
        ("", ""),
    ],
)
def test_encoding_table(text: str, encoded: str) -> None:
    assert tagtext.encode(text) == encoded
    assert tagtext.decode(encoded) == text
    assert legal(encoded)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("a+b", "a+b"),  # a `+` starting no escape: kept
        ("a+4", "a+4"),
        ("a+FF", "a+FF"),  # not UTF-8: kept as written
        ("plain", "plain"),
    ],
)
def test_values_not_written_by_encode_decode_to_themselves(value: str, text: str) -> None:
    assert tagtext.decode(value) == text


def test_long_text_continues_in_numbered_keys_and_reads_back() -> None:
    url = "https://ci.example/" + "?&" * 300
    tags = tagtext.split(URL_KEY, url)
    assert list(tags) == [URL_KEY, *(f"{URL_KEY}:{n}" for n in range(2, len(tags) + 1))]
    assert all(legal(v) and len(v) <= 256 for v in tags.values())
    assert tagtext.read(tags, URL_KEY) == url
    assert tagtext.split(URL_KEY, "") == {}
    assert tagtext.read({}, URL_KEY) is None


def test_no_piece_starts_with_the_reserved_prefix() -> None:
    text = "x" * 256 + "aws:rest"
    tags = tagtext.split(URL_KEY, text)
    assert [len(v) for v in tags.values()] == [255, 9]
    assert all(legal(v) for v in tags.values())
    assert tagtext.read(tags, URL_KEY) == text


def test_deploy_tags_store_the_source_so_it_reads_back() -> None:
    source = Source(commit="9f3c2d1", url="https://ci.example/b?id=1&run=2#log", actor="ci bot")
    tags = deploy_tags(source, deploy_key("prod", "web", "build-1"), "build-1", "arn:previous")
    assert tags["deployworker:source-url"] == "https://ci.example/b+3Fid=1+26run=2+23log"
    for field in ("commit", "url", "actor"):
        assert tagtext.read(tags, f"deployworker:source-{field}") == getattr(source, field)
    assert all(legal(v) for v in tags.values())


@given(st.text(max_size=1100))
def test_property_any_text_round_trips_through_legal_tag_values(text: str) -> None:
    tags = tagtext.split(URL_KEY, text)
    assert all(legal(v) for v in tags.values())
    assert tagtext.read(tags, URL_KEY) == (text or None)
    assert tagtext.decode(tagtext.encode(text)) == text


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=50))
def test_property_decode_inverts_encode_for_any_characters(text: str) -> None:
    assert tagtext.decode(tagtext.encode(text)) == text


def test_a_deploy_keeps_the_source_url_whole_and_drops_aws_tags(world: World) -> None:
    world.service()
    world.ecs.tag_resource(
        resourceArn=world.describe()["taskDefinition"],
        tags=[{"key": "aws:cloudformation:stack-name", "value": "web"}],
    )
    app = world.app()
    url = "https://ci.example/builds?id=8812&attempt=2#summary"
    world.send(deploy(f"{REPO}:2.0", deploy_id="src-1", source={"url": url}))
    drain(app)
    _, tags = world.task_definition(world.describe()["taskDefinition"])
    assert (
        tags["deployworker:source-url"]
        == "https://ci.example/builds+3Fid=8812+26attempt=2+23summary"
    )
    assert tagtext.read(tags, "deployworker:source-url") == url
    assert not [k for k in tags if k.startswith("aws:")]
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 1
