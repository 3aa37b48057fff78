#include "vkquill/generate.h"

#include <stdlib.h>
#include <string.h>

#include "base/status_internal.h"

typedef struct sequence {
    vkq_generation *out;
    int32_t *prompt;
    uint32_t n_prompt, capacity;
    int32_t pos;
    uint64_t rng;
    int done;
} sequence;

static uint32_t random_u32(uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return (uint32_t)((*state * 0x2545F4914F6CDD1Dull) >> 32);
}

static float random_f32(uint64_t *state) { return (float)(random_u32(state) >> 8) / 16777216.0f; }

static vkq_status start(sequence *q, vkq_generation *out, const int32_t *prompt,
                        uint32_t n_prompt, uint32_t steps, uint64_t seed)
{
    memset(out, 0, sizeof *out);
    q->out = out;
    if (n_prompt == 0)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "a prompt needs at least one token (BOS)");
    q->prompt = malloc(n_prompt * sizeof *q->prompt);
    q->capacity = (n_prompt > steps ? n_prompt : steps) + 1;
    out->tokens = malloc(q->capacity * sizeof *out->tokens);
    if (!q->prompt || !out->tokens)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    memcpy(q->prompt, prompt, n_prompt * sizeof *prompt);
    q->n_prompt = n_prompt;
    out->tokens[0] = q->prompt[0];
    out->n_tokens = 1;
    out->n_prompt = q->n_prompt;
    q->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
    q->done = steps == 0;
    return VKQ_OK;
}

/* After a step: the prompt's next token while inside the prompt, else a sampled one. */
static vkq_status advance(sequence *q, const vkq_tokenizer *tok, float *logits,
                          const vkq_llama_config *c,
                          const vkq_sampling *s)
{
    uint32_t vocab = c->vocab_size;
    vkq_generation *g = q->out;
    int32_t next = 0;
    int in_prompt = (uint32_t)q->pos + 1 < q->n_prompt;
    if (in_prompt) {
        next = q->prompt[q->pos + 1];
    } else {
        if (s->repetition_penalty != 1.0f)
            VKQ_TRY(vkq_penalise_repeats(logits, vocab, g->tokens, g->n_tokens,
                                         s->repetition_penalty));
        float u = s->temperature > 0.0f ? random_f32(&q->rng) : 0.0f;
        VKQ_TRY(vkq_sample_token(logits, vocab, s->temperature, s->top_p, u, &next));
    }
    q->pos++;
    /* a chat prompt holds end tokens; the model may name more than its tokenizer */
    if (!in_prompt && (vkq_tokenizer_is_end(tok, next) || vkq_llama_is_eos(c, next))) {
        q->done = 1;
        return VKQ_OK;
    }
    g->tokens[g->n_tokens++] = next;
    uint32_t generated = g->n_tokens > q->n_prompt ? g->n_tokens - q->n_prompt : 0;
    q->done = (uint32_t)q->pos >= s->steps || (s->max_new && generated >= s->max_new);
    return VKQ_OK;
}

static vkq_status finish_text(vkq_generation *g, const vkq_tokenizer *tok)
{
    size_t length = 0;
    vkq_tokenizer_decode_text(tok, g->tokens, g->n_tokens, NULL, 0, &length);
    g->text = malloc(length + 1);
    if (!g->text)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    return vkq_tokenizer_decode_text(tok, g->tokens, g->n_tokens, g->text, length + 1, NULL);
}

/* The prompt tokens a sequence still has to feed before its last one, whose logits it samples
 * from. */
static uint32_t prompt_left(const sequence *q)
{
    return (uint32_t)q->pos + 1 < q->n_prompt ? q->n_prompt - 1 - (uint32_t)q->pos : 0;
}

/* A chunk of rows of the prompt, fed in one step: every row but the last only extends it. */
static void skip_rows(sequence *q, uint32_t rows)
{
    vkq_generation *g = q->out;
    for (uint32_t r = 1; r < rows; r++) {
        g->tokens[g->n_tokens++] = q->prompt[q->pos + 1];
        q->pos++;
    }
}

typedef struct step_rows {
    int32_t *slots, *tokens, *positions;
    uint32_t *seq, *count; /* each active sequence and its rows this step */
    uint32_t rows, active;
} step_rows;

/* An equal share of the decoder's rows for every unfinished sequence (at least one, as the
 * decoder has a row for each): one writing takes one row, one reading its prompt takes up to
 * its share of the prompt's next positions. */
