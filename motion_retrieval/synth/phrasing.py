"""Verb forms of a caption's verb phrases, so one template serves several sentence shapes.

Templates are written in the third person ("waves with the left hand twice"). People also write "a man is waving
his left hand", "they wave with the left hand", or just "guy waving left hand"; ``inflect`` turns the clause verbs
of a phrase into the base form or the -ing form. A clause verb is the first verb of the phrase (after leading
adverbs such as "slowly") and any third-person verb right after "and", "then", "or" or a comma; "is walking"
becomes "are walking" / "walking". Nouns that look like verbs ("three steps") are left alone because they never
stand in those positions in our templates.
"""

from __future__ import annotations

from motion_retrieval.synth.pos_tags import base_of_third, gerund

__all__ = ["FORMS", "inflect"]

FORMS = ("third", "base", "ing")
_CLAUSE_START = {"and", "then", "or"}
_LEADING = {"slowly", "quickly", "first", "then", "also", "happily", "carefully", "gently", "eagerly", "finally"}


def _split_punct(token: str) -> tuple[str, str]:
    core = token.rstrip(",.;")
    return core, token[len(core):]


def inflect(phrase: str, form: str) -> str:
    """``phrase`` (third person) with its clause verbs in ``form``: third (unchanged), base ("walk"), ing
    ("walking")."""
    if form not in FORMS:
        raise ValueError(f"unknown verb form {form!r}; choose one of {', '.join(FORMS)}")
    if form == "third":
        return phrase
    tokens = phrase.split()
    out: list[str] = []
    clause_open = True  # the next verb we meet starts a clause
    skip_next_ing = False
    for i, token in enumerate(tokens):
        core, punct = _split_punct(token)
        lower = core.lower()
        if skip_next_ing:
            skip_next_ing = False
            out.append(token)
            clause_open = bool(punct)
            continue
        if clause_open and lower == "is" and i + 1 < len(tokens) and tokens[i + 1].lower().endswith("ing"):
            if form == "base":
                out.append("are" + punct)
            skip_next_ing = True
            continue
        base = base_of_third(lower) if clause_open else None
        if base is not None:
            word = base if form == "base" else gerund(base)
            out.append((word[0].upper() + word[1:] if core[:1].isupper() else word) + punct)
            clause_open = bool(punct)
            continue
        out.append(token)
        if lower in _CLAUSE_START or punct == ",":
            clause_open = True
        elif clause_open and lower in _LEADING:
            clause_open = True
        else:
            clause_open = False
    return " ".join(out)
