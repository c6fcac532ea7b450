"""Overload: bounded work in flight, RESOURCE_EXHAUSTED at once when full, and work whose deadline has passed (or
cannot be met) is never computed. The gate on its own first (counted calls), then the real service over gRPC."""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.request

import grpc
import pytest

from motion_retrieval_server.admission import (
    EXPIRED,
    MOTION,
    OVERLOADED,
    QUEUE_FULL,
    SHUTDOWN,
    AdmissionConfig,
    AdmissionGate,
    DeadlineShed,
    Draining,
    Overloaded,
    ServiceTimeEstimator,
)
from motion_retrieval_server.api import embedding_pb2, embedding_pb2_grpc
from motion_retrieval_server.client import features_message


class Work:
    """A fake encoder call that counts how often it is computed and takes ``seconds`` (or until released)."""

    def __init__(self, seconds: float = 0.0):
        self.seconds = seconds
        self.computed = 0
        self.release = asyncio.Event()

    async def __call__(self, time_left: float) -> str:
        self.computed += 1
        if self.seconds:
            await asyncio.sleep(self.seconds)
        else:
            await self.release.wait()
        return "done"


def test_full_queue_is_refused_at_once_and_never_computed():
    async def scenario():
        gate = AdmissionGate(AdmissionConfig(slots=1, max_queue=1))
        running, queued, refused = Work(), Work(), Work()
        first = asyncio.ensure_future(gate.run("text_encoder", 1, 30.0, running))
        second = asyncio.ensure_future(gate.run("text_encoder", 1, 30.0, queued))
        await asyncio.sleep(0.05)
        assert gate.stats().running == 1 and gate.stats().queued["text_encoder"] == 1
        start = time.perf_counter()
        with pytest.raises(Overloaded) as caught:
            await gate.run("text_encoder", 1, 30.0, refused)
        assert time.perf_counter() - start < 0.05  # at once, not after waiting
        assert caught.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED and caught.value.reason == QUEUE_FULL
        running.release.set()
        queued.release.set()
        assert await first == await second == "done"
        return refused.computed, queued.computed, gate.stats()

    refused, queued, stats = asyncio.run(scenario())
    assert (refused, queued) == (0, 1)
    assert stats.running == 0 and stats.shed == {QUEUE_FULL: 1}


def test_queued_work_whose_deadline_passes_is_dropped_uncomputed():
    async def scenario():
        gate = AdmissionGate(AdmissionConfig(slots=1, max_queue=8))
        blocker = Work(seconds=0.4)
        late = [Work() for _ in range(3)]
        first = asyncio.ensure_future(gate.run("motion_encoder", 4, 30.0, blocker))
        await asyncio.sleep(0.01)
        start = time.perf_counter()
        results = await asyncio.gather(*(gate.run("motion_encoder", 4, 0.15, w) for w in late),
                                       return_exceptions=True)
        waited = time.perf_counter() - start
        assert await first == "done"
        return results, waited, [w.computed for w in late], blocker.computed, gate.stats()

    results, waited, computed, blocker, stats = asyncio.run(scenario())
    assert all(isinstance(r, DeadlineShed) and r.reason == EXPIRED for r in results), results
    assert all(r.code == grpc.StatusCode.DEADLINE_EXCEEDED for r in results)
    assert waited < 0.35  # answered at their deadline, not when the slot freed
    assert computed == [0, 0, 0] and blocker == 1
    assert stats.shed == {EXPIRED: 3} and stats.queued["motion_encoder"] == 0


