"""Who is in a SynthFace image and how it is shot: demographics, appearance, nuisance scene, and the prompt.

Demographics drive visible appearance (skin tone from ethnicity, wrinkles and grey hair from age, hair length,
jaw and facial hair from gender) so that the recorded ``demographics`` are meaningful for fairness slices.
The scene adds nuisance variation that carries no emotion: background, framing, lighting, colour cast, noise.
"""

from __future__ import annotations

import colorsys

import numpy as np

from emozoo.taxonomy import EMOTIONS

__all__ = ["ETHNICITIES", "describe", "sample_person", "sample_scene"]

# Light-to-dark skin palette (roughly the 10 Monk skin tones); tones are interpolated between entries.
_SKIN = np.array([
    (246, 225, 208), (243, 209, 182), (234, 192, 160), (222, 174, 138), (201, 151, 112),
    (176, 125, 88), (150, 102, 70), (122, 82, 56), (96, 64, 44), (72, 48, 34),
], dtype=float)  # fmt: skip
# ethnicity -> (mean, sd) of the palette position; overlapping on purpose, as in real populations
ETHNICITIES: dict[str, tuple[float, float]] = {
    "White": (1.0, 0.9),
    "East Asian": (2.0, 0.9),
    "Middle Eastern": (3.5, 1.0),
    "Hispanic/Latino": (4.0, 1.2),
    "Southeast Asian": (4.5, 1.0),
    "Indigenous": (5.0, 1.1),
    "South Asian": (5.5, 1.2),
    "Black": (7.5, 1.1),
}
_HAIR = {
    "black": (28, 24, 22),
    "dark brown": (58, 40, 30),
    "brown": (100, 68, 44),
    "auburn": (140, 62, 34),
    "blond": (196, 164, 104),
}
_IRIS = [(96, 62, 34), (70, 46, 28), (72, 108, 160), (84, 124, 78), (120, 98, 56)]
_AGE_RANGE = (18, 80)


def _skin(tone: float) -> tuple[int, int, int]:
    tone = float(np.clip(tone, 0, len(_SKIN) - 1))
    lo = int(np.floor(tone))
    hi = min(lo + 1, len(_SKIN) - 1)
    rgb = _SKIN[lo] + (tone - lo) * (_SKIN[hi] - _SKIN[lo])
    return tuple(int(round(c)) for c in rgb)


def sample_person(rng: np.random.Generator) -> dict:
    """Demographics plus the appearance parameters the renderer needs."""
    ethnicity = list(ETHNICITIES)[int(rng.integers(len(ETHNICITIES)))]
    age = int(rng.integers(_AGE_RANGE[0], _AGE_RANGE[1] + 1))
    female = bool(rng.random() < 0.5)
    mean, sd = ETHNICITIES[ethnicity]
    tone = float(np.clip(rng.normal(mean, sd), 0, len(_SKIN) - 1))
    # lighter tones are likelier to have lighter hair
    light_hair = rng.random() < max(0.0, 0.5 - 0.12 * tone)
    hair_name = (
        str(rng.choice(["brown", "auburn", "blond"])) if light_hair else str(rng.choice(["black", "dark brown"]))
    )
    if female:
        style = str(rng.choice(["long", "long", "long", "bun", "short"]))
        facial_hair = "none"
    else:
        bald_p = 0.05 + 0.4 * max(0.0, (age - 40) / 40)  # receding hair becomes likelier with age
        style = "bald" if rng.random() < bald_p else str(rng.choice(["short", "short", "short", "long"]))
        facial_hair = str(rng.choice(["none", "none", "stubble", "beard", "moustache"]))
    return {
        "demographics": {"age": age, "gender": "female" if female else "male", "ethnicity": ethnicity},
        "skin": _skin(tone),
        "hair": _HAIR[hair_name],
        "hair_name": hair_name,
        "grey": float(np.clip((age - 45) / 30, 0, 1)),  # share of grey hair
        "wrinkles": float(np.clip((age - 32) / 45, 0, 1)),
        "style": style,
        "facial_hair": facial_hair,
        "jaw": float(rng.uniform(0.55, 0.72) if female else rng.uniform(0.72, 0.92)),
        "aspect": float(rng.uniform(1.18, 1.34)),  # face height / width
        "eye_gap": float(rng.uniform(0.36, 0.44)),
        "eye_size": float(rng.uniform(0.9, 1.1)),
        "mouth_width": float(rng.uniform(0.9, 1.1)),
        "brow_width": float(rng.uniform(0.8, 1.0) if female else rng.uniform(1.0, 1.3)),
        "iris": _IRIS[int(rng.integers(len(_IRIS)))],
        "lip": (176, 88, 92) if female else (150, 96, 90),
    }


