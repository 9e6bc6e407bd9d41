"""The board in a real browser (headless Chromium through Debian's chromedriver) against
`deployworker local`: a deploy appears in Now with its stage and ends in Recent with its
outcome, an unlisted image shows in Rejected with its reason, and a gated CANARY waiting
at its PAUSE hook shows its measurements and the approve command. Screenshots are kept
under the test's tmp path (their paths are printed)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from gated import canary, pause_hook
from promserver import Exporter, PrometheusServer, free_port
from webdriver import Browser, available

pytestmark = pytest.mark.skipif(not available(), reason="needs chromium and chromedriver")

SCRIPT = str(Path(sys.executable).parent / "deployworker")
REPO = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web"
GATED_REPO = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/gated"
MANAGERS = "arn:aws:iam::123456789012:role/release-managers"
METRIC = "board_error_ratio"
HOOK = "POST_TEST_TRAFFIC_SHIFT"


def allowlist(path: Path) -> Path:
    gate = {
        "at": HOOK,
        "analysis": [
            {"name": "error-ratio", "prometheus": METRIC, "max": 0.05, "interval": "1s", "count": 2}
        ],
        "approval": {"approvers": [MANAGERS], "timeout": "30m"},
    }
    services = [
        {"cluster": "prod", "service": "web", "containers": ["app"], "images": [REPO]},
        {
            "cluster": "prod",
            "service": "gated",
            "containers": ["app"],
            "images": [GATED_REPO],
            "gates": [gate],
        },
    ]
    path.write_text(yaml.safe_dump({"version": 1, "services": services}))
    return path


@pytest.fixture(scope="module")
def local_mode(
    tmp_path_factory: pytest.TempPathFactory, prometheus: PrometheusServer, exporter: Exporter
) -> Iterator[dict[str, str]]:
    """`deployworker local` with the board on, its sample deploy slow enough to watch."""
    work = tmp_path_factory.mktemp("board")
    exporter.set(METRIC, 0.001)
    prometheus.wait_value(METRIC, 0.001)
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "DEPLOYWORKER_LOCAL_PORT": str(free_port()),
        "DEPLOYWORKER_METRICS_PORT": str(free_port()),
        "DEPLOYWORKER_ALLOWLIST_PATH": str(allowlist(work / "allowlist.yaml")),
        "DEPLOYWORKER_LOCAL_CONVERGE_SECONDS": "10",
        "DEPLOYWORKER_POLL_WAIT_SECONDS": "1",
        "DEPLOYWORKER_BOARD_CACHE_SECONDS": "1",
        "DEPLOYWORKER_PROMETHEUS_URL": prometheus.url,
    }
    log_path = work / "local.log"
    with log_path.open("w+") as log:
        process = subprocess.Popen([SCRIPT, "local"], stdout=log, stderr=log, env=env)
        try:
            deadline = time.monotonic() + 60
            while "local.board" not in log_path.read_text():
                assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.2)
            line = next(x for x in log_path.read_text().splitlines() if "local.board" in x)
            yield {**env, "BOARD_URL": yaml.safe_load(line)["board_url"], "LOG": str(log_path)}
        finally:
            process.terminate()
            process.wait(timeout=30)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    session = Browser(tmp_path / "profile")
    yield session
    session.close()


def publish(env: dict[str, str], service: str, image: str, deploy_id: str) -> None:
    where = ["--local", "--cluster", "prod", "--service", service, "--container", "app"]
    done = subprocess.run(
        [SCRIPT, "publish", *where, "--image", image, "--deploy-id", deploy_id],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def card(deploy_id: str) -> str:
    return f'#now-body article[data-deploy-id="{deploy_id}"]'


def row(section: str, deploy_id: str) -> str:
    return f'#{section}-body tr[data-deploy-id="{deploy_id}"]'


def keep(browser: Browser, path: Path) -> None:
    browser.screenshot(path)
    print(f"board screenshot: {path}")


def test_a_deploy_shows_in_now_then_recent_and_a_rejection_in_rejected(
    local_mode: dict[str, str], browser: Browser, tmp_path: Path
) -> None:
    browser.get(local_mode["BOARD_URL"])
    # A new user's first look: the sample deploy, converging.
    browser.wait_for(row("recent", "local-sample-1"), "deployed", timeout=90)
    publish(local_mode, "web", f"{REPO}:board-1", "board-1")
    shown = browser.wait_for(card("board-1"), "stage", timeout=30)
    assert "in_progress" in browser.texts(f"{card('board-1')} .stage")[0]
    assert "prod/web" in shown and f"{REPO}:board-1" in shown
    keep(browser, tmp_path / "board-now.png")
    ended = browser.wait_for(row("recent", "board-1"), "deployed", timeout=60)
    assert "✓" in ended  # a symbol as well as a colour
    assert browser.texts(card("board-1")) == []  # no longer in flight

    publish(local_mode, "web", "evil.example.com/web:1", "board-evil")
    rejected = browser.wait_for(row("rejected", "board-evil"), "evil.example.com/web", timeout=30)
    assert "is not allowlisted for prod/web" in rejected
    assert "add evil.example.com/web to `images` of the entry for prod/web" in rejected
    # Everything the page loaded came from the worker.
    loaded = browser.run("return performance.getEntriesByType('resource').map(e => e.name)")
    origin = local_mode["BOARD_URL"].removesuffix("/board")
    assert loaded and all(str(url).startswith(origin + "/") for url in loaded), loaded
    keep(browser, tmp_path / "board.png")


def test_the_board_works_from_the_keyboard(local_mode: dict[str, str], browser: Browser) -> None:
    browser.get(local_mode["BOARD_URL"])
    browser.wait_for(row("recent", "local-sample-1"), "deployed", timeout=90)
    focused = "return document.activeElement.textContent + '|' + document.activeElement.href"
    browser.press("TAB")
    assert browser.run(focused).startswith("Skip to the board")
    for _ in range(30):  # on through the sections' links to the first service
        browser.press("TAB")
        if "#service=" in browser.run(focused):
            break
    assert "#service=prod%2Fweb" in browser.run(focused)
    browser.press("ENTER")
    history = browser.wait_for("#service", "local-sample-1", timeout=15)
    assert "Service prod/web" in history and "deployed" in history


def test_a_gated_canary_shows_its_measurements_and_the_approve_command_while_it_waits(
    local_mode: dict[str, str], browser: Browser, tmp_path: Path
) -> None:
    endpoint = f"http://127.0.0.1:{local_mode['DEPLOYWORKER_LOCAL_PORT']}"
    ecs: Any = boto3.client(
        "ecs",
        region_name="eu-west-1",
        endpoint_url=endpoint,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    ecs.update_service(
        cluster="prod",
        service="gated",
        deploymentConfiguration=canary([pause_hook(HOOK, minutes=30)]),
    )
    browser.get(local_mode["BOARD_URL"])
    publish(local_mode, "gated", f"{GATED_REPO}:canary-1", "canary-1")
    waiting = browser.wait_for(card("canary-1"), "deployworker approve", timeout=90)
    assert HOOK in browser.texts(f"{card('canary-1')} .stage")[0]
    measured = browser.texts(f"{card('canary-1')} table.measurements")[0]
    assert "error-ratio" in measured and "0.001, 0.001" in measured
    command = browser.texts(f"{card('canary-1')} .command pre")[0]
    assert command.startswith("deployworker approve")
    assert "--deploy-id canary-1" in command and "--service gated" in command
    assert "release-managers" in waiting and "still needed" in waiting
    # The rollout: time used of its deadline, the images it replaces, its service
    # deployment, and the new revision's production traffic (none yet at this hook).
    rollout = browser.wait_for(card("canary-1"), " min of ", timeout=30)
    assert f"{GATED_REPO}:" in rollout.split("before", 1)[1]
    assert "deployment" in rollout and "traffic" in rollout and "0 %" in rollout
    keep(browser, tmp_path / "board-gated.png")
    browser.resize(390, 844)  # a phone
    keep(browser, tmp_path / "board-gated-phone.png")