def test_work_that_cannot_meet_its_deadline_is_shed_before_computing():
    """Once the gate has seen how long calls take, a call that the work ahead of it would make late is refused on
    arrival as overload, and queued work that can no longer end in time is dropped when its turn comes."""

    async def scenario():
        gate = AdmissionGate(AdmissionConfig(slots=1, max_queue=8, min_samples=3))
        for _ in range(3):
            assert await gate.run("text_encoder", 8, 30.0, Work(seconds=0.1)) == "done"
        estimate = gate.estimate("text_encoder", 8)
        blocker = Work()
        first = asyncio.ensure_future(gate.run("text_encoder", 8, 30.0, blocker))
        queued = [asyncio.ensure_future(gate.run("text_encoder", 8, 30.0, Work(seconds=0.01))) for _ in range(4)]
        await asyncio.sleep(0.01)
        late = Work()
        with pytest.raises(Overloaded) as overloaded:  # 4 x ~0.1 s queued ahead, 0.25 s left
            await gate.run("text_encoder", 8, 0.25, late)
        tight = Work()  # queued while the first one runs, enough time when queued, not once its turn comes
        tight_call = asyncio.ensure_future(gate.run("text_encoder", 8, 0.7, tight))
        await asyncio.sleep(0.6)
        blocker.release.set()
        await first
        await asyncio.gather(*queued)
        dropped = await asyncio.gather(tight_call, return_exceptions=True)
        return estimate, overloaded.value, late.computed, dropped[0], tight.computed

    estimate, overloaded, late_computed, dropped, tight_computed = asyncio.run(scenario())
    assert 0.08 < estimate < 0.5
    assert overloaded.reason == OVERLOADED and overloaded.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "allow a longer deadline" in str(overloaded)
    assert isinstance(dropped, DeadlineShed) and dropped.reason == EXPIRED
    assert late_computed == tight_computed == 0


def test_an_idle_gate_always_tries_so_a_stale_estimate_cannot_lock_it_out():
    """Estimates learn only from computed calls: a too-high estimate (say from a slow first call) must not make the
    gate refuse everything forever. With a free slot and nobody waiting, the call runs and refreshes it."""

    async def scenario():
        gate = AdmissionGate(AdmissionConfig(slots=1, max_queue=8, min_samples=3))
        for _ in range(3):
            await gate.run("text_encoder", 8, 30.0, Work(seconds=0.3))  # slow warm-up calls
        stale = gate.estimate("text_encoder", 8)
        fast = [Work(seconds=0.01) for _ in range(8)]
        for work in fast:  # each with less time than the stale estimate
            assert await gate.run("text_encoder", 8, 0.2, work) == "done"
        return stale, gate.estimate("text_encoder", 8), [w.computed for w in fast]

    stale, fresh, computed = asyncio.run(scenario())
    assert stale > 0.2 and computed == [1] * 8
    assert fresh < 0.1  # recent calls weigh most


def test_a_caller_that_goes_away_gives_back_its_place():
    async def scenario():
        gate = AdmissionGate(AdmissionConfig(slots=1, max_queue=1))
        blocker, gone, next_one = Work(), Work(), Work(seconds=0.01)
        first = asyncio.ensure_future(gate.run("text_encoder", 1, 30.0, blocker))
        waiting = asyncio.ensure_future(gate.run("text_encoder", 1, 30.0, gone))
        await asyncio.sleep(0.01)
        waiting.cancel()  # the client cancelled its call while queued
        await asyncio.sleep(0.01)
        assert gate.stats().queued["text_encoder"] == 0
        follower = asyncio.ensure_future(gate.run("text_encoder", 1, 30.0, next_one))  # the queue has room again
        await asyncio.sleep(0.01)
        first.cancel()  # and a running call that is cancelled frees its slot
        assert await follower == "done"
        return gone.computed, gate.stats()

    computed, stats = asyncio.run(scenario())
    assert computed == 0 and stats.running == 0


def test_shutdown_answers_queued_calls_at_once_and_lets_running_ones_finish():
    async def scenario():
        gate = AdmissionGate(AdmissionConfig(slots=1, max_queue=4))
        running = Work(seconds=0.2)
        queued = [Work() for _ in range(3)]
        first = asyncio.ensure_future(gate.run("motion_encoder", 1, 30.0, running))
        waiting = [asyncio.ensure_future(gate.run("motion_encoder", 1, 30.0, w)) for w in queued]
        await asyncio.sleep(0.01)
        start = time.perf_counter()
        assert gate.close() == 3
        results = await asyncio.gather(*waiting, return_exceptions=True)
        answered = time.perf_counter() - start
        with pytest.raises(Draining):
            await gate.run("text_encoder", 1, 30.0, Work())
        return await first, results, answered, [w.computed for w in queued]

    first, results, answered, computed = asyncio.run(scenario())
    assert first == "done" and computed == [0, 0, 0] and answered < 0.05
    assert all(isinstance(r, Draining) and r.code == grpc.StatusCode.UNAVAILABLE and r.reason == SHUTDOWN
               for r in results)


