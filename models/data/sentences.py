"""English sentences for the synthetic voices: templates over our own word lists, phonetically balanced.

Candidates are drawn from templates (statements, questions, exclamations, lists, numbers, names, short and long)
and then chosen greedily so that rare phones (ZH, OY, UH, TH, DH, JH, NG ...) and lip/teeth clusters (p/b/m/f/v/th)
get as many occurrences as common ones allow. Pronunciations come from the CMU dictionary bundled with the
pocketsphinx wheel; everything is deterministic given the seed.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from pathlib import Path

import numpy as np

from app.core.speech import ARPABET_PHONES, SILENCE

NAMES = (
    "Anna", "Ben", "Chloe", "David", "Ella", "Frank", "Grace", "Hugo", "Isabel", "Jack", "Kate", "Leo", "Maya",
    "Noah", "Olivia", "Peter", "Quinn", "Ruth", "Sam", "Theo", "Uma", "Victor", "Wendy", "Xavier", "Yusuf",
    "Zoe", "Marjorie", "Joyce", "Barbara", "Vivian", "Timothy", "Martha", "Boris", "Philippa", "Gabriel",
)  # fmt: skip
PLACES = (
    "Boston", "Paris", "the village", "the museum", "Birmingham", "the library", "the harbour", "Vienna",
    "the garage", "Memphis", "the theatre", "the beach", "Jupiter", "the office", "the mountains", "Zurich",
    "the market", "Philadelphia", "the bakery", "the north pole",
)  # fmt: skip
NOUNS = (
    "apple", "bottle", "box", "mother", "father", "brother", "thumb", "feather", "voice", "choice", "toy", "boy",
    "measure", "treasure", "vision", "television", "garage", "beige jacket", "judge", "bridge", "jungle", "book",
    "cookie", "wolf", "pudding", "sugar", "cushion", "shoe", "moon", "room", "window", "pillow", "yellow balloon",
    "thunder", "weather", "birthday", "path", "mouth", "tooth", "bath", "cloth", "thread", "throne", "rhythm",
    "muffin", "puppy", "baby", "bubble", "marble", "vase", "violin", "van", "photograph", "elephant", "giraffe",
    "coffee", "knife", "oven", "river", "cheese", "church", "watch", "kitchen", "garden", "engine", "orange",
    "island", "oyster", "noise", "coin", "point", "cloud", "house", "flower", "tower", "owl", "rain", "train",
    "table", "paper", "radio", "zebra", "puzzle", "lizard", "song", "king", "ring", "finger", "singer", "lamp",
    "problem", "number", "umbrella", "computer", "picture", "letter", "question", "answer", "ticket", "pocket",
    "hammer", "button", "mirror", "ladder", "carrot", "potato", "tomato", "biscuit", "sandwich", "squirrel",
    "rabbit", "fish", "horse", "mouse", "bird", "turtle", "spider", "butterfly", "whistle", "wheel", "yacht",
)  # fmt: skip
ADJECTIVES = (
    "big", "small", "bright", "purple", "brave", "beautiful", "broken", "smooth", "rough", "thick", "thin",
    "fresh", "famous", "funny", "heavy", "happy", "bitter", "sweet", "quiet", "loud", "strange", "huge",
    "tiny", "yellow", "orange", "blue", "green", "warm", "cold", "soft", "sharp", "empty", "full", "old",
    "young", "joyful", "gloomy", "pleasant", "usual", "unusual", "careful", "curious", "foolish", "wooden",
    "woollen", "golden", "shiny", "muddy", "frozen", "enormous", "perfect", "ordinary", "noisy",
)  # fmt: skip
VERBS_PAST = (
    "bought", "brought", "found", "moved", "pushed", "pulled", "painted", "fixed", "buried", "measured",
    "borrowed", "dropped", "washed", "watched", "thought about", "believed in", "imagined", "described",
    "threw", "caught", "visited", "enjoyed", "avoided", "joined", "judged", "wrapped", "opened", "closed",
    "stopped", "carried", "played with", "looked at", "remembered", "forgot", "shared", "cooked", "built",
)  # fmt: skip
VERBS_BASE = (
    "buy", "bring", "find", "move", "push", "pull", "paint", "fix", "bury", "measure", "borrow", "drop",
    "wash", "watch", "throw", "catch", "visit", "enjoy", "avoid", "join", "open", "close", "carry", "cook",
    "build", "share", "feed", "fold", "breathe on", "smooth", "polish", "weigh", "choose", "hug",
)  # fmt: skip
ADVERBS = (
    "quickly", "slowly", "quietly", "carefully", "happily", "badly", "gently", "by mistake", "on purpose",
    "without thinking", "very well", "every morning", "yesterday", "last Thursday", "this evening", "at noon",
)  # fmt: skip
INTERJECTIONS = ("Oh", "Wow", "Hey", "Look", "Well", "Oh no", "Oh boy", "Hmm", "Yes", "No way", "Ouch", "Hooray")
TWISTERS = (
    "Peter Piper picked a peck of pickled peppers.",
    "Big black bugs bleed blue black blood.",
    "Five fine fresh fish for five famished friends.",
    "Vivid violet vases vanish very fast.",
    "Three thin thinkers think thick thoughts.",
    "The other brother breathes the smooth northern air.",
    "Mummy made me mash my mushy marshmallows.",
    "She sells sea shells by the sea shore.",
    "A proper cup of coffee from a proper copper coffee pot.",
    "Which witch wished which wicked wish?",
    "Judge Jones enjoyed the jam in June.",
    "The usual measure of treasure is a pleasure to the beige garage owner.",
    "Roy's noisy toy boy destroyed the oyster's voice.",
    "Good cooks could look at woollen hoods.",
    "The thousand thorny thistles thrust through the thick thatch.",
    "Bobby brought a bubbling bowl of big blueberries.",
    "Friendly frogs fly for fun on Fridays.",
    "Every valley of velvet verbs evolves.",
)  # fmt: skip

_LIST_ITEMS = NOUNS
_BATCH = 20  # sentences chosen per re-weighting round in make_sentences


def _a(word: str) -> str:
    return ("an " if word[0].lower() in "aeiou" else "a ") + word


def _number_words(rng: np.random.Generator) -> str:
    n = int(rng.choice([rng.integers(2, 20), rng.integers(20, 100), rng.integers(100, 1000),
                        rng.integers(1900, 2031)]))
    return str(n)


def _template(rng: np.random.Generator) -> str:
    """One sentence from a randomly chosen template."""
    c = lambda seq: str(seq[int(rng.integers(len(seq)))])  # noqa: E731 - short local helper reads best here
    kind = int(rng.integers(14))
    if kind == 0:
        return f"{c(NAMES)} {c(VERBS_PAST)} {_a(c(ADJECTIVES) + ' ' + c(NOUNS))} {c(ADVERBS)}."
    if kind == 1:
        return f"Did {c(NAMES)} {c(VERBS_BASE)} the {c(NOUNS)} in {c(PLACES)}?"
    if kind == 2:
        return f"{c(INTERJECTIONS)}, what {_a(c(ADJECTIVES) + ' ' + c(NOUNS))}!"
    if kind == 3:
        items = [c(_LIST_ITEMS) for _ in range(int(rng.integers(3, 6)))]
        return f"Please {c(VERBS_BASE)} the {', the '.join(items[:-1])} and the {items[-1]}."
    if kind == 4:
        return f"There are {_number_words(rng)} {c(ADJECTIVES)} {c(NOUNS)}s in {c(PLACES)}."
    if kind == 5:
        return f"Why would {c(NAMES)} ever {c(VERBS_BASE)} {_a(c(NOUNS))}?"
    if kind == 6:
        return f"I can't believe you {c(VERBS_PAST)} my {c(NOUNS)}!"
    if kind == 7:
        return (f"When {c(NAMES)} arrived in {c(PLACES)}, the {c(NOUNS)} was {c(ADJECTIVES)}, so we "
                f"{c(VERBS_PAST)} the {c(NOUNS)} and went home {c(ADVERBS)}.")
    if kind == 8:
        return f"{c(NAMES)}, {c(VERBS_BASE)} the {c(NOUNS)}, {c(ADVERBS)}."
    if kind == 9:
        return f"The {c(NOUNS)} costs {_number_words(rng)} dollars and {_number_words(rng)} cents."
    if kind == 10:
        return f"{c(INTERJECTIONS)}!"
    if kind == 11:
        return f"Is the {c(NOUNS)} {c(ADJECTIVES)} or {c(ADJECTIVES)}?"
    if kind == 12:
        return c(TWISTERS)
    return (f"{c(NAMES)} told {c(NAMES)} that the {c(ADJECTIVES)} {c(NOUNS)} from {c(PLACES)} "
            f"had been {c(VERBS_PAST)} {c(ADVERBS)}, although nobody really knew why.")


@functools.lru_cache(maxsize=1)
def _dictionary() -> dict[str, list[str]]:
    """CMU dictionary entries (first pronunciation, no stress digits) for the words our templates use."""
    import pocketsphinx

    path = Path(pocketsphinx.get_model_path()) / "en-us" / "cmudict-en-us.dict"
    wanted = {w for text in (*NAMES, *PLACES, *NOUNS, *ADJECTIVES, *VERBS_PAST, *VERBS_BASE, *ADVERBS,
                             *INTERJECTIONS, *TWISTERS) for w in _words(text)}
    wanted |= {"a", "an", "the", "did", "in", "what", "please", "and", "there", "are", "why", "would", "ever",
               "i", "can't", "believe", "you", "my", "when", "arrived", "was", "so", "we", "went", "home",
               "costs", "dollars", "cents", "is", "or", "told", "that", "from", "had", "been", "although",
               "nobody", "really", "knew"}
    out: dict[str, list[str]] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            word, _, phones = line.strip().partition(" ")
            if word in wanted and word not in out:
                out[word] = [p.rstrip("012") for p in phones.split()]
    return out


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def sentence_phones(text: str) -> list[str]:
    """Dictionary phones of the words the dictionary knows (numbers and unknown words add nothing)."""
    d = _dictionary()
    return [p for w in _words(text) for p in d.get(w, [])]


def make_sentences(count: int, seed: int = 0, pool_factor: int = 4) -> list[str]:
    """``count`` distinct sentences, chosen from a larger pool so that every phone is well represented."""
    if count <= 0:
        return []
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x5E47]))
    pool: list[str] = []
    seen: set[str] = set()
    attempts = 0
    while len(pool) < count * pool_factor and attempts < count * pool_factor * 5:
        attempts += 1
        text = _template(rng)
        if text not in seen:
            seen.add(text)
            pool.append(text)
    index = {p: i for i, p in enumerate(ARPABET_PHONES) if p != SILENCE}
    counts = np.zeros((len(pool), len(index)), dtype=np.float64)
    for i, text in enumerate(pool):
        for p, n in Counter(sentence_phones(text)).items():
            counts[i, index[p]] = n
    totals = np.ones(len(index))
    chosen: list[int] = []
    free = np.ones(len(pool), dtype=bool)
    # Greedy: a sentence's value is the sum of its phones weighted by how rare each phone is so far, per
    # phone spoken (so long sentences do not win by length alone). A small random term breaks ties.
    jitter = rng.random(len(pool)) * 1e-3
    target = min(count, len(pool))
    length = np.maximum(counts.sum(axis=1), 1.0)
    while len(chosen) < target:
        gain = counts @ (1.0 / totals) / length**0.8 + jitter
        gain[~free] = -np.inf
        # Take a small batch per round: the weights barely move within a batch, and one round per sentence
        # would cost count x pool x phones operations.
        batch = np.argsort(-gain)[: min(_BATCH, target - len(chosen))]
        chosen.extend(int(i) for i in batch)
        free[batch] = False
        totals += counts[batch].sum(axis=0)
    return [pool[i] for i in chosen]


def phone_coverage(texts: list[str]) -> dict[str, int]:
    """Count of each ARPAbet phone (no silence) over ``texts`` from the dictionary."""
    total = Counter(p for t in texts for p in sentence_phones(t))
    return {p: int(total.get(p, 0)) for p in ARPABET_PHONES if p != SILENCE}
