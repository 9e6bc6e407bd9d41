"""The gate runner: measurements on schedule, votes, events, tags, metrics, cancel."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from deployworker.deploy.approvals.votes import Vote, approve_command
from deployworker.deploy.gates.contract import Subject
from deployworker.deploy.gates.decide import Action, Decision
from deployworker.deploy.gates.runner import Runner
from deployworker.deploy.gates.schedule import Scheduler
from deployworker.deploy.gates.show import read
from deployworker.intake.gates import Gate
from deployworker.observe.events import DeployEvent
from deployworker.rollout.analysis.measure import Measurement, PrometheusQuery, Query
from deployworker.rollout.analysis.providers import Providers

MANAGERS = "arn:aws:iam::123456789012:role/release-managers"
ALICE = "arn:aws:sts::123456789012:assumed-role/release-managers/alice"
SUBJECT = Subject("prod", "web", "build-1", "arn:aws:ecs:eu-west-1:1:task-definition/web:2")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class Steps:
    """A scheduler stand-in: steps queue up, `run` takes them in time order and moves
    the clock to each one's time."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.queue: list[tuple[float, int, Callable[[], None]]] = []
        self.count = 0

    def after(self, seconds: float, step: Callable[[], None]) -> None:
        self.count += 1
        self.queue.append((self.clock.now + seconds, self.count, step))

    def run(self, limit: int = 100) -> None:
        for _ in range(limit):
            if not self.queue:
                return
            self.queue.sort(key=lambda s: (s[0], s[1]))
            at, _, step = self.queue.pop(0)
            self.clock.now = max(self.clock.now, at)
            step()


class Values:
    """A provider whose values the test sets; records when it was asked."""

    def __init__(self, *values: float | None, clock: Clock) -> None:
        self.values = list(values)
        self.asked: list[float] = []
        self.clock = clock

    def measure(self, query: Query) -> Measurement:
        assert isinstance(query, PrometheusQuery)
        self.asked.append(self.clock.now)
        return Measurement(self.values.pop(0) if self.values else 0.0, 0.0)


class Book:
    def __init__(self) -> None:
        self.cast: list[Vote] = []

    def votes(self, cluster: str, service: str, deploy_id: str) -> Sequence[Vote]:
        assert (cluster, service, deploy_id) == ("prod", "web", "build-1")
        return list(self.cast)


class Harness:
    def __init__(self, provider: Any = None, book: Any = None) -> None:
        self.clock = Clock()
        self.steps = Steps(self.clock)
        self.events: list[DeployEvent] = []
        self.tags: list[dict[str, str]] = []
        self.results: list[str] = []
        self.pending = 0
        self.ended: list[Decision] = []
        self.windows: list[tuple[str, str, float | None, float | None]] = []

        def pend(cluster: str, service: str, delta: int) -> None:
            assert (cluster, service) == (SUBJECT.cluster, SUBJECT.service)
            self.pending += delta

        def ended(cluster: str, service: str, result: str) -> None:
            assert (cluster, service) == (SUBJECT.cluster, SUBJECT.service)
            self.results.append(result)

        def tag(arn: str, tags: Mapping[str, str]) -> None:
            assert arn == SUBJECT.revision
            self.tags.append(dict(tags))

        self.runner = Runner(
            provider or Providers(None, None, None),
            book or Book(),
            self.steps,  # type: ignore[arg-type]
            self.events.append,
            tag,
            ended,
            pend,
            clock=self.clock,
            poll_seconds=5,
            on_window=lambda *window: self.windows.append(window),
        )

    def start(self, **spec: Any) -> Any:
        gate = Gate.model_validate({"at": "POST_TEST_TRAFFIC_SHIFT", **spec})
        return self.runner.start(gate, SUBJECT, {}, self.ended.append)

    def kinds(self) -> list[str]:
        return [e.type for e in self.events if e.type != "gate_progress"]


ERRORS = {"name": "error-ratio", "prometheus": "q", "max": 0.01, "interval": 30, "count": 3}


def test_healthy_measurements_pass_the_gate_an_interval_apart() -> None:
    h = Harness()
    values = Values(0.001, 0.002, 0.0, clock=h.clock)
    h.runner.provider = values
    h.start(analysis=[ERRORS])
    h.steps.run()
    assert [d.action for d in h.ended] == [Action.CONTINUE]
    assert values.asked == [1000, 1030, 1060]
    assert h.kinds() == ["gate_started", "gate_passed"]
    assert h.results == ["passed"]
    texts = [read(t) for t in h.tags]
    assert [(t.state, t.text) for t in texts if t][:2] == [
        ("running", "analysis error-ratio 1/3 ok"),
        ("running", "analysis error-ratio 2/3 ok"),
    ]
    last = texts[-1]
    assert last is not None
    assert last.state == "passed"
    assert last.text.startswith(
        "gate at POST_TEST_TRAFFIC_SHIFT passed: error-ratio 0.001, 0.002, 0"
    )
    assert h.runner.running == 0


def test_a_bad_value_fails_the_gate_with_the_values_in_the_event() -> None:
    h = Harness()
    h.runner.provider = Values(0.001, 0.2, clock=h.clock)
    h.start(analysis=[ERRORS])
    h.steps.run()
    (decision,) = h.ended
    assert decision.action is Action.ROLLBACK
    assert "0.001, 0.2" in decision.reason
    failed = h.events[-1]
    assert failed.type == "gate_failed"
    assert failed.gate is not None
    assert failed.gate["measurements"] == [
        {"metric": "error-ratio", "phase": "failed", "values": [0.001, 0.2], "failures": 1}
    ]
    assert h.results == ["failed"]