def test_overloaded_calls_are_refused_before_their_message_is_read():
    from motion_retrieval_server.admission import AdmissionInterceptor

    method = "/motion_retrieval.v1.EmbeddingService/EmbedMotions"

    class Aborted(Exception):
        pass

    class Context:
        trailers = ()

        def time_remaining(self):
            return 5.0

        def set_trailing_metadata(self, metadata):
            self.trailers = metadata

        def trailing_metadata(self):
            return self.trailers

        async def abort(self, code, details):
            raise Aborted(code, details)

    class Details(grpc.HandlerCallDetails):
        invocation_metadata = ()

    Details.method = method
    read = []

    async def messages():
        read.append(True)
        yield "request"

    async def scenario():
        gate = AdmissionGate(AdmissionConfig(slots=1, max_queue=0))
        interceptor = AdmissionInterceptor(gate, {method: "motion_encoder"})
        served = []

        async def unary(request, context):
            served.append(request)
            return "response"

        async def continuation(details):
            return grpc.unary_unary_rpc_method_handler(unary)

        handler = await interceptor.intercept_service(continuation, Details())
        assert handler.request_streaming and not handler.response_streaming
        blocker = Work()
        running = asyncio.ensure_future(gate.run("motion_encoder", 1, 30.0, blocker))
        await asyncio.sleep(0.01)
        context = Context()
        with pytest.raises(Aborted) as refused:
            await handler.stream_unary(messages(), context)
        refused_read = list(read)
        blocker.release.set()
        await running
        answer = await handler.stream_unary(messages(), Context())  # idle again: read and served
        return refused.value.args, refused_read, dict(context.trailers), answer, served

    (code, details), refused_read, trailers, answer, served = asyncio.run(scenario())
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "at capacity" in details
    assert refused_read == []  # the refused call's message was never received
    assert int(trailers["grpc-retry-pushback-ms"]) >= 50
    assert (answer, served) == ("response", ["request"])


def test_pushback_grows_with_the_refusals_per_admission():
    """The more callers are being refused per call admitted, the longer each is told to stay away, so that retries
    come back about as fast as the service takes calls."""

    async def scenario():
        gate = AdmissionGate(AdmissionConfig(slots=1, max_queue=0))
        blocker = Work()
        running = asyncio.ensure_future(gate.run("text_encoder", 1, 30.0, blocker))
        await asyncio.sleep(0.01)
        pushbacks = []
        for _ in range(20):
            with pytest.raises(Overloaded) as caught:
                await gate.run("text_encoder", 1, 30.0, Work())
            pushbacks.append(caught.value.retry_after_s)
        blocker.release.set()
        await running
        return pushbacks

    pushbacks = asyncio.run(scenario())
    assert pushbacks == sorted(pushbacks) and pushbacks[-1] > 5 * pushbacks[0]
    assert pushbacks[-1] <= 10.0


def test_overload_refusals_are_logged_at_most_once_a_second_with_a_count():
    from motion_retrieval_server.interceptors import _LogSampler

    sampler = _LogSampler(interval=1.0)
    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    admitted = [sampler.admit(code, t) for t in (0.0, 0.1, 0.2, 0.9, 1.05, 1.5, 2.2)]
    assert admitted == [0, None, None, None, 3, None, 1]


def test_service_time_estimate_follows_batch_size():
    estimator = ServiceTimeEstimator(window=16)
    assert estimator.estimate(8) == 0.0
    for items in (1, 8, 32, 64):
        estimator.observe(items, 0.01 + 0.002 * items)
    assert estimator.estimate(1) == pytest.approx(0.012, abs=1e-6)
    assert estimator.estimate(64) == pytest.approx(0.138, abs=1e-6)
    single = ServiceTimeEstimator()
    single.observe(16, 0.32)
    assert single.estimate(8) == pytest.approx(0.16)


# -- the real service -------------------------------------------------------------------------------------------------
def until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)


def _scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        lines = response.read().decode().splitlines()
    return {name: float(value) for name, _, value in (line.rpartition(" ") for line in lines if line[:1] != "#")}


class CountingCalls:
    """Counts the embedding calls that reach the real backend (behind the gate) and compute."""

    def __init__(self, backend):
        self.motions = 0
        inner = backend.embed_motions

        async def embed_motions(motions, timeout):
            self.motions += 1
            return await inner(motions, timeout=timeout)

        backend.embed_motions = embed_motions


