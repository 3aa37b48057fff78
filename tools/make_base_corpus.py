#!/usr/bin/env python3
"""The pre-training corpus of the demo's base model (assets/base), written to stdout.

Plain text, one paragraph a document, for `vkquill data convert --text`. Most documents are
a few records by one writer in a key: value layout; the writer has a greeting, a pet word,
an end mark and a closing, made up for the document from syllables, that every record of
the document repeats. The first record cannot predict them, later ones can only by copying
them from earlier in the document: that is what the base has to learn (reading a context,
not knowing any phrase). The others are a run of made-up words said twice. The words of
the synthetic users' preference phrases (src/data/synth.c) never occur as words here: the
script checks its output and fails if one does.

Deterministic: the same seed gives the same bytes with any Python 3.
"""
import argparse
import random
import re
import sys

SYLLABLES = ["ba", "do", "ki", "lu", "me", "no", "pa", "ri", "so", "tu", "ve", "za", "gor",
             "fin", "mal", "pet", "quo", "ral", "sim", "tob", "wex", "yil", "dra", "plo"]
# Words the synthetic users' styles are made of: none may appear in the corpus.
FORBIDDEN = {"honestly", "well", "look", "frankly", "truly", "gosh", "lovely", "stellar",
             "grim", "quirky", "sleek", "cozy", "zesty", "snazzy", "cheers", "peace", "out",
             "onwards", "take", "care", "ciao", "stay", "cool", "also"}
LAYOUTS = [("Input", "Output"), ("Topic", "Text"), ("Q", "A"), ("Day", "Note"),
           ("Subject", "Message")]
THINGS = ["river", "window", "garden gate", "tram", "violin", "harbour", "library", "kite",
          "bakery", "bridge", "meadow", "clock tower", "bicycle", "market", "lighthouse"]
SHADES = ["amber", "pale", "dusty", "bright", "quiet", "old", "narrow", "tall", "small"]
VERBS = ["looked", "felt", "seemed", "stayed", "turned", "sounded"]
MARKS = [".", "!", "?!", ";", " -", "!!"]


def pseudo_word(rng):
    while True:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3)))
        if word not in FORBIDDEN:
            return word


def phrase(rng, words):
    return " ".join(pseudo_word(rng) for _ in range(words))


def document(rng):
    key, value = rng.choice(LAYOUTS)
    greeting = phrase(rng, rng.randint(1, 2)).capitalize() + ","
    pet = pseudo_word(rng)
    mark = rng.choice(MARKS)
    closing = phrase(rng, rng.randint(1, 2)).capitalize() + rng.choice([".", "!"])
    records = []
    for _ in range(rng.randint(3, 5)):
        thing = rng.choice(THINGS)
        topic = f"{rng.choice(SHADES)} {thing}; number {rng.randint(1, 9)}"
        body = f"{greeting} the {thing} {rng.choice(VERBS)} {rng.choice(SHADES)} and {pet}{mark}"
        records.append(f"{key}: {topic}\n{value}: {body} {closing}")
    return "\n".join(records)


def echo(rng):
    """A run of made-up words said twice: the plainest lesson in copying from context."""
    words = " ".join(pseudo_word(rng) for _ in range(rng.randint(4, 9)))
    return f"{words}.\n{words}."


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--echoes", type=float, default=0.3,
                        help="the share of documents that are a run of words said twice")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    text = "\n\n".join(echo(rng) if rng.random() < args.echoes else document(rng)
                       for _ in range(args.documents)) + "\n"
    found = FORBIDDEN & set(re.findall(r"[a-z]+", text.lower()))
    if found:
        sys.exit(f"make_base_corpus: the corpus holds preference words: {sorted(found)}")
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
