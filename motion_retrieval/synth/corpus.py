"""Generate the procedural text-motion corpus and write it in the real HumanML3D / KIT-ML folder format.

Each clip is one to three actions (``actions/``) performed by a body with random proportions and rest-pose
geometry (``body.py``), in a style (``styles.py``: tired, proud, sneaky, ... or neutral) with its own tempo and
amplitude, joined by cross-fades and short pauses, with secondary motion on top (``secondary.py``: posture,
breathing, sway, head motion, weight shifts, collar rhythm, wobble), rendered by forward kinematics
(``program.py``), turned into features by the real HumanML3D pipeline (``features.joints_to_features``), captioned
three or four times (``captions.py``), and mirrored left/right as the real datasets are (``M``-prefixed ids in the
same split).

Variants (``variants.py``): ``train`` (the default) and ``transfer``, a corpus of what training corpora never
contain, for model selection: held-out caption templates, phrases, subjects and synonyms, body proportions, rest
poses and tempos outside the training ranges, held-out styles and held-out action forms.

Determinism: clip ``i`` draws from its own generator seeded with ``(seed, dialect, i)`` (and the variant), so a
seed gives byte-identical files, and a corpus of ``n`` clips is a prefix of one of ``n + k`` clips with the same
seed.

Dialects (``DIALECTS``): ``humanml3d`` writes SMPL-22 joints in metres at 20 fps with 263-d features and 6-digit
ids; ``kitml`` writes KIT-ML's 21-joint MMM skeleton in millimetres at 12.5 fps with 251-d features and 5-digit ids,
a different mix of families (more walking, no sports moves, some household and music actions) and its own phrasing.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from motion_retrieval.data.humanml3d import write_motion, write_split, write_stats
from motion_retrieval.data.record import Caption
from motion_retrieval.errors import ConfigError
from motion_retrieval.features import joints_to_features
from motion_retrieval.mirror import mirror_caption, mirror_joints
from motion_retrieval.skeleton import KIT21, SMPL22, SkeletonSpec
from motion_retrieval.stats import compute_stats
from motion_retrieval.synth.action_split import ACTION_SPLITS, in_split
from motion_retrieval.synth.actions import ActionContext, Family, build_action, families_for
from motion_retrieval.synth.body import BodyRig, sample_proportions, sample_rest_shape
from motion_retrieval.synth.captions import caption_clip
from motion_retrieval.synth.pos_tags import pos_tokens
from motion_retrieval.synth.program import Program, render
from motion_retrieval.synth.secondary import add_secondary_motion
from motion_retrieval.synth.styles import NEUTRAL, Style, style_allows, styles_for
from motion_retrieval.synth.variants import VARIANTS, draw

__all__ = ["DIALECTS", "CorpusConfig", "CorpusSummary", "DialectSpec", "SynthClip", "generate_clip",
           "generate_corpus", "sample_actions", "sample_style"]

log = logging.getLogger(__name__)
MANIFEST = "synth.json"  # our own record of how the corpus was made (the real datasets have no such file)


@dataclass(frozen=True)
class DialectSpec:
    name: str
    skeleton: SkeletonSpec
    id_digits: int
    min_seconds: float  # Guo's loaders drop clips under 40 frames (HumanML3D) / 24 frames (KIT)
    max_seconds: float  # and of 200 frames or more
    family_weights: dict[str, float] = field(default_factory=dict)  # overrides of Family.weight


DIALECTS: dict[str, DialectSpec] = {
    "humanml3d": DialectSpec("humanml3d", SMPL22, 6, 2.1, 9.9),
    # KIT-ML is mostly locomotion: weigh walking up, as in the real dataset.
    "kitml": DialectSpec("kitml", KIT21, 5, 2.2, 9.9,
                         {"walk": 6.0, "walk_backward": 2.0, "turn": 3.0, "run": 2.0, "walk_circle": 2.0}),
}


@dataclass(frozen=True)
class CorpusConfig:
    """How a corpus is sampled. The defaults are what ``motion-retrieval synth`` uses."""

    dialect: str = "humanml3d"
    n: int = 1000  # original clips; the corpus holds twice as many motions with the mirrors
    seed: int = 0
    two_action_fraction: float = 0.4  # clips that are a sequence of two actions ("walks forward, then turns")
    three_action_fraction: float = 0.1  # and of three
    captions_per_clip: tuple[int, int] = (3, 4)  # inclusive range
    split_fractions: tuple[float, float, float] = (0.80, 0.05, 0.15)  # train / val / test, by original clip
    mirrors: bool = True
    noise: float = 1.0  # scale of the secondary motion: posture, breathing, sway, wobble (0 = clean templates)
    variant: str = "train"  # train | transfer (what training never contains; see variants.py)
    style_fraction: float = 0.5  # clips performed in a style other than neutral
    action_split: str = "all"  # all | seen | unseen | control: which action families clips draw (action_split.py)

    def __post_init__(self) -> None:
        if self.dialect not in DIALECTS:
            raise ConfigError(f"unknown dialect {self.dialect!r}; choose one of {', '.join(DIALECTS)}")
        if self.variant not in VARIANTS:
            raise ConfigError(f"unknown variant {self.variant!r}; choose one of {', '.join(VARIANTS)}")
        if self.action_split not in ACTION_SPLITS:
            raise ConfigError(f"unknown action split {self.action_split!r}; choose one of {', '.join(ACTION_SPLITS)}")
        if not 0 <= self.style_fraction <= 1:
            raise ConfigError(f"style_fraction must be within [0, 1], got {self.style_fraction}")
        if self.n < 1:
            raise ConfigError(f"n must be at least 1, got {self.n}")
        if not 0 <= self.two_action_fraction + self.three_action_fraction <= 1:
            raise ConfigError("two_action_fraction + three_action_fraction must be within [0, 1]")
        if abs(sum(self.split_fractions) - 1.0) > 1e-6 or min(self.split_fractions) < 0:
            raise ConfigError(f"split_fractions must be three non-negative numbers summing to 1, "
                              f"got {self.split_fractions}")
        lo, hi = self.captions_per_clip
        if not 1 <= lo <= hi:
            raise ConfigError(f"captions_per_clip must be (lo, hi) with 1 <= lo <= hi, got {self.captions_per_clip}")
        if self.noise < 0:
            raise ConfigError(f"noise must be >= 0, got {self.noise}")


@dataclass
class SynthClip:
    """One generated clip before writing."""

    actions: list[tuple[str, dict]]  # (family, params) in temporal order
    style: str  # the style it is performed in ("neutral" for none)
    joints: np.ndarray  # (T, J, 3) float32 in the skeleton's units
    captions: list[str]
    fps: float
    skeleton: SkeletonSpec


@dataclass
class CorpusSummary:
    out_dir: str
    dialect: str
    seed: int
    variant: str
    originals: int
    motions: int  # with mirrors
    captions: int
    splits: dict[str, int]  # motions per split file
    families: int  # families this dialect samples from
    family_counts: dict[str, int]  # original clips containing each family
    style_counts: dict[str, int]  # original clips per style
    seconds_total: float
    elapsed_s: float

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------------------------------------------
# Sampling one clip
# ---------------------------------------------------------------------------------------------------------------
def _weights(families: list[Family], dialect: DialectSpec) -> np.ndarray:
    w = np.array([dialect.family_weights.get(f.name, f.weight) for f in families], dtype=np.float64)
    return w / w.sum()


def sample_style(rng: np.random.Generator, config: CorpusConfig) -> Style:
    """The style of one clip: neutral, or one of the variant's styles."""
    if rng.random() >= config.style_fraction:
        return NEUTRAL
    styles = styles_for(config.variant)
    return styles[int(rng.integers(len(styles)))]


