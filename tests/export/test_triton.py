"""Through the REAL bundled tritonserver (nvidia-pytriton), over gRPC, as the service talks to it."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from motion_retrieval.export.triton_local import LocalTriton, TritonError
from motion_retrieval.inference.embedder import TorchScriptEmbedder
from motion_retrieval.serving.motions import pad_motions
from motion_retrieval.serving.repository import MODEL_ID_PARAMETER, read_repository_info
from motion_retrieval.serving.tokenizer import TextTokenizer

grpcclient = pytest.importorskip("tritonclient.grpc")
pytestmark = pytest.mark.triton

CAPTIONS = ["a person walks forward and sits down", "jump", "someone waves with the left hand, then bows"]


def _infer(client, model: str, named: dict[str, tuple[np.ndarray, str]]) -> np.ndarray:
    inputs = []
    for name, (array, dtype) in named.items():
        tensor = grpcclient.InferInput(name, list(array.shape), dtype)
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    return client.infer(model, inputs).as_numpy("EMBEDDING__0")


def _motion_inputs(motion, mask):
    return {"MOTION__0": (motion, "FP32"), "MASK__1": (mask, "BOOL")}


def _text_inputs(ids, attention):
    return {"INPUT_IDS__0": (ids, "INT64"), "ATTENTION_MASK__1": (attention, "INT64")}


@pytest.fixture(scope="module")
def motions(humanml3d_sample):
    real = np.load(humanml3d_sample / "new_joint_vecs" / "012314.npy")
    rng = np.random.default_rng(1)
    motions = [real, real[:50], np.concatenate([real, real]), real[::3] + rng.normal(0, 0.05, (57, 263))]
    return [m.astype(np.float32) for m in motions]


def _served_tokens(repo, captions):
    """Token ids as the service sends them: padded to the model's fixed length."""
    info = read_repository_info(repo)
    return TextTokenizer(info.tokenizer, info.max_text_tokens).encode(captions)


def test_triton_embeddings_equal_in_process_ones(local_triton, tiny_repo, motions):
    embedder = TorchScriptEmbedder(tiny_repo)
    client = grpcclient.InferenceServerClient(local_triton.urls.grpc)
    assert client.is_model_ready("motion_encoder") and client.is_model_ready("text_encoder")
    motion, mask = pad_motions(motions)
    served = _infer(client, "motion_encoder", _motion_inputs(motion, mask))
    assert served.shape == (4, 256) and served.dtype == np.float32
    np.testing.assert_allclose(served, embedder.embed_motions(motions), rtol=0, atol=1e-6)
    ids, attention = _served_tokens(tiny_repo, CAPTIONS)
    assert ids.shape == (3, 32)
    served_text = _infer(client, "text_encoder", _text_inputs(ids, attention))
    np.testing.assert_allclose(served_text, embedder.embed_texts(CAPTIONS), rtol=0, atol=1e-6)


