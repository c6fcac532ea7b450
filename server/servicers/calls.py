"""What every servicer method shares: the caller's time budget, and turning failures into gRPC status codes a
caller can act on."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import grpc

from motion_retrieval.errors import ConfigError, MotionDataError
from motion_retrieval_server.admission import ShedError, set_retry_pushback
from motion_retrieval_server.backends.base import BackendError, BackendUnavailable
from motion_retrieval_server.validation import RequestError

log = logging.getLogger(__name__)

# Without a client deadline a call still ends: nothing legitimate takes this long.
DEFAULT_TIMEOUT_S = 120.0
# Answer this much before the caller's deadline, so the status reaches it before it gives up.
DEADLINE_MARGIN_S = 0.02


def time_budget(context: grpc.aio.ServicerContext) -> float:
    """Seconds this call may still spend; <= 0 means the caller's deadline has passed."""
    remaining = context.time_remaining()
    if remaining is None:
        return DEFAULT_TIMEOUT_S
    return min(remaining - DEADLINE_MARGIN_S, DEFAULT_TIMEOUT_S)


@contextlib.asynccontextmanager
async def status_on_error(context: grpc.aio.ServicerContext, what: str) -> AsyncIterator[None]:
    """Abort the call with the status that fits the failure raised in the block."""
    try:
        yield
    except RequestError as exc:
        await context.abort(exc.code, str(exc))
    except ShedError as exc:  # admission: RESOURCE_EXHAUSTED (overloaded) or DEADLINE_EXCEEDED (not computed)
        if exc.retry_after_s is not None:  # gRPC retry pushback: clients' retry policies wait this long
            set_retry_pushback(context, exc.retry_after_s)
        await context.abort(exc.code, str(exc))
    except MotionDataError as exc:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
    except BackendUnavailable as exc:
        await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
    except BackendError as exc:
        log.error("%s: backend error: %s", what, exc)
        await context.abort(grpc.StatusCode.INTERNAL, f"{what}: {exc}")
    except ConfigError as exc:
        await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
    except asyncio.TimeoutError:
        await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, f"{what} did not finish before the deadline")
    except (grpc.aio.AbortError, asyncio.CancelledError):
        raise
    except Exception:  # a bug of ours, never the caller's input: say so, keep the details in the log
        log.exception("%s failed", what)
        await context.abort(grpc.StatusCode.INTERNAL, f"{what} failed inside the service (see its log); this is "
                                                      "not a problem with the request")


def check_budget(budget: float, what: str) -> None:
    if budget <= 0:
        raise asyncio.TimeoutError(what)