def _sample_params(fam: Family, rng: np.random.Generator, variant: str, style: Style) -> dict | None:
    """Parameters compatible with ``style`` (its speed words stay true), or None after a few tries."""
    for _ in range(8):
        params = fam.sample_params(rng, variant)
        if style_allows(style, fam.name, params):
            return params
    return None


def sample_actions(rng: np.random.Generator, config: CorpusConfig,
                   style: Style = NEUTRAL) -> list[tuple[str, dict]]:
    """The (family, params) list of one clip: one to three actions whose postures chain up and suit ``style``."""
    dialect = DIALECTS[config.dialect]
    families = [f for f in families_for(config.dialect)
                if f.name not in style.excludes and in_split(f.name, config.action_split, f.kind)]
    r = rng.random()
    count = 3 if r < config.three_action_fraction else 2 if r < config.three_action_fraction + \
        config.two_action_fraction else 1
    chosen: list[tuple[str, dict]] = []
    posture = None
    for index in range(count):
        allowed = [f for f in families
                   if (posture is None or f.start == posture) and (not chosen or f.name != chosen[-1][0])]
        idle = [f for f in allowed if f.kind == "idle"]
        active = [f for f in allowed if f.kind != "idle"]
        if chosen and not active and not idle:
            break  # an action split may hold nothing that continues from this posture
        params = None
        while params is None:
            if index > 0 and idle and (not active or rng.random() < 0.08):
                fam = idle[int(rng.integers(len(idle)))]  # "... and then stands still"
            else:
                fam = active[int(rng.choice(len(active), p=_weights(active, dialect)))]
            params = _sample_params(fam, rng, config.variant, style)
        chosen.append((fam.name, params))
        posture = fam.end
        if posture not in ("standing", "seated"):
            break  # kneeling / on the floor: nothing in the catalogue continues from there
        if posture == "seated" and index == count - 1:
            break
    return chosen