def test_a_sample_is_the_same_alone_or_inside_a_dynamic_batch(local_triton, tiny_repo, motions):
    """Concurrent single-sample requests are merged by the dynamic batcher; each answer equals the lone one."""
    embedder = TorchScriptEmbedder(tiny_repo)
    client = grpcclient.InferenceServerClient(local_triton.urls.grpc)
    singles = [pad_motions([m]) for m in motions for _ in range(2)]  # 8 requests of batch 1
    alone = [_infer(client, "motion_encoder", _motion_inputs(*s))[0] for s in singles]
    before = _stats(client, "motion_encoder")

    answers: queue.Queue = queue.Queue()

    def done(index):
        def callback(result=None, error=None):  # tritonclient calls callback(result=..., error=...)
            answers.put((index, error if error is not None else result.as_numpy("EMBEDDING__0")[0]))
        return callback

    for index, single in enumerate(singles):
        inputs = []
        for name, (array, dtype) in _motion_inputs(*single).items():
            tensor = grpcclient.InferInput(name, list(array.shape), dtype)
            tensor.set_data_from_numpy(array)
            inputs.append(tensor)
        client.async_infer("motion_encoder", inputs, done(index))
    results = dict(answers.get(timeout=60) for _ in singles)
    client.close()
    errors = [str(r) for r in results.values() if not isinstance(r, np.ndarray)]
    assert not errors and len(results) == len(singles)
    for index, expected in enumerate(alone):
        np.testing.assert_allclose(results[index], expected, rtol=0, atol=1e-6)
        np.testing.assert_allclose(results[index], embedder.embed_motions([motions[index // 2]])[0], atol=1e-6)

    after = _stats_after(grpcclient.InferenceServerClient(local_triton.urls.grpc), "motion_encoder",
                         before["inference_count"] + len(singles))
    inferences, executions = (after[k] - before[k] for k in ("inference_count", "execution_count"))
    assert inferences == len(singles)
    assert executions < inferences, "the dynamic batcher merged no requests"


def test_texts_of_any_length_merge_in_one_dynamic_batch(local_triton, tiny_repo):
    """Fixed token dims: concurrent requests with captions of different lengths are executed together (with the old
    [-1] dims Triton's batcher could merge only equal lengths), and each answer equals the lone one."""
    captions = ["walk", "a person walks forward and sits down", "someone waves with the left hand, then bows",
                "jump twice", "a man kicks with his right leg while turning around", "run", "sit", "a person bows"]
    client = grpcclient.InferenceServerClient(local_triton.urls.grpc)
    singles = [_served_tokens(tiny_repo, [c]) for c in captions]
    assert len({int(s[1].sum()) for s in singles}) > 4  # really different lengths
    alone = [_infer(client, "text_encoder", _text_inputs(*s))[0] for s in singles]
    before = _stats(client, "text_encoder")
    answers: queue.Queue = queue.Queue()
    for index, single in enumerate(singles):
        inputs = []
        for name, (array, dtype) in _text_inputs(*single).items():
            tensor = grpcclient.InferInput(name, list(array.shape), dtype)
            tensor.set_data_from_numpy(array)
            inputs.append(tensor)
        client.async_infer("text_encoder", inputs,
                           lambda result=None, error=None, i=index: answers.put((i, error or result.as_numpy(
                               "EMBEDDING__0")[0])))
    results = dict(answers.get(timeout=60) for _ in singles)
    after = _stats_after(client, "text_encoder", before["inference_count"] + len(singles))
    client.close()
    for index, expected in enumerate(alone):
        np.testing.assert_allclose(results[index], expected, rtol=0, atol=1e-6)
    inferences, executions = (after[k] - before[k] for k in ("inference_count", "execution_count"))
    assert inferences == len(singles) and executions < inferences, (inferences, executions)


def test_mirrors_carry_the_model_id_and_refuse_swapped_weights(local_triton, tiny_repo, tmp_path, export_tiny_repo):
    client = grpcclient.InferenceServerClient(local_triton.urls.grpc)
    model_id = read_repository_info(tiny_repo).model_id
    for model in ("motion_encoder", "text_encoder"):
        config = client.get_model_config(model).config
        assert config.parameters[MODEL_ID_PARAMETER].string_value == model_id
    client.close()
    other = export_tiny_repo(tmp_path / "other", seed=1)
    swapped = tmp_path / "swapped"
    shutil.copytree(tiny_repo, swapped)
    shutil.copyfile(other.info.text_model, swapped / "text_encoder" / "1" / "model.pt")
    expected = r"(?s)tritonserver exited with code 1: .*text_encoder.*its weights do not match model mr-"
    with pytest.raises(TritonError, match=expected), LocalTriton(swapped, num_threads=1):
        pass


def _stats(client, model: str) -> dict[str, int]:
    stats = client.get_inference_statistics(model, as_json=True)["model_stats"][0]
    return {"inference_count": int(stats.get("inference_count", 0)),
            "execution_count": int(stats.get("execution_count", 0))}


def _stats_after(client, model: str, inferences: int, timeout: float = 10.0) -> dict[str, int]:
    """The model's statistics once they count ``inferences``: Triton records a request's statistics after its
    response is on the wire, so a client that has every answer can still read the counts of before (seen on a loaded
    machine). Returns what it last read when the deadline passes, for the caller's assertion to report."""
    deadline = time.monotonic() + timeout
    stats = _stats(client, model)
    while stats["inference_count"] < inferences and time.monotonic() < deadline:
        time.sleep(0.05)
        stats = _stats(client, model)
    return stats


def _children(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(entry.name))
    return children


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_triton_cli_serves_until_sigterm_and_leaves_no_process(tiny_repo):
    command = [sys.executable, "-m", "motion_retrieval", "triton", "--model-repository", str(tiny_repo),
               "--num-threads", "1", "--json"]
    cli = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = cli.stdout.readline()
        assert line, cli.stderr.read()
        endpoints = json.loads(line)
        assert set(endpoints) >= {"grpc", "http", "metrics", "pid", "model_id"}
        client = grpcclient.InferenceServerClient(endpoints["grpc"])
        assert client.is_server_ready() and client.is_model_ready("text_encoder")
        server_pid = endpoints["pid"]
        stubs = _children(server_pid)
        assert stubs, "the Python-backend stubs run as children of tritonserver"
        cli.send_signal(signal.SIGTERM)
        assert cli.wait(timeout=60) == 0
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    for pid in [server_pid, *stubs]:
        assert not _alive(pid), f"process {pid} outlived `motion-retrieval triton`"
    with pytest.raises(ProcessLookupError):
        os.killpg(server_pid, 0)  # nothing left in the server's process group


def test_a_model_that_fails_to_load_reports_the_server_log(tmp_path, tiny_repo):
    broken = tmp_path / "repo"
    shutil.copytree(tiny_repo, broken)
    (broken / "text_encoder" / "1" / "model.pt").write_bytes(b"not TorchScript")
    expected = r"(?s)tritonserver exited with code 1: .*text_encoder 1 UNAVAILABLE.*not a ZIP archive"
    with pytest.raises(TritonError, match=expected), LocalTriton(broken, num_threads=1):
        pass
