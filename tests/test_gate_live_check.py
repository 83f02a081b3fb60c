"""The stream checks and the live cross-check against a real ftl-mock process: all hold on the mock,
and whatever cannot run is reported as skipped with its reason."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import ALICE_KEY, ALICE_SESSION_TOKEN, BOB_KEY, DEMO_JOB, MockProcess, start_mock

import spec
from contracts.credentials import Authenticator, Credentials
from contracts.live_check import ALL_CHECKS, LIVE_CHECKS, PRE_STREAM_CHECKS, LiveCheck, StreamOptions
from contracts.progress import NullProgress
from contracts.results import Results, Tally
from contracts.stream_checks import Timing

CONTRACT = spec.load()
SCALE = 0.05


@pytest.fixture(scope="module")
def fast_mock() -> Iterator[MockProcess]:
    handle = start_mock("--time-scale", str(SCALE))
    yield handle
    handle.stop()


def run(url: str, credentials: Credentials, **options: object) -> dict[str, Tally]:
    results = Results()
    stream_options = StreamOptions(timing=Timing(time_scale=SCALE), **options)  # type: ignore[arg-type]
    LiveCheck(CONTRACT, Authenticator(CONTRACT, credentials), url, stream_options, results, NullProgress()).run()
    return {tally.check: tally for tally in results}


# The checks of the rules a design adds: the base contract has none of them, so each skips saying so
# (each design's own run is in tests/test_designs.py).
DESIGN_CHECKS = {
    "stream_batch_window": "the contract does not batch the stream's items",
    "stream_content_coding": "the contract sets no content coding for the stream",
    "stream_filter": "the contract has no stream filter",
    "live_push_matches_rest": "the contract pushes nothing in the stream",
    "stream_user_limit": "the contract sets no per-user stream limit",
}


def test_every_stream_and_live_check_holds_on_the_mock(fast_mock: MockProcess) -> None:
    tallies = run(fast_mock.url, Credentials(api_key=ALICE_KEY, bearer=ALICE_SESSION_TOKEN, other_api_key=BOB_KEY))
    assert set(tallies) == set(ALL_CHECKS)
    assert all(t.passes for name, t in tallies.items() if name not in DESIGN_CHECKS)
    broken = {name: [v.message for v in t.violations] for name, t in tallies.items() if t.violations}
    assert broken == {}
    skipped = {name: t.skip_reasons for name, t in tallies.items() if not t.passes}
    assert skipped == {name: [reason] for name, reason in DESIGN_CHECKS.items()}


def test_without_another_users_key_the_foreign_job_check_is_skipped(fast_mock: MockProcess) -> None:
    tallies = run(fast_mock.url, Credentials(api_key=ALICE_KEY))
    foreign = tallies["stream_foreign_job"]
    assert (foreign.passes, foreign.skip_reasons) == (0, ["no credentials of another user (--other-api-key)"])


def test_no_live_reads_the_given_job_and_skips_the_live_checks(fast_mock: MockProcess) -> None:
    tallies = run(fast_mock.url, Credentials(api_key=ALICE_KEY, other_api_key=BOB_KEY), live=False, stream_job=DEMO_JOB)
    for name in LIVE_CHECKS:
        assert tallies[name].skip_reasons == ["the live check is off (--no-live)"], name
    for name in PRE_STREAM_CHECKS:
        assert tallies[name].passes == (0 if name in DESIGN_CHECKS else 1), name
    assert tallies["stream_first_event"].passes == 1
    assert tallies["stream_counter"].skip_reasons


def test_no_live_and_no_job_skips_everything_with_a_reason(fast_mock: MockProcess) -> None:
    tallies = run(fast_mock.url, Credentials(api_key=ALICE_KEY), live=False)
    assert set(tallies) == set(ALL_CHECKS)
    assert all(t.skip_reasons and not t.passes for t in tallies.values())


def test_a_read_shorter_than_a_heartbeat_skips_the_heartbeat_rule(fast_mock: MockProcess) -> None:
    tallies = run(fast_mock.url, Credentials(api_key=ALICE_KEY), seconds=0.1, uploads=())
    assert tallies["stream_heartbeat"].passes == 0
    assert "less than one heartbeat interval" in tallies["stream_heartbeat"].skip_reasons[0]