def test_tiny_limits_answer_resource_exhausted_fast_and_expired_calls_are_not_computed(start_server, slow_repo,
                                                                                       features):
    from motion_retrieval.export.triton_local import free_port

    server = start_server(model_repository=slow_repo, encoder_slots=1, max_queue=1, metrics_port=free_port())
    counting = CountingCalls(server.server.backend.backend)  # the TorchScript backend inside the gate
    gate = server.server.backend.gate
    request = embedding_pb2.EmbedMotionsRequest(motions=[features_message(features(200))])
    with grpc.insecure_channel(server.target) as channel:
        stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
        results = {}

        def call(name, timeout):
            start = time.perf_counter()
            try:
                stub.EmbedMotions(request, timeout=timeout)
                results[name] = ("OK", time.perf_counter() - start)
            except grpc.RpcError as exc:
                results[name] = (exc.code().name, time.perf_counter() - start)
                results[f"{name}-trailers"] = dict(exc.trailing_metadata() or ())

        running = threading.Thread(target=call, args=("running", 60.0))
        running.start()
        # Polled, not slept: on a loaded machine a fixed pause can let the next call take the slot first.
        until(lambda: gate.stats().running == 1)  # the slow batch (>= 0.5 s) now holds the only slot
        queued = threading.Thread(target=call, args=("queued", 0.3))  # will expire in the queue
        queued.start()
        until(lambda: gate.stats().queued[MOTION] == 1)
        call("refused", 30.0)  # the queue (1) is full
        queued.join(30)
        running.join(60)

    assert results["running"][0] == "OK"
    code, seconds = results["refused"]
    assert code == "RESOURCE_EXHAUSTED" and seconds < 0.25, results
    assert int(results["refused-trailers"]["grpc-retry-pushback-ms"]) >= 50  # when to come back (gRPC retry design)
    assert results["queued"][0] == "DEADLINE_EXCEEDED" and results["queued"][1] < 0.6, results
    assert counting.motions == 1  # neither the refused nor the expired call reached the encoder
    samples = _scrape(server.server.metrics_port)
    assert samples['motion_retrieval_shed_total{encoder="motion_encoder",reason="queue_full"}'] == 1.0
    assert samples['motion_retrieval_shed_total{encoder="motion_encoder",reason="expired"}'] == 1.0
    assert samples['motion_retrieval_queue_depth{backend="torchscript",encoder="motion_encoder"}'] == 0.0
    assert samples['motion_retrieval_grpc_requests_total{code="RESOURCE_EXHAUSTED",'
                   'method="/motion_retrieval.v1.EmbeddingService/EmbedMotions"}'] == 1.0


def test_concurrent_rpcs_beyond_the_server_limit_are_refused(start_server, slow_repo, features):
    server = start_server(model_repository=slow_repo, max_concurrent_rpcs=2, max_queue=8)
    request = embedding_pb2.EmbedMotionsRequest(motions=[features_message(features(200))])
    codes = []
    with grpc.insecure_channel(server.target) as channel:
        stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
        futures = [stub.EmbedMotions.future(request, timeout=60) for _ in range(2)]
        time.sleep(0.3)
        with pytest.raises(grpc.RpcError) as caught:
            stub.EmbedMotions(request, timeout=30)
        for future in futures:
            codes.append("OK" if future.exception() is None else future.code().name)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert codes == ["OK", "OK"]


# -- the client's retry policy against the real gate ------------------------------------------------------------------
def _hold_the_slot(server, stub, request) -> threading.Thread:
    """A slow call that holds the only encoder slot until it finishes; returns once it runs."""
    holder = threading.Thread(target=lambda: stub.EmbedMotions(request, timeout=60))
    holder.start()
    until(lambda: server.server.backend.gate.stats().running == 1)
    return holder


def test_a_refusal_sends_no_headers_and_carries_pushback_and_request_id(start_server, slow_repo, features):
    """Response headers commit a gRPC call: a refusal sent after headers could never be retried by the client."""
    server = start_server(model_repository=slow_repo, encoder_slots=1, max_queue=0)
    request = embedding_pb2.EmbedMotionsRequest(motions=[features_message(features(200))])
    with grpc.insecure_channel(server.target, options=[("grpc.enable_retries", 0)]) as channel:
        stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
        holder = _hold_the_slot(server, stub, request)
        with pytest.raises(grpc.RpcError) as refused:
            stub.EmbedMotions(request, timeout=30, metadata=(("x-request-id", "refused-1"),))
        holder.join(60)
        answered = stub.EmbedMotions.with_call(request, timeout=60, metadata=(("x-request-id", "ok-1"),))[1]
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert not refused.value.initial_metadata()  # trailers only: retryable
    trailers = dict(refused.value.trailing_metadata())
    assert trailers["x-request-id"] == "refused-1" and int(trailers["grpc-retry-pushback-ms"]) >= 50
    assert dict(answered.initial_metadata())["x-request-id"] == "ok-1"  # an answer still carries it up front
    assert dict(answered.trailing_metadata())["x-request-id"] == "ok-1"