def _program_for(actions: list[tuple[str, dict]], ctx: ActionContext, rng: np.random.Generator) -> Program:
    """The actions in order, cross-faded; now and then a short pause between two of them."""
    program = None
    for family, params in actions:
        part = build_action(ctx, family, params)
        if program is not None and rng.random() < 0.3:
            program = program.then(Program.still(ctx.fps, rng.uniform(0.25, 0.8)), blend=float(rng.uniform(0.2, 0.4)))
        program = part if program is None else program.then(part, blend=float(rng.uniform(0.2, 0.6)))
    return program


def _person(rng: np.random.Generator, variant: str, style: Style) -> tuple[float, float]:
    """The take's tempo and amplitude: the person's (inside the training ranges, or outside them for transfer)
    times the style's."""
    tempo = draw(rng, 0.88, 1.12, variant) * style.tempo
    amp = draw(rng, 0.88, 1.1, variant) * style.amp
    return tempo, amp


def generate_clip(rng: np.random.Generator, config: CorpusConfig = CorpusConfig(),
                  actions: list[tuple[str, dict]] | None = None, style: Style | None = None) -> SynthClip:
    """One clip: sample (or take) its style, actions, a body and a take, render it and caption it.

    With fixed ``actions`` and no ``style``, a style is drawn as for the corpus and dropped (neutral) when the
    actions do not suit it."""
    dialect = DIALECTS[config.dialect]
    skeleton = dialect.skeleton
    fps = skeleton.fps
    rig = BodyRig(skeleton, sample_proportions(rng, config.variant), sample_rest_shape(rng, config.variant))
    fixed = actions is not None
    if style is None:
        style = sample_style(rng, config)
        if fixed and not all(style_allows(style, f, q) for f, q in actions):
            style = NEUTRAL
    for _attempt in range(30):
        acts = list(actions) if fixed else sample_actions(rng, config, style)
        tempo, amp = _person(rng, config.variant, style)
        ctx = ActionContext(fps=fps, rng=rng, leg=rig.leg_length, tempo=tempo, amp=amp, style=style)
        program = _program_for(acts, ctx, rng)
        lead = float(rng.uniform(0.0, 0.5))
        trail = float(rng.uniform(0.0, 0.6))
        program = program.pad(lead, trail)
        if program.duration < dialect.min_seconds:
            program = program.pad(0.0, dialect.min_seconds - program.duration + 0.1)
        if program.duration <= dialect.max_seconds or fixed:
            break
    else:  # pragma: no cover - every family fits alone; only long sequences are resampled
        raise RuntimeError("could not sample a clip within the length limits")
    if program.duration > dialect.max_seconds:
        keep = int(dialect.max_seconds * fps)
        program = Program(fps, program.dofs[:keep], program.channels[:keep])
    add_secondary_motion(program, rng, style, config.noise)
    joints = rig.to_units(render(program, rig)).astype(np.float32)  # (T, J, 3)
    lo, hi = config.captions_per_clip
    wanted = int(rng.integers(lo, hi + 1))
    captions: list[str] = []
    for _ in range(20 * wanted):
        text = caption_clip(acts, rng, config.dialect, style, config.variant)
        if text.lower().rstrip(".") not in {c.lower().rstrip(".") for c in captions}:
            captions.append(text)
        if len(captions) == wanted:
            break
    return SynthClip(actions=acts, style=style.name, joints=joints, captions=captions, fps=fps, skeleton=skeleton)


def _clip_rng(seed: int, dialect: str, index: int, variant: str = "train") -> np.random.Generator:
    key = [seed, list(DIALECTS).index(dialect), index]
    if variant != "train":  # the training stream keeps its historical seeding
        key.append(VARIANTS.index(variant))
    return np.random.default_rng(key)


# ---------------------------------------------------------------------------------------------------------------
# The corpus on disk
# ---------------------------------------------------------------------------------------------------------------
def _captions(texts: list[str]) -> list[Caption]:
    return [Caption(text=t, tokens=pos_tokens(t)) for t in texts]


def _split_of(n: int, seed: int, fractions: tuple[float, float, float]) -> list[str]:
    order = np.random.default_rng([seed, 99]).permutation(n)
    n_train = int(round(fractions[0] * n))
    n_val = int(round(fractions[1] * n))
    labels = np.empty(n, dtype=object)
    labels[order[:n_train]] = "train"
    labels[order[n_train:n_train + n_val]] = "val"
    labels[order[n_train + n_val:]] = "test"
    return list(labels)