static void plan_step(sequence *seqs, uint32_t n, uint32_t max_rows, uint32_t steps,
                      step_rows *st)
{
    st->active = 0;
    for (uint32_t i = 0; i < n; i++)
        if (!seqs[i].done)
            st->seq[st->active++] = i;
    uint32_t share = st->active ? max_rows / st->active : 0;
    st->rows = 0;
    for (uint32_t a = 0; a < st->active; a++) {
        sequence *q = &seqs[st->seq[a]];
        /* no further than the last prompt token, nor past the steps asked for */
        uint32_t count = prompt_left(q) + 1, room = steps - (uint32_t)q->pos;
        count = count < share ? count : share;
        count = count < room ? count : room;
        const vkq_generation *g = q->out;
        for (uint32_t r = 0; r < count; r++) {
            st->slots[st->rows] = (int32_t)st->seq[a];
            st->tokens[st->rows] = r == 0 ? g->tokens[g->n_tokens - 1] : q->prompt[q->pos + r];
            st->positions[st->rows] = q->pos + (int32_t)r;
            st->rows++;
        }
        st->count[a] = count;
    }
}

static vkq_status run(vkq_decoder *d, const vkq_tokenizer *tok, sequence *seqs, uint32_t n,
                      const vkq_sampling *s, const vkq_llama_config *c)
{
    uint32_t vocab = c->vocab_size, max_rows = vkq_decoder_max_rows(d);
    int32_t *ints = malloc(3 * (size_t)max_rows * sizeof *ints);
    float *logits = malloc((size_t)max_rows * vocab * sizeof *logits);
    uint32_t *seq = malloc(2 * (size_t)n * sizeof *seq);
    step_rows st = {ints, ints + max_rows, ints + 2 * (size_t)max_rows, seq, seq + n, 0, 0};
    vkq_status e = ints && logits && seq ? VKQ_OK
                                         : vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    while (e == VKQ_OK) {
        plan_step(seqs, n, max_rows, s->steps, &st);
        if (st.active == 0)
            break;
        e = vkq_decoder_step(d, st.slots, st.tokens, st.positions, st.rows, logits);
        for (uint32_t a = 0, row = 0; a < st.active && e == VKQ_OK; a++) {
            sequence *q = &seqs[st.seq[a]];
            skip_rows(q, st.count[a]);
            row += st.count[a];
            e = advance(q, tok, logits + (size_t)(row - 1) * vocab, c, s);
        }
    }
    for (uint32_t i = 0; i < n && e == VKQ_OK; i++)
        e = finish_text(seqs[i].out, tok);
    free(ints);
    free(logits);
    free(seq);
    return e;
}

vkq_status vkq_generate_tokens(vkq_decoder *d, const vkq_tokenizer *tok,
                               const int32_t *const *prompts, const uint32_t *lengths, uint32_t n,
                               const vkq_sampling *s, vkq_generation *out)
{
    const vkq_llama_config *c = vkq_decoder_config(d);
    if (s->steps > c->seq_len)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%u steps exceed the model's context of %u",
                        s->steps, c->seq_len);
    if (s->temperature < 0.0f || s->repetition_penalty <= 0.0f)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "temperature must be >= 0 and the repetition penalty > 0");
    sequence *seqs = calloc(n ? n : 1, sizeof *seqs);
    if (!seqs)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_status st = VKQ_OK;
    for (uint32_t i = 0; i < n && st == VKQ_OK; i++)
        st = start(&seqs[i], &out[i], prompts[i], lengths[i], s->steps, s->seed + i);
    if (st == VKQ_OK)
        st = run(d, tok, seqs, n, s, c);
    for (uint32_t i = 0; i < n; i++) {
        free(seqs[i].prompt);
        if (st != VKQ_OK && seqs[i].out)
            vkq_generation_free(seqs[i].out);
    }
    free(seqs);
    return st;
}

vkq_status vkq_generate(vkq_decoder *d, const vkq_tokenizer *tok, const char *const *prompts,
                        uint32_t n, const vkq_sampling *s, vkq_generation *out)
{
    int32_t **tokens = calloc(n ? n : 1, sizeof *tokens);
    uint32_t *lengths = calloc(n ? n : 1, sizeof *lengths);
    vkq_status st = tokens && lengths ? VKQ_OK
                                      : vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    for (uint32_t i = 0; i < n && st == VKQ_OK; i++) {
        size_t room = vkq_tokenizer_max_tokens(tok, strlen(prompts[i]));
        tokens[i] = room <= UINT32_MAX ? malloc(room * sizeof **tokens) : NULL;
        st = tokens[i] ? vkq_tokenizer_encode(tok, prompts[i], 1, 0, tokens[i], (uint32_t)room,
                                              &lengths[i])
                       : vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    }
    if (st == VKQ_OK)
        st = vkq_generate_tokens(d, tok, (const int32_t *const *)tokens, lengths, n, s, out);
    for (uint32_t i = 0; tokens && i < n; i++)
        free(tokens[i]);
    free(tokens);
    free(lengths);
    return st;
}

void vkq_generation_free(vkq_generation *g)
{
    free(g->tokens);
    free(g->text);
    memset(g, 0, sizeof *g);
}
