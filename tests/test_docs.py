"""The docs a user meets first stay short, self-contained and true to the tree, and docstrings carry no figures.

README.md is a user guide that must work from a clone of the repository alone (no path outside it, no dead link,
no make target that does not exist). Measured figures live in docs/BENCHMARKS.md and docs/EXPERIMENTS.md with the
command that measures them again; a figure in a docstring goes stale silently, so none may sit there.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
README = REPO_ROOT / "README.md"
README_MAX_LINES = 250
DOCSTRING_ROOTS = ("motion_retrieval", "server", "milvus_plugin", "web")

# [text](target) and ![alt](target); the target ends at whitespace or the closing parenthesis.
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
MAKE_TARGET_USE = re.compile(r"\bmake ([a-z][a-z0-9_-]*)")
MAKE_TARGET_DEF = re.compile(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", re.MULTILINE)

_NUM = r"\d+(?:[.,]\d+)?"
# A measured figure, as opposed to a definition ("10 s windows", "within 20 %", "top 10", "R@1/2/3/5/10 (%)").
MEASURED_FIGURE = re.compile("|".join([
    r"\d+\.\d+ ?%",                                                    # 56.7 %: a score, not a threshold
    rf"(?:R@\d+|mAP|zero-shot|accuracy|recall|precision|goodput|throughput)\b[^.;]{{0,40}}?{_NUM} ?%",  # mAP ... 64 %
    rf"{_NUM} ?%[^.;]{{0,30}}?(?:R@\d+|mAP|zero-shot|accuracy|recall|goodput)",                         # 64 % zero-shot
    rf"R@\d+ (?:of |is |at |reaches )?{_NUM}",                         # R@10 93
    rf"(?:~|≈|about ){_NUM} ?(?:ms|s|min|MiB|GiB|MB|GB)\b",            # ~350 ms, about 10 s
    rf"{_NUM} ?(?:k/s|samples/s|calls/s|clips/s|req/s|motions/s|texts/s)",   # 50 samples/s
    rf"{_NUM} ?(?:x|×) (?:faster|slower|more|less|the)\b",             # 2.1x faster
    rf"{_NUM} ?%? ?(?:->|→) ?{_NUM} ?%",                               # 64 -> 93 %
    rf"{_NUM} ?(?:%|ms|s|min)? (?:against|vs\.?) {_NUM}",              # 41.7 against 49.0, 3.9 s vs 1.4
    rf"{_NUM} ?(?:±|\+/-) ?{_NUM}",                                    # 92.9 ± 0.7
    rf"\bmeasured\b[^.]{{0,20}}?{_NUM} ?(?:%|ms|s|x|×|min)",           # measured: 3.9 s
    r"\bcosine (?:of |is |at |~|≈)?0\.\d{2,}",                         # cosine 0.993
]))
# (file, text) pairs whose match is a definition or a fact of a data set, not a measurement of our code. Keep tiny.
FIGURE_ALLOWLIST: tuple[tuple[str, str], ...] = ()


def markdown_files() -> list[Path]:
    return [README, *sorted((REPO_ROOT / "docs").glob("*.md"))]


def relative_links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)  # code blocks hold no links
    links = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):  # http:, mailto:, in-page anchors
            continue
        links.append(target.split("#", 1)[0])
    return links


def makefile_targets() -> set[str]:
    return set(MAKE_TARGET_DEF.findall((REPO_ROOT / "Makefile").read_text(encoding="utf-8")))


def docstrings(path: Path):
    """(line, docstring) of the module, every class and every function of ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            text = ast.get_docstring(node, clean=False)
            if text:
                yield node.body[0].lineno, text


def figures_at(text: str) -> list[tuple[int, str]]:
    """(line offset in ``text``, figure) of every measured figure; a figure may run across a line break."""
    flat, lines = [], []  # whitespace runs collapsed to one space; the line each kept character came from
    line = 0
    for char in text:
        if char.isspace():
            if flat and flat[-1] != " ":
                flat.append(" ")
                lines.append(line)
            line += char == "\n"
        else:
            flat.append(char)
            lines.append(line)
    return [(lines[m.start()], m.group(0)) for m in MEASURED_FIGURE.finditer("".join(flat))]


def figures_in(text: str) -> list[str]:
    return [figure for _, figure in figures_at(text)]


