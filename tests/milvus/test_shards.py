"""``ingest --shard I/N``: shards partition the files (disjoint, complete, stable under re-runs, added files and a
moved root); shard processes share one collection with no coordination beyond upserts, on a real Milvus server,
concurrently; a killed shard resumes where its rows stopped."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from milvus_testkit import ACTIONS, npy_reader, write_motion

from motion_retrieval.cli import main
from motion_retrieval.data.shards import RecordWalk, Shard, shard_of
from motion_retrieval.errors import ConfigError
from motion_retrieval.inference.embedder import TorchScriptEmbedder
from motion_retrieval_milvus import MilvusConfig, MotionStore

HERE = Path(__file__).resolve().parent


def make_archive(root: Path, count: int, start: int = 0) -> list[str]:
    """``count`` motion files spread over nested folders; returns their paths relative to ``root``."""
    names = []
    for i in range(start, start + count):
        folder = root / ("a" if i % 3 == 0 else "b/c" if i % 3 == 1 else "")
        folder.mkdir(parents=True, exist_ok=True)
        write_motion(folder, f"m{i:03d}", i % len(ACTIONS), 30 + i % 20, i, [f"a person does {ACTIONS[i % 6]} {i}"])
        names.append((folder / f"m{i:03d}.npy").relative_to(root).as_posix())
    return names


def tree_reader(path, errors=None):
    """``npy_reader`` over a whole tree (it reads one folder level), as load_path reads folders."""
    path = Path(path)
    for file in sorted(path.rglob("*.npy")) if path.is_dir() else [path]:
        yield from npy_reader(file, errors)


def shard_files(root: Path, shard: Shard) -> set[str]:
    walk = RecordWalk([root], tree_reader, shard)
    sources = {Path(r.source).relative_to(root).as_posix() for r in walk}
    assert sources == {Path(f).relative_to(root).as_posix() for f in walk.files}  # counted as read
    return sources


@pytest.mark.parametrize("count", [1, 3, 7])
def test_shards_are_disjoint_and_cover_the_folder(tmp_path, count):
    everything = set(make_archive(tmp_path / "archive", 40))
    parts = [shard_files(tmp_path / "archive", Shard(i, count)) for i in range(count)]
    assert set().union(*parts) == everything
    assert sum(len(p) for p in parts) == len(everything)  # disjoint
    if count > 1:
        assert all(parts)  # 40 files over at most 7 shards: none empty (a hash that sent everything to one would)


def test_shards_are_stable_under_reruns_added_files_and_a_moved_root(tmp_path):
    first = make_archive(tmp_path / "archive", 30)
    before = [shard_files(tmp_path / "archive", Shard(i, 4)) for i in range(4)]
    assert before == [shard_files(tmp_path / "archive", Shard(i, 4)) for i in range(4)]  # re-run
    added = make_archive(tmp_path / "archive", 15, start=30)
    after = [shard_files(tmp_path / "archive", Shard(i, 4)) for i in range(4)]
    for i in range(4):
        assert before[i] <= after[i]  # every old file stays in its shard; only new files join
        assert after[i] - before[i] == {f for f in added if shard_of(f, 4) == i}
    shutil.move(tmp_path / "archive", tmp_path / "moved")  # relative paths, not absolute ones, decide
    assert [shard_files(tmp_path / "moved", Shard(i, 4)) for i in range(4)] == after
    assert set(first) <= set().union(*after)


@pytest.mark.parametrize("text", ["3/3", "-1/2", "1", "a/b", "0/0", "1/2/3"])
def test_bad_shard_specs_are_refused(text):
    with pytest.raises(ConfigError, match="0 <= I < N"):
        Shard.parse(text)


def test_cli_shards_into_one_lite_collection(tmp_path, capsys, model_repository, cmu_bvh_dir):
    """Three shard runs (one after another: a Lite file takes one process at a time) write what one unsharded
    ingest writes, and count only their own files."""
    archive = tmp_path / "takes"
    for i, name in enumerate(["131_01", "131_02", "131_03"] * 2):
        folder = archive / f"subject{i % 2}"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(cmu_bvh_dir / f"{name}.bvh", folder / f"{name}.bvh")
    base = ["--model-repository", model_repository, "--json", "--progress-interval", "0"]

    def ingest(db: Path, *extra) -> dict:
        code = main([str(a) for a in ["ingest", archive, "--milvus", db, *base, *extra]])
        out = capsys.readouterr().out
        assert code == 0, out
        return json.loads(out)

    whole = ingest(tmp_path / "whole.db")
    parts = [ingest(tmp_path / "sharded.db", "--shard", f"{i}/3") for i in range(3)]
    assert whole["files"] == 6 and sum(p["files"] for p in parts) == 6
    assert sum(p["ingested"] for p in parts) == whole["ingested"] == whole["windows"]
    assert parts[-1]["stats"]["motions"] == whole["stats"]["motions"]
    again = ingest(tmp_path / "sharded.db", "--shard", "1/3")  # a retried pod: nothing to do
    assert again["ingested"] == 0 and again["unchanged"] == parts[1]["windows"]


# ------------------------------------------------------------------------------------------------------------------
# Concurrent shard processes on a real Milvus server (Milvus Lite opens a file in one process only).
# ------------------------------------------------------------------------------------------------------------------
def _shard_script(uri: str, prefix: str, corpus: Path, model_repository: Path, shard: str, delay: float) -> str:
    """A child process ingesting one shard with the real exported towers, slowed per batch (so that shards overlap
    in time and a kill lands between batches); prints its summary as JSON."""
    return textwrap.dedent(f"""
        import json, sys, time
        sys.path.insert(0, {str(HERE)!r})
        from milvus_testkit import npy_reader
        from motion_retrieval.data.shards import Shard
        from motion_retrieval_milvus import MilvusConfig, MotionStore, ingest_paths
        from motion_retrieval.inference.embedder import TorchScriptEmbedder

        class Slow(TorchScriptEmbedder):
            def embed_motions(self, motions):
                time.sleep({delay})
                return super().embed_motions(motions)

        embedder = Slow({str(model_repository)!r})
        with MotionStore.open(MilvusConfig({uri!r}), embedder.model_id, embedder.dim, prefix={prefix!r}) as store:
            summary = ingest_paths([{str(corpus)!r}], store, embedder, batch_size=3, reader=npy_reader,
                                   progress=False, shard=Shard.parse({shard!r}))
        print(json.dumps(summary.to_dict()))
    """)


def _spawn(script: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(child: subprocess.Popen, timeout: float = 180) -> dict:
    out, err = child.communicate(timeout=timeout)
    assert child.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.milvus_server
def test_two_concurrent_shards_end_with_exactly_the_expected_rows(milvus_server, model_repository, tmp_path):
    corpus = tmp_path / "archive"
    names = make_archive(corpus, 24)
    prefix = f"shard{uuid.uuid4().hex[:6]}"
    children = [_spawn(_shard_script(milvus_server.uri, prefix, corpus, model_repository, f"{i}/2", 0.3))
                for i in range(2)]
    try:
        summaries = [_finish(child) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    assert sum(s["files"] for s in summaries) == len(names) and all(s["files"] for s in summaries)
    assert sum(s["ingested"] for s in summaries) == len(names)
    embedder = TorchScriptEmbedder(model_repository)
    with MotionStore.open(MilvusConfig(milvus_server.uri), embedder.model_id, embedder.dim, prefix=prefix,
                          create=False) as store:
        assert store.count(store.names.motions) == len(names)
        assert store.count(store.names.captions) == len(names)


@pytest.mark.milvus_server
def test_a_killed_shard_resumes(milvus_server, model_repository, tmp_path):
    corpus = tmp_path / "archive"
    names = make_archive(corpus, 36)
    mine = [n for n in names if shard_of(n, 2) == 1]
    prefix = f"resume{uuid.uuid4().hex[:6]}"
    embedder = TorchScriptEmbedder(model_repository)
    child = _spawn(_shard_script(milvus_server.uri, prefix, corpus, model_repository, "1/2", 0.7))
    store = None
    landed = 0
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.2)
            if store is None:
                try:
                    store = MotionStore.open(MilvusConfig(milvus_server.uri), embedder.model_id, embedder.dim,
                                             prefix=prefix, create=False)
                except Exception:  # noqa: BLE001 (the child has not created the collections yet)
                    continue
            landed = store.count(store.names.motions)
            if landed >= 6:
                os.kill(child.pid, signal.SIGKILL)  # a pod evicted mid-shard
                break
        child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL, child.stderr.read()[-2000:]
        assert 6 <= landed < len(mine)
        rerun = _finish(_spawn(_shard_script(milvus_server.uri, prefix, corpus, model_repository, "1/2", 0.0)))
        assert rerun["unchanged"] >= landed and rerun["unchanged"] + rerun["ingested"] == len(mine)
        assert store.count(store.names.motions) == len(mine)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if store is not None:
            store.close()
