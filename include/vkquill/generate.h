/* Text generation with a KV cache, batched over many prompts, as llama2.c's run.c does it:
 * BOS, then the prompt's tokens fed one by one, then one sampled token per step. */
#ifndef VKQUILL_GENERATE_H
#define VKQUILL_GENERATE_H

#include "vkquill/model.h"
#include "vkquill/tokenizer.h"

typedef struct vkq_sampling {
    uint32_t steps;           /* positions per sequence, prompt included (run.c's -n) */
    uint32_t max_new;         /* 0, or at most this many tokens after each prompt */
    float temperature;        /* 0: greedy */
    float top_p;              /* nucleus sampling when in (0, 1) */
    float repetition_penalty; /* 1: none; else as vkq_penalise_repeats */
    uint64_t seed;
} vkq_sampling;

typedef struct vkq_generation {
    int32_t *tokens;   /* BOS, prompt and generated tokens */
    uint32_t n_tokens;
    uint32_t n_prompt; /* of which BOS and the prompt */
    char *text;        /* the prompt and the continuation, as run.c prints them */
} vkq_generation;

/* Generates for n prompts at once (n <= the decoder's max_seqs); out[i] must be freed with
 * vkq_generation_free. A sequence ends when it generates an end token (vkq_tokenizer_is_end:
 * BOS, EOS or a chat turn's end, or one of the model's end ids), or after `steps` positions. */
vkq_status vkq_generate(vkq_decoder *d, const vkq_tokenizer *tok, const char *const *prompts,
                        uint32_t n, const vkq_sampling *s, vkq_generation *out);
/* The same from token prompts (each starting with BOS), e.g. prompts built with history. */
vkq_status vkq_generate_tokens(vkq_decoder *d, const vkq_tokenizer *tok,
                               const int32_t *const *prompts, const uint32_t *lengths, uint32_t n,
                               const vkq_sampling *s, vkq_generation *out);
void vkq_generation_free(vkq_generation *g);

/* One step's choice of token, as Hugging Face's logits processors make it. */

/* The repetition penalty of Keskar et al. (CTRL) as Hugging Face's
 * RepetitionPenaltyLogitsProcessor applies it: every distinct token id in tokens[0..n) (the
 * prompt and what was generated so far) once, however often it occurs: a positive logit is
 * divided by penalty, a negative one multiplied by it. */
vkq_status vkq_penalise_repeats(float *logits, uint32_t vocab, const int32_t *tokens, uint32_t n,
                                float penalty);
/* With temperature 0 the most likely token (the lowest id among equals). Otherwise a draw
 * from softmax(logits / temperature) cut to the nucleus: the most likely tokens, taken in
 * order of probability until their mass reaches top_p (every token when top_p is not in
 * (0, 1)), renormalised. u in [0, 1) is the uniform draw: the token whose interval of the
 * renormalised cumulative distribution, in that order, holds u. Overwrites logits. */
vkq_status vkq_sample_token(float *logits, uint32_t vocab, float temperature, float top_p,
                            float u, int32_t *out);

#endif
