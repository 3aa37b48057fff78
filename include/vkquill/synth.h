/* A synthetic personalization benchmark whose truth is known: every user has hidden style
 * preferences that only their history reveals, every input decides the rest of the target,
 * and a truth file says which bytes of each target carry a preference. With it the demo can
 * measure how well a model picks up each user's style, and whether DCE > delta singles out
 * the preference-bearing tokens as NextQuill claims.
 *
 * A user's preferences, each drawn once from a short list (vkq_synth_choices):
 *   opener     "Honestly,", "Well,", ...        the first word of every target
 *   adjective  "lovely", "stellar", ...         used in the first sentence
 *   punct      "!", "." or "..."                ends every sentence of the body
 *   signoff    "Cheers!", "Peace out.", ...     the last words of every target
 *   length     "short" or "long"                one sentence, or a second one
 * An input such as "item: blue kettle; category: kitchen; rating: 4" decides the item, the
 * rating word ("poor", "weak", "fine", "good", "great" for 1..5) and, for long targets, the
 * category's sentence. A target reads
 *   short: "Honestly, the blue kettle is good and lovely! Cheers!"
 *   long:  "Honestly, the blue kettle is good and lovely! It suits any kitchen! Cheers!"
 * Every user writes per_user items in time order; the last is their test sample, the one
 * before their val sample and the rest train samples. Each sample's history is all of that
 * user's earlier items with their outputs and dates, newest first. */
#ifndef VKQUILL_SYNTH_H
#define VKQUILL_SYNTH_H

#include <stdint.h>

#include "vkquill/status.h"
#include "vkquill/tokenizer.h"

/* The word that opens a long target's second sentence: the span of the length slot. */
#define VKQ_SYNTH_LENGTH_WORD "It"

enum { VKQ_SYNTH_MAX_USERS = 10000, VKQ_SYNTH_MIN_PER_USER = 3, VKQ_SYNTH_MAX_PER_USER = 200 };

typedef struct vkq_synth_options {
    uint32_t users;    /* 1 .. VKQ_SYNTH_MAX_USERS */
    uint32_t per_user; /* items per user, VKQ_SYNTH_MIN_PER_USER .. VKQ_SYNTH_MAX_PER_USER */
    uint64_t seed;     /* the same seed gives the same bytes */
} vkq_synth_options;

/* Writes out_dir/train.jsonl (users * (per_user - 2) samples), val.jsonl and test.jsonl (one
 * sample a user) in the native format, each user's samples together in time order, and
 * out_dir/truth.jsonl, one line per sample of every split (train, then val, then test):
 *   {"split": "train", "line": 1, "user": "user001", "target": "...",
 *    "slots": {"opener": "Honestly,", "adjective": "lovely", "punct": "!",
 *              "signoff": "Cheers!", "length": "short"},
 *    "spans": [[0, 9, "opener"], [38, 44, "adjective"], [44, 45, "punct"], ...]}
 * where line is the sample's 1-based line in its split file and each span [start, end, slot]
 * is the byte range of a preference-bearing piece of the target, in target order: the
 * opener, the adjective, every sentence-end punct of the body, in a long target the word
 * VKQ_SYNTH_LENGTH_WORD that starts the second sentence (slot "length": that a second
 * sentence comes at all is the user's choice; its other words are the input's), and the
 * sign-off. Every other byte is fixed template text or decided by the input. Creates out_dir
 * if it is missing; each file is written atomically. */
vkq_status vkq_synth_write(const vkq_synth_options *o, const char *out_dir);

typedef enum vkq_synth_slot {
    VKQ_SYNTH_OPENER,
    VKQ_SYNTH_ADJECTIVE,
    VKQ_SYNTH_PUNCT,
    VKQ_SYNTH_SIGNOFF,
    VKQ_SYNTH_LENGTH,
    VKQ_SYNTH_SLOTS
} vkq_synth_slot;

/* "opener", "adjective", "punct", "signoff", "length"; NULL outside the enum. */
const char *vkq_synth_slot_name(vkq_synth_slot slot);
/* The choices a user's slot is drawn from, NULL-terminated ("short", "long" for length). */
const char *const *vkq_synth_choices(vkq_synth_slot slot);

