"""Contrastive pairs: the data a steering vector is read from.

A side of a pair is plain text, or a chat turn ``{"system": ..., "user": ..., "assistant": ...}``
rendered with the model's own chat template (so one concept file serves every chat model).
Pairs come from JSONL (``{"positive": ..., "negative": ...}`` per line, an optional shared
``"prompt"`` put before both plain-text sides) or from a template spec that crosses concept words
with contexts — the built-in concept sets in ``steer/concepts/`` are such specs (see its README).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from latentspace.core.errors import LatentspaceError
from latentspace.core.files import check_text, read_text
from latentspace.model.text import has_chat

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

Side = str | dict  # plain text, or {"system", "user", "assistant"} (only "user" is required)
CHAT_KEYS = ("system", "user", "assistant")


@dataclass(frozen=True)
class Pair:
    positive: Side
    negative: Side
    prompt: str = ""  # shared text before both plain-text sides


@dataclass(frozen=True)
class Rendered:
    """One side as the model reads it: a prefix, then the completion (the part 'completion' averages)."""

    prefix: str
    completion: str
    chat: bool  # the prefix already holds the special tokens of a chat template


def check_side(side, where: str) -> Side:
    if isinstance(side, str):
        if not side.strip():
            raise LatentspaceError(f"{where}: empty text")
        return check_text(side, f"{where}: text")
    if isinstance(side, dict):
        unknown = set(side) - set(CHAT_KEYS)
        if unknown or not isinstance(side.get("user"), str) or not side["user"].strip():
            raise LatentspaceError(f"{where}: a chat side needs a non-empty 'user' (and optional system, assistant)")
        if any(not isinstance(side.get(k, ""), str) for k in CHAT_KEYS):
            raise LatentspaceError(f"{where}: chat fields must be text")
        for key in CHAT_KEYS:
            check_text(side.get(key, ""), f"{where}: {key}")
        return side
    raise LatentspaceError(f"{where}: a side is text or a chat turn object, not {type(side).__name__}")


def render(lm: LatentModel, side: Side, prompt: str = "") -> Rendered:
    if isinstance(side, str):
        return Rendered(prompt, side, chat=False) if prompt else Rendered("", side, chat=False)
    system, user, assistant = side.get("system"), side["user"], side.get("assistant", "")
    if has_chat(lm.tokenizer):
        return Rendered(lm.chat(user, system=system), assistant, chat=True)
    # a base model has no template: lay the turn out as plain text
    prefix = (f"{system}\n\n" if system else "") + f"{user}\n"
    return Rendered(prefix, assistant, chat=False)


def read_pairs(path: str | Path) -> list[Pair]:
    """Pairs from JSONL; a bad line is named (file:line), fewer than two pairs refused."""
    path = Path(path)
    if not path.is_file():
        raise LatentspaceError(f"no pairs file at {path}")
    if path.suffix == ".json":
        return expand_spec(_read_json(path), path.name)
    pairs = []
    for n, line in enumerate(read_text(path, "pairs file").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path.name}:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise LatentspaceError(f'{where}: not JSON; expected {{"positive": ..., "negative": ...}}') from None
        pairs.append(pair_from_row(row, where))
    return check_count(pairs, path.name)


def pair_from_row(row, where: str) -> Pair:
    """One pair from ``{"positive": side, "negative": side, "prompt"?: text}`` (a JSONL line, a request)."""
    if not isinstance(row, dict) or "positive" not in row or "negative" not in row:
        raise LatentspaceError(f'{where}: expected {{"positive": ..., "negative": ...}}')
    prompt = row.get("prompt", "")
    if not isinstance(prompt, str):
        raise LatentspaceError(f"{where}: 'prompt' must be text")
    check_text(prompt, f"{where}: prompt")
    return Pair(check_side(row["positive"], where), check_side(row["negative"], where), prompt)


def check_count(pairs: list[Pair], name: str) -> list[Pair]:
    if len(pairs) < 2:
        raise LatentspaceError(f"{name} holds {len(pairs)} pair(s); a steering vector needs at least 2")
    return pairs


def _read_json(path: Path) -> dict:
    try:
        return json.loads(read_text(path, "template spec"))
    except json.JSONDecodeError as err:
        raise LatentspaceError(f"{path.name}:{err.lineno}: not valid JSON ({err.msg})") from None


def expand_spec(spec: dict, name: str = "template") -> list[Pair]:
    """Cross concept words with contexts: ``{"template", "positive", "negative", "contexts"}``.

    ``template`` is text or a chat turn whose strings may use ``{word}`` (a concept word) and
    ``{context}``; ``positive[i]`` and ``negative[i]`` make a pair in every context.
    """
    missing = [k for k in ("template", "positive", "negative") if k not in spec]
    if missing:
        raise LatentspaceError(f"{name}: a template spec needs {', '.join(missing)}")
    pos, neg, contexts = spec["positive"], spec["negative"], spec.get("contexts", [""])
    if len(pos) != len(neg) or not all(isinstance(w, str) for w in [*pos, *neg, *contexts]):
        raise LatentspaceError(f"{name}: positive and negative must be word lists of equal length")
    template = spec["template"]
    if not isinstance(template, (str, dict)) or (isinstance(template, dict) and
                                                  not all(isinstance(v, str) for v in template.values())):
        raise LatentspaceError(f"{name}: the template is text or a chat turn of texts")

    def fill(word: str, context: str) -> Side:
        try:
            if isinstance(template, str):
                return template.format(word=word, context=context)
            return {k: v.format(word=word, context=context) for k, v in template.items()}
        except (KeyError, IndexError, AttributeError, ValueError) as err:
            raise LatentspaceError(f"{name}: template may only use {{word}} and {{context}} ({err})") from None

    pairs = [Pair(check_side(fill(p, c), name), check_side(fill(n, c), name))
             for c in contexts for p, n in zip(pos, neg)]
    return check_count(pairs, name)


def concept_dir() -> Path:
    return Path(str(resources.files("latentspace.steer") / "concepts"))


def concepts() -> dict[str, dict]:
    """Built-in concept sets: name -> spec (with its description)."""
    return {p.stem: _read_json(p) for p in sorted(concept_dir().glob("*.json"))}


def concept_pairs(name: str) -> list[Pair]:
    known = concepts()
    if name not in known:
        raise LatentspaceError(f"unknown concept {name!r}; built-in: {', '.join(known)}")
    return expand_spec(known[name], name)


def load_pairs(source: str | Path) -> list[Pair]:
    """A built-in concept name, a ``.jsonl`` pairs file or a ``.json`` template spec."""
    known = concepts()
    if isinstance(source, str) and source in known:
        return concept_pairs(source)
    if not Path(source).exists() and not Path(source).suffix:
        raise LatentspaceError(f"no concept or pairs file {source!r}; built-in concepts: {', '.join(known)}")
    return read_pairs(source)


def data_hash(pairs: list[Pair]) -> str:
    """Short content hash of the pairs (stored in the vector, so its source can be checked)."""
    blob = json.dumps([[p.positive, p.negative, p.prompt] for p in pairs], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
