"""The web package needs only the [web] extra: it imports, and reads an uploaded BVH into joints, in an interpreter
where torch, the Milvus client and the model libraries cannot be imported (its image installs none of them)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

HEAVY = ("torch", "pymilvus", "milvus_lite", "transformers", "tritonclient", "pyarrow", "tokenizers", "scipy")


def test_the_web_app_runs_without_the_model_stack(tmp_path):
    from motion_retrieval.data.bvh_write import smpl22_bvh
    from tests.web.conftest import synth_clips

    bvh = tmp_path / "take.bvh"
    bvh.write_text(smpl22_bvh(synth_clips(1)[0].joints, 20.0))
    script = textwrap.dedent(f"""
        import importlib.abc, sys
        class Refuse(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] in {HEAVY!r}:
                    raise ImportError("not in the [web] extra: " + name)
        sys.meta_path.insert(0, Refuse())
        from motion_retrieval_web.app import create_app
        from motion_retrieval_web.config import WebConfig
        from motion_retrieval_web.uploads import read_motion
        create_app(WebConfig(server="127.0.0.1:1"))
        motion = read_motion("take.bvh", open({str(bvh)!r}, "rb").read(), 600)
        print(motion.joints.shape)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    frames, joints, dims = (int(n) for n in done.stdout.strip().strip("()").split(","))
    assert (joints, dims) == (22, 3) and frames > 20
