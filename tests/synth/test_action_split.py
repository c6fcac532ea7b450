"""The unseen-action split: seen corpora never hold a held-out family, unseen corpora hold nothing else."""

from __future__ import annotations

import json

import pytest

from motion_retrieval.cli import main
from motion_retrieval.errors import ConfigError
from motion_retrieval.synth.action_split import CONTROL_FAMILIES, UNSEEN_FAMILIES, in_split
from motion_retrieval.synth.actions import FAMILIES
from motion_retrieval.synth.corpus import CorpusConfig, generate_corpus


def actions_of(corpus) -> dict[str, list[str]]:
    manifest = json.loads((corpus / "synth.json").read_text())
    return {clip: [family for family, _ in actions] for clip, actions in manifest["actions"].items()}


def test_the_held_out_families_exist_and_span_the_kinds_of_action():
    assert len(UNSEEN_FAMILIES) >= 8 and len(set(UNSEEN_FAMILIES)) == len(UNSEEN_FAMILIES)
    assert set(UNSEEN_FAMILIES) <= set(FAMILIES)
    modules = {module_of(name) for name in UNSEEN_FAMILIES}
    # locomotion, gestures, sports (exercise: the upper-body and sports moves) and everyday actions at least
    assert {"locomotion", "gestures", "exercise", "everyday"} <= modules
    assert all(FAMILIES[name].kind != "idle" for name in UNSEEN_FAMILIES)


def module_of(name: str) -> str:
    return FAMILIES[name].build.__module__.rsplit(".", 1)[-1]


def test_the_control_families_are_seen_and_match_the_held_out_ones_module_by_module():
    assert set(CONTROL_FAMILIES) <= set(FAMILIES) and not set(CONTROL_FAMILIES) & set(UNSEEN_FAMILIES)
    assert all(in_split(name, "seen") and not in_split(name, "unseen") for name in CONTROL_FAMILIES)
    assert sorted(map(module_of, CONTROL_FAMILIES)) == sorted(map(module_of, UNSEEN_FAMILIES))


@pytest.mark.parametrize("dialect", ["humanml3d", "kitml"])
def test_seen_and_unseen_corpora_partition_the_families(tmp_path, dialect):
    seen = tmp_path / "seen"
    unseen = tmp_path / "unseen"
    generate_corpus(seen, dialect, n=40, seed=7, action_split="seen")
    generate_corpus(unseen, dialect, n=40, seed=7, action_split="unseen")
    seen_families = {f for clip in actions_of(seen).values() for f in clip}
    unseen_families = {f for clip in actions_of(unseen).values() for f in clip}
    assert not seen_families & set(UNSEEN_FAMILIES)
    # only held-out actions, and the idle filler that may end a sequence ("... and then stands still")
    assert unseen_families - {"stand"} <= set(UNSEEN_FAMILIES) and len(unseen_families - {"stand"}) >= 6
    manifest = json.loads((unseen / "synth.json").read_text())
    assert manifest["config"]["action_split"] == "unseen"
    assert set(manifest["families"]) - {"stand"} <= set(UNSEEN_FAMILIES)


def test_a_control_corpus_draws_only_the_control_families(tmp_path):
    generate_corpus(tmp_path / "control", "humanml3d", n=30, seed=7, action_split="control")
    assert {f for clip in actions_of(tmp_path / "control").values() for f in clip} - {"stand"} <= set(CONTROL_FAMILIES)


def test_the_default_split_draws_every_family():
    assert all(in_split(name, "all") for name in FAMILIES)
    assert CorpusConfig().action_split == "all"


def test_an_unknown_split_is_refused_by_name():
    with pytest.raises(ConfigError, match="unknown action split 'novel'; choose one of all, seen, unseen, control"):
        CorpusConfig(action_split="novel")
    with pytest.raises(ConfigError, match="unknown action split"):
        in_split("walk", "novel")


def test_cli_writes_an_unseen_action_corpus(tmp_path, capsys):
    out = tmp_path / "unseen"
    assert main(["synth", "--out", str(out), "--n", "12", "--seed", "3", "--actions", "unseen", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["motions"] == 24 and summary["families"] == len(UNSEEN_FAMILIES) + 1  # + the idle filler
    assert {f for clip in actions_of(out).values() for f in clip} - {"stand"} <= set(UNSEEN_FAMILIES)
