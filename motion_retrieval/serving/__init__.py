"""The serving contract: what an exported model repository promises, and what every user of it does to inputs.

Light on purpose (numpy; ``tokenizers`` for tokenizer.py only; never torch), so that the gRPC client, the service
and the Milvus plugin share one definition without carrying the training stack:

```
tensors.py     model and tensor names, FEATURE_DIM / FPS / MAX_FRAMES, the little-endian float32 wire codec
repository.py  REPO/motion_retrieval.json: RepositoryInfo (model id, sizes, serving options, weight digests,
               exporting torch), read and written here only
tokenizer.py   captions -> fixed-length INPUT_IDS / ATTENTION_MASK with the repository's tokenizer.json
motions.py     motion checks and preprocessing: validate once, bound frames at 20 fps, pad/resample to the served
               tensors (joints -> features is the core's: data.joint_input)
inputs.py      InputError (field + problem) and the checks of texts, batches, ids and embeddings
embedding.py   the Embedder protocol (model_id, dim, embed_texts, embed_motions)
hits.py        the one hit schema (MotionHit, CaptionHit) of local and remote searches
```
This package imports nothing from its submodules: import the one you need.
"""
