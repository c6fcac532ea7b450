"""The Starlette app: the HTTP/JSON API over the gRPC service, and the static page that uses it.

    GET  /api/search?text=&top_k=&offset=&dataset=&tag=&min_s=&max_s=&every_window=   text -> motions
    POST /api/search/motion  (multipart field "file": .bvh / .npy / .npz; same query parameters)   motion -> motions
    GET  /api/motions/{id}/similar    (same query parameters but text)                         stored motion -> motions
    GET  /api/motions/{id}/captions?top_k=                                                     stored motion -> text
    GET  /api/motions/{id}/preview    compact joints for the page's canvas (previews.py)
    GET  /api/motions/{id}/clip?format=bvh|npy|source                                          a file to download
    GET  /api/config                  what the page needs to know (limits, model)
    GET  /healthz                     liveness (this process); /readyz: readiness (the service is SERVING)

Every gRPC call runs in a worker thread with the configured deadline; a refusal of the service becomes the HTTP
status of errors.HTTP_STATUS with the service's message, as ``{"error": ..., "code": ...}``.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Callable
from importlib import resources
from typing import Any
from urllib.parse import quote

import grpc
import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from motion_retrieval.serving.hits import MotionHit
from motion_retrieval_web.config import WebConfig
from motion_retrieval_web.errors import ApiError, from_rpc_error
from motion_retrieval_web.previews import encode_preview
from motion_retrieval_web.service import ServiceClient, connect
from motion_retrieval_web.uploads import read_motion, uploaded_file

log = logging.getLogger(__name__)

STATIC_DIR = resources.files("motion_retrieval_web") / "static"
CLIP_FORMATS = {"bvh": "smpl22_bvh", "npy": "joints_npy", "source": "source_bvh"}
CLIP_FPS = 20.0  # the service's joints_npy clips are at the canonical 20 fps
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}
# The page loads nothing from elsewhere: scripts, styles, images and API calls all come from this origin.
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data: blob:; object-src 'none'; "
                                 b"frame-ancestors 'none'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


# -- query parameters -------------------------------------------------------------------------------------------------
def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(422, f"{name}={raw!r}: not an integer") from None
    if not low <= value <= high:
        raise ApiError(422, f"{name}={value}: must lie in {low}..{high}")
    return value


def _float_param(request: Request, name: str) -> float | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ApiError(422, f"{name}={raw!r}: not a number") from None
    if not 0.0 <= value < 1e6:
        raise ApiError(422, f"{name}={raw}: must be a non-negative number of seconds")
    return value


def _bool_param(request: Request, name: str) -> bool:
    raw = request.query_params.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ApiError(422, f"{name}={raw!r}: use 1 or 0")


def _filters(request: Request) -> dict[str, Any]:
    """The MotionFilter fields the page offers: dataset, tags (every one of them), duration bounds."""
    filters: dict[str, Any] = {}
    dataset = request.query_params.get("dataset", "").strip()
    if dataset:
        filters["dataset"] = dataset
    tags = [t.strip() for t in request.query_params.getlist("tag") if t.strip()]
    if tags:
        filters["tags"] = tags
    low, high = _float_param(request, "min_s"), _float_param(request, "max_s")
    if low is not None and high is not None and low > high:
        raise ApiError(422, f"min_s={low:g} is above max_s={high:g}")
    if low is not None:
        filters["min_duration"] = low
    if high is not None:
        filters["max_duration"] = high
    return filters


class Paging:
    def __init__(self, request: Request, config: WebConfig):
        self.top_k = _int_param(request, "top_k", config.default_top_k, 1, config.max_top_k)
        self.offset = _int_param(request, "offset", 0, 0, config.max_results - self.top_k)
        self.every_window = _bool_param(request, "every_window")
        self.filters = _filters(request)
        self.max_results = config.max_results

    def kwargs(self) -> dict[str, Any]:
        return {"top_k": self.top_k, "offset": self.offset, "every_window": self.every_window,
                "filters": self.filters}

    def page(self, hits: list[MotionHit], **query) -> dict[str, Any]:
        """The response body: hits with their URLs, the query as understood, and the next page's offset (null when
        this page was not full or the next one would be past the limit)."""
        following = self.offset + self.top_k
        more = len(hits) == self.top_k and following + self.top_k <= self.max_results
        return {"hits": [hit_json(h) for h in hits],
                "query": {**query, "top_k": self.top_k, "offset": self.offset, "every_window": self.every_window,
                          "filters": self.filters},
                "next_offset": following if more else None}


def hit_json(hit: MotionHit) -> dict[str, Any]:
    """The one hit schema (``search --json``) plus the URLs of its preview and its downloads."""
    base = f"/api/motions/{quote(hit.id, safe='')}"
    clips = {fmt: f"{base}/clip?format={fmt}" for fmt in CLIP_FORMATS}
    if not hit.source.lower().endswith(".bvh"):
        del clips["source"]  # the service cuts source frames from BVH takes only
    return {**hit.to_json(), "preview_url": f"{base}/preview", "clip_url": clips["bvh"], "clip_urls": clips}


# -- the app ----------------------------------------------------------------------------------------------------------
class WebApi:
    """The route handlers, bound to one client and config."""

    def __init__(self, config: WebConfig, client: ServiceClient):
        self.config = config
        self.client = client

    async def call(self, function: Callable, *args, **kwargs):
        """``function(*args, **kwargs)`` (a blocking gRPC call) in a worker thread; gRPC errors -> ApiError."""
        try:
            return await run_in_threadpool(function, *args, **kwargs)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None

    def paging(self, request: Request) -> Paging:
        return Paging(request, self.config)

    async def search(self, request: Request) -> Response:
        text = request.query_params.get("text", "").strip()
        if not text:
            raise ApiError(422, "text: type what the motion should show (the parameter is empty)")
        paging = self.paging(request)
        hits = await self.call(self.client.search_hits, text, **paging.kwargs())
        return JSONResponse(paging.page(hits, text=text))

    async def search_motion(self, request: Request) -> Response:
        paging = self.paging(request)
        filename, data = await uploaded_file(request, self.config.max_upload_bytes)
        max_frames = (await self.call(self.client.model_info))["limits"]["max_frames"]
        motion = await run_in_threadpool(read_motion, filename, data, max_frames)
        hits = await self.call(self.client.similar_hits, joints=motion.joints, fps=motion.fps, **paging.kwargs())
        return JSONResponse(paging.page(hits, file=motion.filename, duration_s=motion.duration_s,
                                        used_s=motion.used_s))

    async def similar(self, request: Request) -> Response:
        motion_id = request.path_params["motion_id"]
        paging = self.paging(request)
        hits = await self.call(self.client.similar_hits, motion_id=motion_id, **paging.kwargs())
        return JSONResponse(paging.page(hits, motion_id=motion_id))

    async def captions(self, request: Request) -> Response:
        """Motion -> text: the stored captions closest to the hit's own motion (its 20 fps joints)."""
        motion_id = request.path_params["motion_id"]
        top_k = _int_param(request, "top_k", 5, 1, self.config.max_top_k)
        clip = await self.call(self.client.motion_clip, motion_id, CLIP_FORMATS["npy"])
        joints = np.load(io.BytesIO(clip["data"]), allow_pickle=False)  # (T, 22, 3) metres at 20 fps
        hits = await self.call(self.client.caption_hits, joints, CLIP_FPS, top_k)
        return JSONResponse({"motion_id": motion_id, "captions": [h.to_json() for h in hits]})

    async def preview(self, request: Request) -> Response:
        preview = await self.call(self.client.motion_preview, request.path_params["motion_id"])
        body = await run_in_threadpool(encode_preview, preview)
        return JSONResponse(body, headers={"cache-control": "private, max-age=600"})

    async def clip(self, request: Request) -> Response:
        name = request.query_params.get("format", "bvh")
        if name not in CLIP_FORMATS:
            raise ApiError(422, f"format={name!r}: use one of {', '.join(CLIP_FORMATS)}")
        clip = await self.call(self.client.motion_clip, request.path_params["motion_id"], CLIP_FORMATS[name])
        filename = clip["filename"].replace('"', "").replace("\\", "") or f"motion.{name}"
        return Response(clip["data"], media_type=clip["media_type"] or "application/octet-stream",
                        headers={"content-disposition": f"attachment; filename=\"{filename}\"; "
                                                        f"filename*=UTF-8''{quote(filename)}"})

    async def page_config(self, request: Request) -> Response:
        info = await self.call(self.client.model_info)
        return JSONResponse({"model_id": info["model_id"], "default_top_k": self.config.default_top_k,
                             "max_top_k": self.config.max_top_k, "max_upload_bytes": self.config.max_upload_bytes,
                             "max_query_s": info["limits"]["max_frames"] / CLIP_FPS})

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        try:
            status = await run_in_threadpool(self.client.serving_status)
        except grpc.RpcError as exc:
            return JSONResponse({"status": "unavailable", "error": from_rpc_error(exc).message}, status_code=503)
        return JSONResponse({"status": status.lower()}, status_code=200 if status == "SERVING" else 503)