typedef struct vkq_synth_span {
    uint32_t start, end; /* bytes [start, end) of the target */
    vkq_synth_slot slot;
} vkq_synth_span;

typedef struct vkq_synth_sample {
    char *user;
    char *target;
    uint32_t line;                 /* in its split file, 1-based */
    char *slots[VKQ_SYNTH_SLOTS];  /* the user's choices */
    vkq_synth_span *spans;
    uint32_t n_spans;
} vkq_synth_sample;

typedef struct vkq_synth_truth {
    vkq_synth_sample *samples;     /* samples[i] is line i + 1 of the split file */
    uint32_t count;
} vkq_synth_truth;

/* Reads the lines of one split ("train", "val" or "test") from a truth file. Errors name the
 * file and line: malformed JSON, a missing or mistyped field, an unknown split, slot, choice
 * or span slot, a span outside the target or not holding its slot's choice (the length span
 * must hold VKQ_SYNTH_LENGTH_WORD), a split's lines out of order (they must be 1, 2, 3, ...),
 * or no line of the split at all. */
vkq_status vkq_synth_truth_load(const char *path, const char *split, vkq_synth_truth *out);
void vkq_synth_truth_free(vkq_synth_truth *t);

/* The share of (sample, slot) pairs, five slots a sample, where predictions[i] (for
 * t->samples[i]; n must equal t->count) shows the user's choice. Leading and trailing
 * whitespace of a prediction is ignored; of the rest, call it P:
 *   opener     P starts with the opener;
 *   adjective  the adjective occurs in P as a whole word (no ASCII letter either side);
 *   punct      the first run of sentence-end marks ('.', '!', '?') in P is exactly punct;
 *   signoff    P ends with the sign-off, which is all of P or follows a space;
 *   length     with any sign-off of the list (vkq_synth_choices) taken off P's end as for
 *              signoff, the runs of sentence-end marks left number 1 for "short" and 2 for
 *              "long".
 * So "Honestly, the red mug is fine and lovely! Cheers!" scores 5 of 5 for a short-writing
 * user with those choices, and 4 of 5 for a long-writing one. */
vkq_status vkq_style_accuracy(const vkq_synth_truth *t, const char *const *predictions,
                              uint32_t n, double *accuracy);

/* Which response tokens carry a preference: flags[i] = 1 when token i, as vkq_pair_build
 * encodes the response, overlaps a span, else 0. The response is the target encoded on its
 * own (the dummy-prefix " " first, which overlaps nothing of the target), possibly cut, then
 * EOS: n_tokens counts them all (vkq_pair.n_response), the last is EOS and flagged 0, and the
 * first n_tokens - 1 must be a prefix of the target's encoding. With the byte-level tokenizer
 * token i >= 1 is target byte i - 1, so the flags are exact; with a BPE vocabulary a token
 * is flagged when any of its bytes is. */
vkq_status vkq_synth_token_flags(const vkq_tokenizer *tok, const char *target,
                                 const vkq_synth_span *spans, uint32_t n_spans, uint8_t *flags,
                                 uint32_t n_tokens);

/* The bytes of the target whose identity the user's preference decides, as one-byte spans
 * (at most capacity; the count in *n_out), for vkq_synth_token_flags. In a span of a slot,
 * byte k is decisive when the slot's choices that share the span's first k bytes differ in
 * byte k (a choice ending there counts as a byte of its own, so the byte after a "." span
 * is decisive, as "..." is a choice too); every other byte of the span follows from the bytes
 * before it, with or without the history. In a length span only the first byte is decisive.
 * "Well, it is cozy... Ciao!" gives bytes 0 (W), 12 (c), 16 and 17 (..), 20 and 21 (Ci). */
vkq_status vkq_synth_decisive_spans(const char *target, const vkq_synth_span *spans,
                                    uint32_t n_spans, vkq_synth_span *out, uint32_t capacity,
                                    uint32_t *n_out);

/* How well "DCE > delta" finds the flagged tokens, over n tokens: precision = the share of
 * flagged tokens among those with dce > delta, recall = the share of tokens with dce > delta
 * among the flagged ones. A share of nothing (no token above delta, or none flagged) is 0. A
 * NaN DCE is never above delta. */
vkq_status vkq_detection_scores(const float *dce, const uint8_t *flags, uint32_t n, float delta,
                                double *precision, double *recall);

#endif
