"""Motion files under an S3-compatible prefix (``s3://bucket/prefix``: MinIO, Ceph, AWS S3, ...), read one object at
a time through a local temporary copy, with the ``minio`` Python SDK (``pip install 'motion-retrieval[s3]'``).

Only motion files and their caption sidecars are read from a prefix (``.bvh``, ``.fbx``, ``.npy``, ``.npz`` and a
``<stem>.txt`` beside each; dataset layouts such as HumanML3D folders are read from a volume). The prefix is a
folder: ``s3://archive/cmu`` lists ``cmu/...``, never ``cmu2/...``. Each object's path relative to the prefix is its
record id (without suffix) and its shard key, exactly as for a folder on disk, so an archive sharded from a volume or
from a bucket splits the same way.

Connection (the variables AWS SDKs read, so a pod's existing secrets work as they are):
``MOTION_RETRIEVAL_S3_ENDPOINT`` or ``AWS_ENDPOINT_URL`` (``http://minio.storage:9000``; default AWS S3 over HTTPS),
``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` (/ ``AWS_SESSION_TOKEN``), ``AWS_REGION`` or
``AWS_DEFAULT_REGION``. Keys can also be files named like those variables in the folder
``MOTION_RETRIEVAL_S3_SECRET_DIR`` (a Kubernetes Secret mounted as a volume: the chart's ingest Job), which win over
the variables: secrets as files, never in a process's environment listing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from motion_retrieval.data.load import _NOT_MOTIONS, MOTION_SUFFIXES
from motion_retrieval.errors import ConfigError, MotionDataError

log = logging.getLogger(__name__)

SCHEME = "s3://"
DEFAULT_ENDPOINT = "https://s3.amazonaws.com"
SECRET_DIR_ENV = "MOTION_RETRIEVAL_S3_SECRET_DIR"
_KEY_NAMES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def is_object_url(path: object) -> bool:
    return isinstance(path, str) and path.startswith(SCHEME)


@dataclass(frozen=True)
class ObjectLocation:
    """``s3://bucket/prefix`` split; ``prefix`` without its trailing slash ("" = the whole bucket)."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, url: str) -> ObjectLocation:
        if not is_object_url(url):
            raise ConfigError(f"{url!r}: expected s3://bucket/prefix")
        bucket, _, prefix = url[len(SCHEME):].partition("/")
        if not bucket:
            raise ConfigError(f"{url!r}: no bucket; expected s3://bucket/prefix")
        return cls(bucket, prefix.strip("/"))

    def url(self, key: str = "") -> str:
        return f"{SCHEME}{self.bucket}/{key or self.prefix}"

    def relative(self, key: str) -> str:
        return key[len(self.prefix) + 1:] if self.prefix else key


@dataclass(frozen=True)
class ObjectStoreConfig:
    endpoint: str = DEFAULT_ENDPOINT  # scheme://host[:port]; http:// turns TLS off
    access_key: str | None = None
    secret_key: str | None = None
    session_token: str | None = None
    region: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ObjectStoreConfig:
        env = os.environ if environ is None else environ
        endpoint = env.get("MOTION_RETRIEVAL_S3_ENDPOINT") or env.get("AWS_ENDPOINT_URL") or DEFAULT_ENDPOINT
        secrets = _secret_files(env.get(SECRET_DIR_ENV))
        keys = {name: secrets.get(name) or env.get(name) or None for name in _KEY_NAMES}
        return cls(endpoint=endpoint, access_key=keys["AWS_ACCESS_KEY_ID"], secret_key=keys["AWS_SECRET_ACCESS_KEY"],
                   session_token=keys["AWS_SESSION_TOKEN"],
                   region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None)

    def client(self):
        try:
            from minio import Minio  # deferred: the optional [s3] extra; its absence is reported just below
        except ImportError:
            raise ConfigError("reading s3:// paths needs the minio SDK: pip install 'motion-retrieval[s3]'") from None
        parts = urlsplit(self.endpoint if "://" in self.endpoint else f"https://{self.endpoint}")
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
            raise ConfigError(f"S3 endpoint {self.endpoint!r}: expected http(s)://host[:port]")
        return Minio(parts.netloc, access_key=self.access_key, secret_key=self.secret_key,
                     session_token=self.session_token, secure=parts.scheme == "https", region=self.region)