def test_no_provider_means_no_data_and_inconclusive() -> None:
    h = Harness()
    h.start(analysis=[{**ERRORS, "count": 1}], on_inconclusive="rollback")
    h.steps.run()
    assert [(d.action, d.result) for d in h.ended] == [(Action.ROLLBACK, "inconclusive")]
    assert "no data" in h.ended[0].reason


def test_an_approval_is_requested_once_and_a_vote_ends_it() -> None:
    book = Book()
    h = Harness(book=book)
    h.start(approval={"approvers": [MANAGERS], "timeout": 600})
    h.steps.run(limit=3)
    assert h.kinds() == ["gate_started", "approval_requested"]
    requested = h.events[1].gate
    assert requested is not None
    assert requested["command"] == approve_command("prod", "web", "build-1")
    assert requested["approvers"] == [MANAGERS]
    assert requested["deadline"] == 1600
    assert h.pending == 1
    assert h.windows == [("prod", "web", 1000, 1600)]
    shown = read(h.tags[-1])
    assert shown is not None
    assert shown.state == "awaiting"
    assert shown.text == "awaiting 1 approval (release-managers) until 00:26Z"
    book.cast.append(Vote("approve", ALICE, h.clock.now))
    h.runner.wake("prod", "web", "build-1")
    h.steps.run(limit=2)
    assert [(d.action, d.result) for d in h.ended] == [(Action.CONTINUE, "passed")]
    assert h.pending == 0
    assert h.windows[-1] == ("prod", "web", None, None)
    assert h.kinds()[-1] == "gate_passed"


def test_a_step_queued_behind_the_final_one_does_not_end_the_gate_again() -> None:
    book = Book()
    h = Harness(book=book)
    run = h.start(approval={"approvers": [MANAGERS], "timeout": 600})
    h.steps.run(limit=3)
    book.cast.append(Vote("approve", ALICE, h.clock.now))
    h.runner.wake("prod", "web", "build-1")
    h.steps.run(limit=2)
    # A wake and a poll both queued: the later step holds the newest ticket.
    h.runner._step(run, run.ticket)
    assert [(d.action, d.result) for d in h.ended] == [(Action.CONTINUE, "passed")]
    assert h.kinds().count("gate_passed") == 1
    assert h.results == ["passed"]


def test_no_vote_before_the_deadline_takes_on_timeout() -> None:
    h = Harness()
    h.start(approval={"approvers": [MANAGERS], "timeout": 60}, on_timeout="continue")
    h.steps.run()
    assert [(d.action, d.result) for d in h.ended] == [(Action.CONTINUE, "timed_out")]
    assert h.clock.now == 1060
    assert h.pending == 0
    assert h.results == ["timed_out"]


def test_a_cancelled_gate_never_ends_and_frees_its_pending_approval() -> None:
    h = Harness()
    run = h.start(approval={"approvers": [MANAGERS], "timeout": 60})
    h.steps.run(limit=2)
    assert h.pending == 1
    h.runner.cancel(run)
    h.steps.run()
    assert h.ended == []
    assert h.pending == 0
    assert h.windows[-1] == ("prod", "web", None, None)


def test_a_provider_that_raises_counts_as_no_data() -> None:
    class Broken:
        def measure(self, query: Query) -> Measurement:
            raise RuntimeError("boom")

    h = Harness(provider=Broken())
    h.start(analysis=[{**ERRORS, "count": 1}], on_inconclusive="continue")
    h.steps.run()
    assert [(d.action, d.result) for d in h.ended] == [(Action.CONTINUE, "inconclusive")]


def test_the_scheduler_runs_steps_in_time_order_on_dispatch() -> None:
    done = threading.Event()
    ran: list[str] = []
    threads: list[str] = []

    def dispatch(step: Callable[[], None]) -> None:
        threads.append(threading.current_thread().name)
        step()

    scheduler = Scheduler(dispatch)
    scheduler.after(0.05, lambda: ran.append("late"))
    scheduler.after(0.0, lambda: ran.append("early"))
    scheduler.after(0.1, done.set)
    assert done.wait(5)
    assert ran == ["early", "late"]
    assert set(threads) == {"gates"}


def test_a_stopped_scheduler_drops_its_steps_and_hands_none_to_dispatch() -> None:
    # At shutdown the resume pool closes right after: a step handed to it then fails.
    dispatched: list[Callable[[], None]] = []
    scheduler = Scheduler(dispatched.append)
    scheduler.after(30.0, lambda: None)
    scheduler.after(60.0, lambda: None)
    thread = scheduler._thread
    assert thread is not None and scheduler.pending == 2
    scheduler.stop()
    assert not thread.is_alive()
    assert scheduler.pending == 0
    scheduler.after(0.0, lambda: None)  # from a gate step that was still running
    assert scheduler.pending == 0 and scheduler._thread is None
    assert dispatched == []


def test_the_ledger_hears_each_measurement_and_the_approval_it_waits_for() -> None:
    # `gate_progress` is the board's view of a gate: measurements so far while it
    # measures, then who may approve, how many are still needed and the command.
    h = Harness(book=Book())
    h.runner.provider = Values(0.001, 0.002, clock=h.clock)
    h.start(
        analysis=[{**ERRORS, "count": 2}],
        approval={"approvers": [MANAGERS], "timeout": 600},
    )
    h.steps.run(limit=4)
    progress: list[Any] = [e.gate for e in h.events if e.type == "gate_progress"]
    assert progress and all(g is not None for g in progress)
    assert [m["values"] for m in progress[0]["measurements"]] == [[0.001]]
    last = progress[-1]
    assert last["state"] == "awaiting"
    assert last["measurements"][0]["values"] == [0.001, 0.002]
    assert last["needed"] == 1 and last["approved_by"] == []
    assert last["command"] == approve_command("prod", "web", "build-1")