async def _index(request: Request) -> Response:
    return FileResponse(str(STATIC_DIR / "index.html"), headers={"cache-control": "no-cache"})


async def _api_error(request: Request, exc: ApiError) -> Response:
    if exc.status >= 500:
        log.warning("%s %s -> %d %s", request.method, request.url.path, exc.status, exc.message)
    return JSONResponse({"error": exc.message, "code": exc.code or None}, status_code=exc.status)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    return JSONResponse({"error": exc.detail, "code": None}, status_code=exc.status_code, headers=exc.headers)


class SecurityHeaders:
    """Pure ASGI middleware: the page's security headers on every response (no per-request task overhead)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        return await self.app(scope, receive, send_with_headers)


def create_app(config: WebConfig, client: ServiceClient | None = None) -> Starlette:
    """The app for ``config``; it connects (reading the token file) now, so a bad setting fails at start."""
    client = client if client is not None else connect(config)
    api = WebApi(config, client)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        client.close()

    routes = [
        Route("/", _index),
        Route("/healthz", api.healthz),
        Route("/readyz", api.readyz),
        Route("/api/config", api.page_config),
        Route("/api/search", api.search),
        Route("/api/search/motion", api.search_motion, methods=["POST"]),
        Route("/api/motions/{motion_id}/similar", api.similar),
        Route("/api/motions/{motion_id}/captions", api.captions),
        Route("/api/motions/{motion_id}/preview", api.preview),
        Route("/api/motions/{motion_id}/clip", api.clip),
        Mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={ApiError: _api_error, HTTPException: _http_error})
    app.state.api = api
    app.add_middleware(SecurityHeaders)
    return app
