"""The gradual rollout's arithmetic (app/devcluster/controllers/rollout.py), table-driven on the cases of knative/serving
`pkg/reconciler/route/traffic/rollout_test.go`: a new revision starts at 1%, shares move with the configuration's
percent, the step size and period spread the rest over the duration, stepping moves traffic newest-last, and the
KIngress annotation round-trips with Knative's field names."""

from __future__ import annotations

import json

import pytest

from app.devcluster.controllers.rollout import NANOS, ConfigurationRollout, RevisionRollout, Rollout, goal


def _config(name: str, percent: int, *revisions: tuple[str, int], tag: str = "", **params: int) -> ConfigurationRollout:
    return ConfigurationRollout(name, tag, percent, [RevisionRollout(r, p) for r, p in revisions], **params)


def _shape(rollout: Rollout) -> list[tuple[str, str, int, list[tuple[str, int]]]]:
    return [(c.configuration_name, c.tag, c.percent, [(r.revision_name, r.percent) for r in c.revisions])
            for c in rollout.configurations]


STEP_CASES = [
    ("no previous state", Rollout([_config("mick", 100, ("let-it-bleed", 100))]), None,
     [("mick", "", 100, [("let-it-bleed", 100)])]),
    ("same revision, nothing to roll", Rollout([_config("mick", 100, ("let-it-bleed", 100))]),
     Rollout([_config("mick", 100, ("let-it-bleed", 100))]), [("mick", "", 100, [("let-it-bleed", 100)])]),
    ("a new revision starts at 1%", Rollout([_config("mick", 100, ("let-it-bleed", 100))]),
     Rollout([_config("mick", 100, ("goat-head-soup", 100))]),
     [("mick", "", 100, [("goat-head-soup", 99), ("let-it-bleed", 1)])]),
    ("the configuration's share went down", Rollout([_config("mick", 33, ("let-it-bleed", 33))]),
     Rollout([_config("mick", 42, ("goat-head-soup", 11), ("aftermath", 31))]),
     [("mick", "", 33, [("goat-head-soup", 2), ("aftermath", 30), ("let-it-bleed", 1)])]),
    ("the configuration's share went up", Rollout([_config("mick", 75, ("let-it-bleed", 75))]),
     Rollout([_config("mick", 25, ("goat-head-soup", 11), ("aftermath", 14))]),
     [("mick", "", 75, [("goat-head-soup", 11), ("aftermath", 63), ("let-it-bleed", 1)])]),
    ("the newest revision with traffic gives the 1%", Rollout([_config("mick", 100, ("sticky-fingers", 100))]),
     Rollout([_config("mick", 100, ("goat-head-soup", 95), ("beggars-banquet", 5))]),
     [("mick", "", 100, [("goat-head-soup", 95), ("beggars-banquet", 4), ("sticky-fingers", 1)])]),
    ("a revision at 1% that is replaced drops out", Rollout([_config("mick", 100, ("between-the-buttons", 100))]),
     Rollout([_config("mick", 100, ("goat-head-soup", 99), ("bridges-to-babylon", 1))]),
     [("mick", "", 100, [("goat-head-soup", 99), ("between-the-buttons", 1)])]),
    ("a configuration at 1% is not rolled", Rollout([_config("mick", 1, ("between-the-buttons", 1))]),
     Rollout([_config("mick", 1, ("bridges-to-babylon", 1))]), [("mick", "", 1, [("between-the-buttons", 1)])]),
    ("a configuration at 0% drops out", Rollout([_config("charlie", 0, ("aftermath", 0))]),
     Rollout([_config("charlie", 100, ("your-satanic-majesties-request", 100))]), []),
    ("a new tag starts at its goal", Rollout([_config("mick", 100, ("black-on-blue", 100)),
                                              _config("mick", 100, ("black-on-blue", 100), tag="jagger")]),
     Rollout([_config("mick", 100, ("black-on-blue", 100))]),
     [("mick", "", 100, [("black-on-blue", 100)]), ("mick", "jagger", 100, [("black-on-blue", 100)])]),
]


@pytest.mark.parametrize(("name", "current", "previous", "expected"), STEP_CASES, ids=[c[0] for c in STEP_CASES])
def test_step(name: str, current: Rollout, previous: Rollout | None, expected: list) -> None:
    stepped, _ = current.step(previous, 5 * NANOS)
    assert _shape(stepped) == expected


