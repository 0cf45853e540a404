"""The EmoNet-Face taxonomy: 40 emotion names in canonical order, slugs, synonyms, families, aliases.

The canonical order is the key order of ``options.labels`` in the annotation platform's ``guide.json``
(shipped as ``emozoo/assets/guide.json``, from LAION-AI/emonet-face, CC BY 4.0). Every tensor with a
trailing dimension of 40 in emozoo is indexed in this order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from difflib import get_close_matches
from importlib import resources

__all__ = [
    "EMOTIONS",
    "EXTRA_DIMENSIONS",
    "EXTRA_HEAD_SLUGS",
    "FAMILIES",
    "NAMES",
    "NUM_EMOTIONS",
    "SLUGS",
    "TAXONOMY_VERSION",
    "Emotion",
    "canonical_name",
    "emotion_index",
    "parse_label_key",
    "slugify",
]

TAXONOMY_VERSION = "emonet-face-v1"

# Extra (non-emotion) dimensions that VLM labels and the published models carry, with their scale.
# Keys are the sample schema's ``extra`` keys; published head files spell vulnerability longer.
EXTRA_DIMENSIONS: dict[str, tuple[float, float]] = {
    "arousal": (0.0, 7.0),
    "valence": (-3.0, 3.0),
    "dominance": (-3.0, 3.0),
    "vulnerability": (0.0, 5.0),
}
EXTRA_HEAD_SLUGS: dict[str, str] = {
    "arousal": "arousal",
    "valence": "valence",
    "dominance": "dominance",
    "vulnerability": "emotional_vulnerability",
}

# Spellings that real files use for a canonical name. binary.csv says "Hopelessness" for "Helplessness".
_ALIASES: dict[str, str] = {
    "Hopelessness": "Helplessness",
}


def slugify(name: str) -> str:
    """Slug used by published checkpoint files: lowercase, ``/`` and spaces become ``_``.

    >>> slugify("Jealousy & Envy")
    'jealousy_&_envy'
    """
    return name.lower().replace("/", "_").replace(" ", "_")


@dataclass(frozen=True)
class Emotion:
    """One of the 40 categories."""

    index: int
    name: str
    slug: str
    family: str
    synonyms: tuple[str, ...]

    def __str__(self) -> str:
        return self.name


def _load() -> tuple[tuple[Emotion, ...], dict[str, tuple[str, ...]]]:
    guide = json.loads(resources.files("emozoo.assets").joinpath("guide.json").read_text())
    labels: dict[str, list[str]] = guide["options"]["labels"]
    buttons: dict[str, list[str]] = guide["options"]["buttons"]
    family_of = {name: fam for fam, names in buttons.items() for name in names}
    emotions = tuple(
        Emotion(i, name, slugify(name), family_of[name], tuple(syn)) for i, (name, syn) in enumerate(labels.items())
    )
    families = {fam: tuple(names) for fam, names in buttons.items()}
    return emotions, families


EMOTIONS, FAMILIES = _load()
NUM_EMOTIONS = len(EMOTIONS)
NAMES: tuple[str, ...] = tuple(e.name for e in EMOTIONS)
SLUGS: tuple[str, ...] = tuple(e.slug for e in EMOTIONS)

_LOOKUP: dict[str, int] = {}
for _e in EMOTIONS:
    for _key in (_e.name, _e.slug, _e.name.lower()):
        _LOOKUP[_key] = _e.index
for _alias, _target in _ALIASES.items():
    for _key in (_alias, slugify(_alias), _alias.lower()):
        _LOOKUP[_key] = _LOOKUP[_target]


def emotion_index(name: str) -> int:
    """Index (0..39) of an emotion given its name, slug, alias or ``Family|Name`` key.

    Raises:
        KeyError: the name is not one of the 40, with the closest valid names.
    """
    key = name.split("|", 1)[1] if "|" in name else name
    key = key.strip()
    for candidate in (key, key.lower(), slugify(key)):
        if candidate in _LOOKUP:
            return _LOOKUP[candidate]
    close = get_close_matches(key, list(NAMES) + list(_ALIASES), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise KeyError(f"unknown emotion {name!r}: not one of the 40 EmoNet-Face emotions.{hint}")


def canonical_name(name: str) -> str:
    """The canonical spelling of an emotion name, slug, alias or ``Family|Name`` key."""
    return NAMES[emotion_index(name)]


def parse_label_key(key: str) -> tuple[str, str]:
    """Classify a label key from a release: ``("emotion", canonical_name)`` or ``("extra", dimension)``.

    HQ keys look like ``"Negative Low-Energy Emotions|Jealousy & Envy"``; keys under
    ``"Extra Dimensions|..."`` are arousal, valence, dominance or vulnerability, not among the 40.

    Raises:
        KeyError: the key is neither an emotion nor a known extra dimension.
    """
    family, _, name = key.rpartition("|")
    slug = slugify(name.strip()).removeprefix("emotional_")
    if family.strip().lower() == "extra dimensions" or slug in EXTRA_DIMENSIONS:
        if slug not in EXTRA_DIMENSIONS:
            raise KeyError(f"unknown extra dimension {key!r}; known: {sorted(EXTRA_DIMENSIONS)}")
        return "extra", slug
    return "emotion", canonical_name(name)