def generate_corpus(out_dir: str | os.PathLike, dialect: str = "humanml3d", n: int = 1000, seed: int = 0,
                    progress: bool = False, config: CorpusConfig | None = None,
                    variant: str = "train", action_split: str = "all") -> CorpusSummary:
    """Write ``n`` clips (and their mirrors) to ``out_dir`` in the HumanML3D / KIT-ML folder layout.

    ``variant`` "transfer" writes the model-selection corpus of what training corpora never contain
    (``variants.py``); ``action_split`` "seen" / "unseen" leaves out / keeps only the held-out action families
    (``action_split.py``). ``config`` overrides everything else when given. The folder must be empty or not exist (a
    corpus is never mixed with other files). Returns counts and timings.
    """
    config = config or CorpusConfig(dialect=dialect, n=n, seed=seed, variant=variant, action_split=action_split)
    spec = DIALECTS[config.dialect]
    skeleton = spec.skeleton
    root = Path(out_dir)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ConfigError(f"{root}: output folder exists and is not empty; choose a new folder")
    root.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    split_of = _split_of(config.n, config.seed, config.split_fractions)
    ids: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    mirrors: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    train_features: list[np.ndarray] = []
    family_counts: dict[str, int] = {}
    style_counts: dict[str, int] = {}
    manifest: dict[str, list] = {}
    styles: dict[str, str] = {}
    n_captions, seconds = 0, 0.0

    indices = range(config.n)
    if progress:
        from tqdm import tqdm  # deferred: tqdm is optional; `synth` registers on the base install

        indices = tqdm(indices, desc=f"synth {config.dialect}", unit="clip")
    for index in indices:
        clip = generate_clip(_clip_rng(config.seed, config.dialect, index, config.variant), config)
        motion_id = f"{index:0{spec.id_digits}d}"
        split = split_of[index]
        features = joints_to_features(clip.joints, skeleton=skeleton, path=motion_id)  # (T-1, 12J-1)
        write_motion(root, motion_id, clip.joints, features, _captions(clip.captions))
        ids[split].append(motion_id)
        if split == "train":
            train_features.append(features)
        if config.mirrors:
            m_joints = mirror_joints(clip.joints, skeleton).astype(np.float32)
            m_features = joints_to_features(m_joints, skeleton=skeleton, path="M" + motion_id)
            m_captions = [mirror_caption(t) for t in clip.captions]
            write_motion(root, "M" + motion_id, m_joints, m_features, _captions(m_captions))
            mirrors[split].append("M" + motion_id)
            n_captions += len(m_captions)
            if split == "train":
                train_features.append(m_features)
        n_captions += len(clip.captions)
        seconds += clip.joints.shape[0] / clip.fps * (2 if config.mirrors else 1)
        for family in {f for f, _ in clip.actions}:
            family_counts[family] = family_counts.get(family, 0) + 1
        manifest[motion_id] = [[f, q] for f, q in clip.actions]
        styles[motion_id] = clip.style
        style_counts[clip.style] = style_counts.get(clip.style, 0) + 1

    split_ids = {name: ids[name] + mirrors[name] for name in ("train", "val", "test")}
    split_ids["train_val"] = split_ids["train"] + split_ids["val"]
    split_ids["all"] = sorted(split_ids["train"] + split_ids["val"] + split_ids["test"])
    for name, values in split_ids.items():
        write_split(root, name, values)
    if train_features:
        mean, std = compute_stats(train_features)
    else:  # a tiny corpus may put nothing in train: fall back to every motion
        mean, std = compute_stats(joints_to_features(np.load(root / "new_joints" / f"{i}.npy"), skeleton=skeleton)
                                  for i in split_ids["all"])
    write_stats(root, mean, std)
    (root / MANIFEST).write_text(json.dumps({
        "generator": "motion_retrieval.synth",
        "variant": config.variant,
        "config": asdict(config),
        "skeleton": skeleton.name,
        "fps": skeleton.fps,
        "units": skeleton.units,
        "families": sorted(f.name for f in families_for(config.dialect)
                           if in_split(f.name, config.action_split, f.kind)),
        "actions": manifest,
        "styles": styles,
    }, sort_keys=True, indent=1) + "\n", encoding="utf-8")
    elapsed = time.perf_counter() - started
    summary = CorpusSummary(
        out_dir=str(root), dialect=config.dialect, seed=config.seed, variant=config.variant, originals=config.n,
        motions=sum(len(v) for k, v in split_ids.items() if k in ("train", "val", "test")), captions=n_captions,
        splits={k: len(v) for k, v in split_ids.items()},
        families=sum(in_split(f.name, config.action_split, f.kind) for f in families_for(config.dialect)),
        family_counts=dict(sorted(family_counts.items())), style_counts=dict(sorted(style_counts.items())),
        seconds_total=round(seconds, 2),
        elapsed_s=round(elapsed, 3),
    )
    log.info("wrote %d motions (%d captions) to %s in %.1f s", summary.motions, n_captions, root, elapsed)
    return summary