def test_a_new_rollout_records_its_start_and_waits_for_the_ingress() -> None:
    stepped, next_step = Rollout([_config("c", 100, ("new", 100))]).step(Rollout([_config("c", 100, ("old", 100))]),
                                                                         7 * NANOS)
    [config] = stepped.configurations
    assert (config.start_time, config.step_duration, config.step_size, next_step) == (7 * NANOS, 0, 0, 0)
    assert not stepped.done()


@pytest.mark.parametrize(("percent", "duration", "first_step", "size", "period"), [
    (100, 20, 1, 5, 1.0),  # 99% over 19 s in 19 steps: round(99/19) = 5% a second
    (100, 10, 1, 11, 1.0),  # 9 steps of 11%
    (100, 300, 1, 1, 299 / 99),  # more steps than percents: 1% at a time
    (100, 2, 5, 99, 1.0),  # the first 1% took longer than the whole rollout: one step
    (50, 20, 2, 5, 2.0),  # 49% over 18 s in steps of 2 s
])
def test_compute_properties(percent: int, duration: int, first_step: int, size: int, period: float) -> None:
    config = _config("c", percent, ("old", percent - 1), ("new", 1), start_time=NANOS)
    rollout = Rollout([config])
    rollout.observe_ready(NANOS + first_step * NANOS - NANOS // 2, float(duration))
    assert config.step_size == size
    assert config.step_duration == pytest.approx(period * NANOS, rel=1e-9)


def test_steps_move_traffic_to_the_newest_until_done() -> None:
    config = _config("c", 100, ("old", 99), ("new", 1), start_time=NANOS)
    rollout = Rollout([config])
    rollout.observe_ready(2 * NANOS, 10.0)  # steps of 11% every second
    now, shares = 2 * NANOS, []
    goal_rollout = Rollout([_config("c", 100, ("new", 100))])
    for _ in range(12):
        now += NANOS
        rollout, next_step = goal_rollout.step(rollout, now)
        shares.append([(r.revision_name, r.percent) for r in rollout.configurations[0].revisions])
        if rollout.done():
            assert next_step == 0
            break
        assert next_step == now + NANOS
    assert shares[:3] == [[("old", 88), ("new", 12)], [("old", 77), ("new", 23)], [("old", 66), ("new", 34)]]
    assert shares[-1] == [("new", 100)] and len(shares) == 9
    assert rollout.configurations[0].step_size == 0  # the parameters are cleared at the end


def test_annotation_round_trip_uses_knative_field_names() -> None:
    rollout = Rollout([_config("hello", 100, ("hello-00001", 90), ("hello-00002", 10), start_time=1, next_step_time=3,
                               step_duration=2, step_size=5)])
    assert json.loads(rollout.dumps()) == {"configurations": [{
        "configurationName": "hello", "percent": 100,
        "revisions": [{"revisionName": "hello-00001", "percent": 90}, {"revisionName": "hello-00002", "percent": 10}],
        "stepParams": {"starttime": 1, "nextStepTime": 3, "stepDuration": 2, "stepSize": 5}}]}
    assert Rollout.loads(rollout.dumps()) == rollout
    assert Rollout().dumps() == "{}"
    steady = Rollout([_config("hello", 100, ("hello-00001", 100))])
    assert steady.dumps() == '{"configurations":[{"configurationName":"hello","percent":100,"revisions":' \
        '[{"revisionName":"hello-00001","percent":100}],"stepParams":{}}]}'


@pytest.mark.parametrize("text", ["", "not json", '{"configurations":[{"percent":1}]}',
                                  '{"configurations":[{"configurationName":"c","percent":101}]}',
                                  '{"configurations":[{"configurationName":"c","percent":50,'
                                  '"revisions":[{"revisionName":"r","percent":40}]}]}'])
def test_unreadable_or_inconsistent_annotations_are_ignored(text: str) -> None:
    assert Rollout.loads(text) is None


def test_goal_sorts_by_tag_then_configuration_and_skips_zero() -> None:
    built = goal([("", "b", 60, "b-1"), ("", "a", 40, "a-1"), ("x", "a", 100, "a-1"), ("", "z", 0, "z-1")])
    assert [(c.tag, c.configuration_name, c.percent) for c in built.configurations] == \
        [("", "a", 40), ("", "b", 60), ("x", "a", 100)]
