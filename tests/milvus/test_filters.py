"""SearchFilter -> expression + parameters, and the strict literal rendering for backends without templating."""

from __future__ import annotations

import pytest

from motion_retrieval_milvus.connection import supports_filter_templates
from motion_retrieval_milvus.errors import FilterError
from motion_retrieval_milvus.filters import SearchFilter, equals_filter, ids_filter


def test_compile_uses_placeholders_and_keeps_values_out_of_the_template():
    compiled = SearchFilter(dataset="humanml3d", min_duration=2, max_duration=9.5, fps=20, tags_any=["walk"],
                            tags_all=("a", "b"), source_prefix="/data/x").compile()
    assert "humanml3d" not in compiled.template and "/data/x" not in compiled.template
    assert compiled.template == (
        "dataset == {p0} and duration_s >= {p1} and duration_s <= {p2} and (fps >= {p3} and fps <= {p4}) and "
        "array_contains_any(tags, {p5}) and array_contains_all(tags, {p6}) and (source >= {p7} and source < {p8})"
    )
    assert compiled.params["p0"] == "humanml3d" and compiled.params["p5"] == ["walk"]
    assert compiled.params["p8"] == "/data/y"  # the prefix range's exclusive upper bound


def test_render_escapes_and_for_backend_switches_on_templating():
    compiled = SearchFilter(dataset=["kitml", "humanml3d"], source_prefix='/d/it"s\\x').compile()
    assert compiled.render() == (
        'dataset in ["kitml", "humanml3d"] and (source >= "/d/it\\"s\\\\x" and source < "/d/it\\"s\\\\y")'
    )
    assert compiled.for_backend(templating=True) == (compiled.template, compiled.params)
    assert compiled.for_backend(templating=False) == (compiled.render(), {})
    assert SearchFilter().compile().for_backend(False) == ("", {})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dataset": 'x" or dataset != "'}, "not allowed"),
        ({"tags_any": ['a"]) or true or array_contains_any(tags, ["']}, "not allowed"),
        ({"tags_all": ["ok", 3]}, "must hold strings"),
        ({"dataset": "a\\b"}, "not allowed"),
        ({"min_duration": "5"}, "must be a number"),
        ({"max_duration": True}, "must be a number"),
        ({"fps": float("nan")}, "finite"),
        ({"min_duration": -1}, ">= 0"),
        ({"min_duration": 5, "max_duration": 1}, "larger than"),
        ({"source_prefix": "/a\n/b"}, "control characters"),
        ({"source_prefix": 7}, "must be a string"),
        ({"tags_any": ["t"] * 65}, "at most 64"),
    ],
)
def test_bad_values_are_rejected_with_the_field_named(kwargs, message):
    with pytest.raises(FilterError, match=message):
        SearchFilter(**kwargs)


def test_from_dict_refuses_unknown_fields_and_round_trips():
    with pytest.raises(FilterError, match=r"unknown filter field\(s\) \['dataset; drop'\]"):
        SearchFilter.from_dict({"dataset; drop": "x"})
    with pytest.raises(FilterError, match="mapping"):
        SearchFilter.from_dict(["dataset"])
    original = SearchFilter(dataset="kitml", tags_any=("a",), min_duration=1.0)
    assert SearchFilter.from_dict(original.to_dict()) == original
    assert SearchFilter.from_dict(None).is_empty


def test_internal_filters_validate_ids_and_escape_values():
    assert ids_filter(["ab12", "cd34"]).render() == 'id in ["ab12", "cd34"]'
    with pytest.raises(FilterError, match="not a valid motion id"):
        ids_filter(['x" or id != "'])
    assert equals_filter("source", 'a"b').render() == 'source == "a\\"b"'


def test_templating_support_by_server_version():
    assert not supports_filter_templates("milvus_lite-3.2.2")
    assert not supports_filter_templates("v2.3.5-lite")
    assert not supports_filter_templates("v2.4.9")
    assert supports_filter_templates("v2.5.4")
    assert supports_filter_templates("v2.6.0-rc1")
    assert not supports_filter_templates("unknown")
