/* Encoding a tok.bin as llama2.c's run.c does it: a dummy-prefix " ", then each UTF-8
 * codepoint (at most 4 bytes) as a token or else as byte tokens; then, while any adjacent
 * pair concatenates to a vocabulary piece, merge the pair whose piece scores highest (the
 * leftmost on ties). */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokbin_internal.h"

enum { MAX_CODEPOINT_BYTES = 4 };

/* run.c only merges pairs scoring above its initial best score. */
static const float MERGE_SCORE_FLOOR = -1e10f;

/* The piece for bytes if the vocabulary has it, else one byte token per byte. */
static vkq_status append_piece_or_bytes(const vkq_tokbin *t, const char *bytes, size_t length,
                                        vkq_ids *out)
{
    int32_t id = vkq_tokbin_find(t, bytes, length);
    if (id >= 0)
        return vkq_ids_push(out, id);
    for (size_t i = 0; i < length; i++) {
        unsigned byte = (unsigned char)bytes[i];
        if (VKQ_TOKEN_FIRST_BYTE + byte >= t->base.vocab_size)
            return vkq_fail(VKQ_ERR_UNSUPPORTED,
                            "byte 0x%02X has no token: a vocabulary of %u has no byte fallback",
                            byte, t->base.vocab_size);
        VKQ_TRY(vkq_ids_push(out, (int32_t)(VKQ_TOKEN_FIRST_BYTE + byte)));
    }
    return VKQ_OK;
}

static int is_continuation(char c) { return ((unsigned char)c & 0xC0) == 0x80; }

/* A codepoint: a byte and the continuation bytes after it, at most MAX_CODEPOINT_BYTES. Like
 * run.c, a stray or surplus continuation byte starts a codepoint of its own. */
static size_t codepoint_length(const char *s, size_t left)
{
    size_t n = 1;
    while (n < MAX_CODEPOINT_BYTES && n < left && is_continuation(s[n]))
        n++;
    return n;
}

typedef struct pair_model {
    const vkq_tokbin *t;
    char *pair_text; /* room for two pieces side by side */
} pair_model;

static int32_t merge_pair(const void *model, int32_t left, int32_t right, float *score)
{
    const pair_model *m = model;
    const vkq_piece *a = &m->t->pieces[left], *b = &m->t->pieces[right];
    size_t length = (size_t)a->length + b->length;
    if (length > m->t->max_piece_length)
        return -1;
    memcpy(m->pair_text, a->text, a->length);
    memcpy(m->pair_text + a->length, b->text, b->length);
    int32_t merged = vkq_tokbin_find(m->t, m->pair_text, length);
    if (merged < 0 || !(m->t->pieces[merged].score > MERGE_SCORE_FLOOR))
        return -1;
    *score = m->t->pieces[merged].score;
    return merged;
}

static vkq_status merge_all(const vkq_tokbin *t, vkq_ids *out, size_t first)
{
    pair_model m = {t, malloc(2 * (size_t)t->max_piece_length + 1)};
    vkq_bpe_work *w = vkq_bpe_work_new();
    vkq_status status = VKQ_OK;
    if (!m.pair_text || !w)
        status = vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "cannot allocate room to encode");
    uint32_t n = (uint32_t)(out->count - first);
    if (status == VKQ_OK)
        status = vkq_bpe_merge(w, &m, merge_pair, out->id + first, &n);
    if (status == VKQ_OK)
        out->count = first + n;
    vkq_bpe_work_free(w);
    free(m.pair_text);
    return status;
}

vkq_status vkq_tokbin_encode(const vkq_tokenizer *base, const char *text, size_t length,
                             vkq_ids *out)
{
    const vkq_tokbin *t = (const vkq_tokbin *)base;
    if (length == 0)
        return VKQ_OK;
    size_t first = out->count;
    VKQ_TRY(vkq_ids_reserve(out, length + 1));
    VKQ_TRY(append_piece_or_bytes(t, " ", 1, out));
    for (size_t at = 0; at < length;) {
        size_t n = codepoint_length(text + at, length - at);
        VKQ_TRY(append_piece_or_bytes(t, text + at, n, out));
        at += n;
    }
    return merge_all(t, out, first);
}