def _random_colour(rng: np.random.Generator) -> tuple[int, int, int]:
    h, s, v = rng.random(), rng.uniform(0.1, 0.6), rng.uniform(0.35, 0.95)
    return tuple(int(255 * c) for c in colorsys.hsv_to_rgb(h, s, v))


def sample_scene(rng: np.random.Generator) -> dict:
    """Nuisance: nothing here depends on the emotions."""
    return {
        "bg_top": _random_colour(rng),
        "bg_bottom": _random_colour(rng),
        "shirt": _random_colour(rng),
        "side": 1 if rng.random() < 0.5 else -1,  # which way lateral cues (smirk, gaze, tilt) point
        "dx": float(rng.uniform(-0.05, 0.05)),  # face centre offset, fraction of the image
        "dy": float(rng.uniform(-0.04, 0.03)),
        "scale": float(rng.uniform(0.88, 1.0)),
        "roll": float(rng.normal(0.0, 2.5)),  # degrees of head roll that carry no emotion
        "brightness": float(rng.uniform(0.8, 1.12)),
        "light_angle": float(rng.uniform(0, 2 * np.pi)),
        "light_strength": float(rng.uniform(0.0, 0.3)),
        "cast": float(rng.uniform(-0.06, 0.06)),  # warm/cool colour cast
        "noise": float(rng.uniform(0.0, 4.0)),  # sensor noise, in 8-bit levels
        "noise_seed": int(rng.integers(2**31)),
    }


def _colour_name(rgb: tuple[int, int, int]) -> str:
    h, s, v = colorsys.rgb_to_hsv(*(c / 255 for c in rgb))
    if s < 0.2:
        return "grey" if v > 0.5 else "dark grey"
    names = ["red", "orange", "yellow", "green", "green", "teal", "blue", "blue", "purple", "pink", "red"]
    return names[int(h * 10.99)]


def _amount(value: float) -> str:
    # words a prompt writer would use for intensities on the 0..7 scale
    return "intense" if value >= 5 else "clear" if value >= 3.5 else "mild" if value >= 2 else "a hint of"


def _article(word: str) -> str:
    # "an" before a vowel sound, including the spoken numbers eight, eighteen and eighty-something
    return "an" if word[0] in "aeiou8" or word in ("11", "18") else "a"


def describe(latent: np.ndarray, person: dict, scene: dict) -> str:
    """A text prompt for the face, in the style of a text-to-image generation prompt."""
    demo = person["demographics"]
    noun = "woman" if demo["gender"] == "female" else "man"
    hair = "a bald head" if person["style"] == "bald" else f"{person['style']} {person['hair_name']} hair"
    if person["grey"] > 0.5 and person["style"] != "bald":
        hair = f"{person['style']} greying hair"
    extras = "" if person["facial_hair"] == "none" else f" and a {person['facial_hair']}"
    order = [int(e) for e in np.argsort(-latent, kind="stable")[:3] if latent[e] >= 1.0]
    if order:
        parts = [f"{_amount(latent[e])} {EMOTIONS[e].synonyms[0]}" for e in order]
        feeling = "showing " + (parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1])
    else:
        feeling = "with a neutral expression"
    background = _colour_name(scene["bg_top"])
    return (
        f"A close-up portrait of {_article(str(demo['age']))} {demo['age']}-year-old {demo['ethnicity']} {noun} "
        f"with {hair}{extras}, "
        f"{feeling}, against {_article(background)} {background} background."
    )