def _secret_files(folder: str | None) -> dict[str, str]:
    """The key files present in ``folder`` (stripped); a folder named but missing is a ConfigError."""
    if not folder:
        return {}
    path = Path(folder)
    if not path.is_dir():
        raise ConfigError(f"{SECRET_DIR_ENV}={folder}: no such folder (the object store's keys as files)")
    return {name: (path / name).read_text().strip() for name in _KEY_NAMES if (path / name).is_file()}


class ObjectSource:
    """The motion objects under one ``s3://`` prefix: list them, fetch one (with its caption sidecar) to a folder."""

    def __init__(self, url: str, config: ObjectStoreConfig | None = None, client=None):
        self.location = ObjectLocation.parse(url)
        self.config = config or ObjectStoreConfig.from_env()
        self._client = client or self.config.client()

    def motion_keys(self) -> list[str]:
        """Keys of the motion files under the prefix (recursive, sorted; hidden names and Mean/Std.npy skipped)."""
        keys = []
        for key in self._list():
            name = PurePosixPath(key).name
            hidden = any(part.startswith(".") for part in PurePosixPath(self.location.relative(key)).parts)
            if not hidden and name.lower() not in _NOT_MOTIONS and PurePosixPath(name).suffix.lower() in \
                    MOTION_SUFFIXES:
                keys.append(key)
        if not keys:
            raise MotionDataError(self.location.url(), f"no motion files ({', '.join(MOTION_SUFFIXES)}) under this "
                                                       "prefix")
        return sorted(keys)

    def fetch(self, key: str, folder: Path) -> Path:
        """Download ``key`` (and ``<stem>.txt`` beside it, when there is one) into ``folder`` under its relative path;
        returns the local motion file. A failure is this object's MotionDataError."""
        relative = PurePosixPath(self.location.relative(key))
        local = folder / Path(*relative.parts)
        local.parent.mkdir(parents=True, exist_ok=True)
        self._get(key, local)
        sidecar = str(PurePosixPath(key).with_suffix(".txt"))
        if sidecar in self._sidecars():
            self._get(sidecar, local.with_suffix(".txt"))
        return local

    # -- S3 calls ---------------------------------------------------------------------------------------------------
    def _list(self) -> list[str]:
        from minio.error import S3Error  # deferred: the optional [s3] extra (client() checked it is there)
        from urllib3.exceptions import HTTPError

        prefix = f"{self.location.prefix}/" if self.location.prefix else None
        try:
            self._keys = [o.object_name for o in self._client.list_objects(self.location.bucket, prefix=prefix,
                                                                          recursive=True) if not o.is_dir]
        except S3Error as exc:
            raise MotionDataError(self.location.url(), f"cannot list the prefix ({exc.code}: {exc.message})") from None
        except (OSError, HTTPError) as exc:
            raise MotionDataError(self.location.url(), f"cannot reach the object store at {self.config.endpoint} "
                                                       f"({type(exc).__name__}: {exc})") from None
        return self._keys

    def _sidecars(self) -> set[str]:
        if not hasattr(self, "_sidecar_keys"):
            keys = getattr(self, "_keys", None) or self._list()
            self._sidecar_keys = {k for k in keys if k.lower().endswith(".txt")}
        return self._sidecar_keys

    def _get(self, key: str, local: Path) -> None:
        from minio.error import S3Error  # deferred: the optional [s3] extra (client() checked it is there)
        from urllib3.exceptions import HTTPError  # connection failures after the SDK's retries

        try:
            self._client.fget_object(self.location.bucket, key, str(local))
        except S3Error as exc:
            raise MotionDataError(self.location.url(key), f"cannot download ({exc.code}: {exc.message})") from None
        except (OSError, HTTPError) as exc:
            raise MotionDataError(self.location.url(key), f"cannot download ({type(exc).__name__}: {exc})") from None