def test_readme_is_short():
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines (at most {README_MAX_LINES}): it is the user guide; put reference material in "
        "docs/ and measured figures in docs/BENCHMARKS.md or docs/EXPERIMENTS.md")


def test_readme_needs_nothing_outside_the_repository():
    text = README.read_text(encoding="utf-8")
    assert "../shared" not in text, (
        "README.md points at ../shared, which a clone of the repository does not have: describe the fixture instead")


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: p.relative_to(REPO_ROOT).as_posix())
def test_relative_links_point_at_files(path: Path):
    dead = [t for t in relative_links(path) if t and not (path.parent / t).exists()]
    assert not dead, f"{path.relative_to(REPO_ROOT)}: links to missing files: {dead}"


def code_in(text: str) -> str:
    """The code of a Markdown text: fenced blocks and inline code spans (where a command is written)."""
    blocks = re.findall(r"```[^\n]*\n(.*?)```", text, flags=re.DOTALL)
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.DOTALL))
    return "\n".join(blocks + spans)


def test_readme_make_targets_exist():
    used = set(MAKE_TARGET_USE.findall(code_in(README.read_text(encoding="utf-8"))))
    assert used, "README.md names no make target: the quick start should name `make demo` and `make test`"
    missing = sorted(used - makefile_targets())
    assert not missing, f"README.md names make targets the Makefile does not define: {missing}"


def test_no_measured_figure_in_docstrings():
    found = []
    for root in DOCSTRING_ROOTS:
        for path in sorted((REPO_ROOT / root).rglob("*.py")):
            rel = path.relative_to(REPO_ROOT).as_posix()
            for start, text in docstrings(path):
                for offset, figure in figures_at(text):
                    if (rel, figure) not in FIGURE_ALLOWLIST:
                        found.append(f"{rel}:{start + offset}: {figure!r}")
    assert not found, (
        "measured figures in docstrings (they go stale; move them to docs/BENCHMARKS.md or docs/EXPERIMENTS.md with "
        "their command, and say what and why instead):\n" + "\n".join(found))


@pytest.mark.parametrize("text", [
    "it reaches 99.8 / 99.4 % t2m / m2t R@10 on a fresh split",
    "and 64 % zero-shot accuracy on real takes",
    "mAP 41 % on the real takes",
    "R@10 93 on the fresh corpus",
    "Strong waits (~350 ms per search)",
    "starts in about 10 s",
    "about 50 samples/s on two cores",
    "length order is 2.1x faster to cache",
    "fresh-corpus R@10 64 -> 93 %",
    "mAP 41.7 against 49.0 over three seeds",
    "(measured: 3.9 s per step)",
    "92.9 ± 0.7 over seeds",
    "66.7 +/- 6.7 for the default",
    "the two captions have cosine 0.993",
])
def test_figure_detector_flags_measurements(text: str):
    assert figures_in(text), f"not flagged as a measured figure: {text!r}"


@pytest.mark.parametrize("text", [
    "returns the top 10 hits",
    "long takes become 50 %-overlap windows",
    "at most 200 frames = 10 s at 20 fps",
    "their reaches agree within 20 % and their longest bones within 25 %",
    "randomises the tempo by up to 15 % and trims 5 % of each end",
    "R@1/2/3/5/10 (%) and MedR from 0-based ranks",
    "times are rounded to 0.1 ms",
    "a 2 ms batching delay",
    "Returns within about ``grace`` + 1 s at any load",
    "each row normalised to 100 %",
    "t2m/mAP and t2m/P@10 per class query",
])
def test_figure_detector_leaves_definitions_alone(text: str):
    assert not figures_in(text), f"a definition flagged as a measured figure: {figures_in(text)}"


def test_link_and_target_finders(tmp_path: Path):
    page = tmp_path / "page.md"
    page.write_text("see [a](missing.md#part), [b](https://example.org), [c](#here) and ![d](img/shot.png)\n"
                    "```\n[e](in-code.md)\nmake demo\n```\nthen `make lint`; make sure it passes\n", encoding="utf-8")
    assert relative_links(page) == ["missing.md", "img/shot.png"]
    assert set(MAKE_TARGET_USE.findall(code_in(page.read_text(encoding="utf-8")))) == {"demo", "lint"}