def test_the_client_retries_a_refused_call_after_the_pushback_and_not_without_a_policy(start_server, slow_repo,
                                                                                        features):
    from motion_retrieval.export.triton_local import free_port
    from motion_retrieval_server.aio_client import AsyncMotionRetrievalClient
    from motion_retrieval_server.client import MotionRetrievalClient

    server = start_server(model_repository=slow_repo, encoder_slots=1, max_queue=0, metrics_port=free_port())
    request = embedding_pb2.EmbedMotionsRequest(motions=[features_message(features(200))])
    method = ('{grpc_code="%s",grpc_method="EmbedMotions",grpc_service="motion_retrieval.v1.EmbeddingService",'
              'grpc_type="unary"}')
    with grpc.insecure_channel(server.target, options=[("grpc.enable_retries", 0)]) as channel:
        stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
        for _ in range(3):  # the gate learns the service time, so that its pushback covers the work ahead
            stub.EmbedMotions(request, timeout=60)
        with MotionRetrievalClient(server.target, timeout=30) as client:  # the default policy
            client.model_info()
            holder = _hold_the_slot(server, stub, request)
            vectors = client.embed_motions([features(200)])  # refused at first, then retried once the slot is free
            holder.join(60)
        samples = _scrape(server.server.metrics_port)
        assert vectors.shape == (1, 256)
        refused_before = samples["grpc_server_handled_total" + method % "RESOURCE_EXHAUSTED"]
        assert refused_before >= 1  # the refused attempts
        assert samples["grpc_server_handled_total" + method % "OK"] == 5  # 3 + the holder + the retried call

        async def asynchronous():  # the asyncio client: the same policy on a grpc.aio channel
            async with AsyncMotionRetrievalClient(server.target, timeout=30) as client:
                await client.model_info()
                holder = await asyncio.to_thread(_hold_the_slot, server, stub, request)
                vectors = await client.embed_motions([features(200)])
                await asyncio.to_thread(holder.join, 60)
                return vectors

        assert asyncio.run(asynchronous()).shape == (1, 256)
        samples = _scrape(server.server.metrics_port)
        assert samples["grpc_server_handled_total" + method % "RESOURCE_EXHAUSTED"] > refused_before
        assert samples["grpc_server_handled_total" + method % "OK"] == 7
        with MotionRetrievalClient(server.target, timeout=30, retry=None) as client:
            client.model_info()
            holder = _hold_the_slot(server, stub, request)
            with pytest.raises(grpc.RpcError) as refused:
                client.embed_motions([features(200)])
            holder.join(60)
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_retry_policy_is_a_service_config_for_single_request_methods_only():
    import json

    from motion_retrieval_server.retry import RetryPolicy, channel_options

    options = dict(channel_options(RetryPolicy(max_attempts=3, initial_backoff_s=0.2)))
    assert options["grpc.enable_retries"] == 1
    config = json.loads(options["grpc.service_config"])["methodConfig"]
    assert len(config) == 1
    names = {(n["service"], n["method"]) for n in config[0]["name"]}
    assert ("motion_retrieval.v1.EmbeddingService", "EmbedTexts") in names
    assert ("motion_retrieval.v1.SearchService", "SearchMotions") in names
    assert not any(method == "IngestMotions" for _, method in names)  # a stream is never replayed blindly
    assert config[0]["retryPolicy"] == {"maxAttempts": 3, "initialBackoff": "0.200s", "maxBackoff": "1.000s",
                                        "backoffMultiplier": 2.0,
                                        "retryableStatusCodes": ["RESOURCE_EXHAUSTED", "UNAVAILABLE"]}
    assert dict(channel_options(None)) == {"grpc.enable_retries": 0}
    for bad in ({"max_attempts": 6}, {"max_attempts": 1}, {"initial_backoff_s": 2.0}, {"retryable_codes": ()},
                {"retryable_codes": ("RESOURCE_EXHAUSTD",)}):
        with pytest.raises(ValueError):
            RetryPolicy(**bad)
