"""Python-backend ``model.py`` of the local Triton mirrors (copied into each mirror model's version folder).

It runs inside the bundled tritonserver's Python-backend stub, not in this package: it imports only torch, numpy
and ``triton_python_backend_utils``. It loads the exported TorchScript ``model.pt`` named by the ``model_path``
parameter, refuses it (the model fails to load, with the reason in Triton's log) unless its tensors hash to the
``motion_retrieval_weights_sha256`` parameter (the same digest as motion_retrieval.export.identity.weights_sha256;
tests/export/test_triton.py keeps the two in step), and serves it with the tensor names of config.pbtxt, batching
every request of a dynamic batch into one forward call (padding variable-length inputs with zeros up to the longest;
the exported configs have fixed dims, so this only serves older repositories).
"""

import hashlib
import json
import warnings

import numpy as np
import torch
import triton_python_backend_utils as pb_utils

_DEPRECATION_MESSAGE = r"`torch\.jit\.(script|trace|trace_method|save|load)` is deprecated\. Please switch to `torch\."


def _weights_sha256(module) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}/{tensor.dtype}/{tuple(tensor.shape)}\n".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def _pad_to(array, length):
    if array.shape[1] == length:
        return array
    padded = np.zeros((array.shape[0], length) + array.shape[2:], dtype=array.dtype)  # (b, length, ...)
    padded[:, : array.shape[1]] = array
    return padded


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        parameters = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        if parameters.get("num_threads"):
            torch.set_num_threads(int(parameters["num_threads"]))
        self.input_names = [spec["name"] for spec in config["input"]]
        self.variable = [any(int(d) == -1 for d in spec["dims"]) for spec in config["input"]]
        self.output_name = config["output"][0]["name"]
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_DEPRECATION_MESSAGE, category=DeprecationWarning)
            self.model = torch.jit.load(parameters["model_path"], map_location="cpu").eval()
        expected = parameters.get("motion_retrieval_weights_sha256")
        actual = _weights_sha256(self.model)
        if expected is not None and actual != expected:
            raise RuntimeError(
                f"{parameters['model_path']}: its weights do not match model "
                f"{parameters.get('motion_retrieval_model_id', '?')} (sha256 {actual[:12]}..., expected "
                f"{expected[:12]}...): the file was replaced after export; re-export the repository")

    def execute(self, requests):
        try:
            per_request = [[pb_utils.get_input_tensor_by_name(r, n).as_numpy() for n in self.input_names]
                           for r in requests]
            sizes = [arrays[0].shape[0] for arrays in per_request]
            batch = []
            for i, variable in enumerate(self.variable):
                parts = [arrays[i] for arrays in per_request]
                if variable:
                    length = max(p.shape[1] for p in parts)
                    parts = [_pad_to(p, length) for p in parts]
                batch.append(torch.from_numpy(np.ascontiguousarray(np.concatenate(parts, axis=0))))
            with torch.inference_mode():
                output = self.model(*batch).cpu().numpy()  # (sum of sizes, dim)
        except Exception as exc:  # every request of the batch gets the error, the server keeps running
            error = pb_utils.TritonError(f"{type(exc).__name__}: {exc}")
            return [pb_utils.InferenceResponse(output_tensors=[], error=error) for _ in requests]
        responses, start = [], 0
        for size in sizes:
            tensor = pb_utils.Tensor(self.output_name, np.ascontiguousarray(output[start : start + size]))
            responses.append(pb_utils.InferenceResponse(output_tensors=[tensor]))
            start += size
        return responses
