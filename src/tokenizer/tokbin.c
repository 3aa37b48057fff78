/* The tok.bin tokenizer: the vocabulary with a sorted index, and decoding. The whole file is
 * read first and parsed from memory, so every length in it is checked against the bytes that really exist. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"
#include "tokenizer/tokbin_internal.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tok.bin is little-endian and is read with memcpy"
#endif

enum { TOKEN_HEADER_BYTES = 8 }; /* float32 score + int32 length */

typedef struct cursor {
    const unsigned char *at;
    size_t left;
} cursor;

static int take(cursor *c, void *dst, size_t n)
{
    if (c->left < n)
        return 0;
    memcpy(dst, c->at, n);
    c->at += n;
    c->left -= n;
    return 1;
}

/* Copies one token's piece into the arena. */
static vkq_status parse_token(const char *path, cursor *c, uint32_t id, int32_t max_length,
                              char **arena, vkq_piece *out)
{
    int32_t length;
    if (!take(c, &out->score, sizeof out->score) || !take(c, &length, sizeof length))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: truncated inside the header of token %u", path, id);
    if (length < 0)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: token %u has a negative length %d", path, id,
                        (int)length);
    if ((size_t)length > c->left)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: truncated: token %u claims %d bytes, %zu remain",
                        path, id, (int)length, c->left);
    if (length > max_length)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: token %u has %d bytes, more than max_token_length %d",
                        path, id, (int)length, (int)max_length);
    if (memchr(c->at, '\0', (size_t)length))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: token %u contains a NUL byte", path, id);
    out->text = *arena;
    out->length = (uint32_t)length;
    take(c, *arena, (size_t)length);
    (*arena)[length] = '\0';
    *arena += length + 1;
    return VKQ_OK;
}

/* Each token takes at least TOKEN_HEADER_BYTES of the file, which bounds the allocation. */
static vkq_status parse_vocabulary(const char *path, const char *data, size_t size, uint32_t vocab_size,
                                   vkq_tokbin *t)
{
    cursor c = {(const unsigned char *)data, size};
    int32_t max_length;
    if (!take(&c, &max_length, sizeof max_length))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: truncated: %zu bytes, no max_token_length header",
                        path, size);
    if (max_length < 0)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: not a tokenizer: negative max_token_length %d",
                        path, (int)max_length);
    if (c.left == 0 && vocab_size == 0)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: no tokens after the header", path);
    size_t capacity = c.left / TOKEN_HEADER_BYTES;
    if (vocab_size && vocab_size < capacity)
        capacity = vocab_size;
    if (capacity > INT32_MAX)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: too large for int32 token ids", path);
    t->pieces = calloc(capacity ? capacity : 1, sizeof *t->pieces);
    t->text_arena = malloc(c.left + 1);
    if (!t->pieces || !t->text_arena)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate the vocabulary", path);
    char *arena = t->text_arena;
    uint32_t n = 0;
    for (; vocab_size ? n < vocab_size : c.left > 0; n++) { /* vocab_size 0: up to the end */
        if (c.left == 0)
            return vkq_fail(VKQ_ERR_FORMAT, "%s: truncated: expected %u tokens, file ends after %u",
                            path, vocab_size, n);
        /* parsed aside: a token cut short after its score would not fit the capacity */
        vkq_piece piece;
        VKQ_TRY(parse_token(path, &c, n, max_length, &arena, &piece));
        t->pieces[n] = piece;
        if (piece.length > t->max_piece_length)
            t->max_piece_length = piece.length;
    }
    if (c.left > 0)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: %zu bytes of trailing garbage after %u tokens", path,
                        c.left, n);
    t->base.vocab_size = n;
    return VKQ_OK;
}

static int compare_bytes(const char *a, size_t a_length, const char *b, size_t b_length)
{
    int c = memcmp(a, b, a_length < b_length ? a_length : b_length);
    if (c != 0)
        return c;
    return (a_length > b_length) - (a_length < b_length);
}

static int compare_sorted(const void *pa, const void *pb)
{
    const vkq_sorted_piece *a = pa, *b = pb;
    int c = compare_bytes(a->text, a->length, b->text, b->length);
    return c != 0 ? c : (a->id > b->id) - (a->id < b->id);
}

static vkq_status build_sorted_index(vkq_tokbin *t)
{
    t->sorted = malloc(t->base.vocab_size * sizeof *t->sorted);
    if (!t->sorted)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "cannot allocate a vocabulary index of %u entries",
                        t->base.vocab_size);
    for (uint32_t i = 0; i < t->base.vocab_size; i++)
        t->sorted[i] = (vkq_sorted_piece){t->pieces[i].text, t->pieces[i].length, (int32_t)i};
    qsort(t->sorted, t->base.vocab_size, sizeof *t->sorted, compare_sorted);
    return VKQ_OK;
}

int32_t vkq_tokbin_find(const vkq_tokbin *t, const char *bytes, size_t length)
{
    size_t lo = 0, hi = t->base.vocab_size; /* the first entry >= bytes lies in [lo, hi] */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const vkq_sorted_piece *p = &t->sorted[mid];
        if (compare_bytes(p->text, p->length, bytes, length) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < t->base.vocab_size &&
        compare_bytes(t->sorted[lo].text, t->sorted[lo].length, bytes, length) == 0)
        return t->sorted[lo].id;
    return -1;
}

static const char *tokbin_piece(const vkq_tokenizer *base, int32_t token)
{
    const vkq_tokbin *t = (const vkq_tokbin *)base;
    if (token < 0 || (uint32_t)token >= t->base.vocab_size)
        return NULL;
    return t->pieces[token].text;
}

static const char *tokbin_decode(const vkq_tokenizer *base, int32_t prev_token, int32_t token)
{
    const vkq_tokbin *t = (const vkq_tokbin *)base;
    const char *piece = tokbin_piece(base, token);
    if (!piece)
        return NULL;
    if (prev_token == VKQ_TOKEN_BOS && piece[0] == ' ')
        piece++;
    int byte = vkq_byte_piece_value(piece);
    return byte < 0 ? piece : t->byte_text[byte];
}

static size_t tokbin_max_tokens(const vkq_tokenizer *t, size_t length)
{
    (void)t;
    return length + 1; /* the dummy prefix, then at most a token per byte */
}

static void tokbin_destroy(vkq_tokenizer *base)
{
    vkq_tokbin *t = (vkq_tokbin *)base;
    free(t->pieces);
    free(t->sorted);
    free(t->text_arena);
    free(t);
}

static int32_t tokbin_find(const vkq_tokenizer *t, const char *text, size_t length)
{
    return vkq_tokbin_find((const vkq_tokbin *)t, text, length);
}

/* No token stands for more bytes of the text than the longest piece holds. */
static size_t tokbin_min_tokens(const vkq_tokenizer *base, size_t length)
{
    const vkq_tokbin *t = (const vkq_tokbin *)base;
    return t->max_piece_length ? length / t->max_piece_length : 0;
}

static const vkq_tokenizer_ops TOKBIN_OPS = {vkq_tokbin_encode, tokbin_decode,
                                             tokbin_piece,      tokbin_find,
                                             tokbin_max_tokens, tokbin_min_tokens,
                                             tokbin_destroy};

vkq_status vkq_tokbin_load(const char *path, uint32_t vocab_size, vkq_tokenizer **out)
{
    vkq_tokbin *t = calloc(1, sizeof *t);
    if (!t)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate a tokenizer", path);
    t->base = (vkq_tokenizer){&TOKBIN_OPS, 0, VKQ_TOKEN_BOS, VKQ_TOKEN_EOS, VKQ_TOKEN_BOS, NULL, -1};
    for (int b = 0; b < 256; b++)
        t->byte_text[b][0] = (char)b;
    char *data = NULL;
    size_t size = 0;
    vkq_status status = vkq_read_file(path, &data, &size);
    if (status == VKQ_OK)
        status = parse_vocabulary(path, data, size, vocab_size, t);
    if (status == VKQ_OK)
        status = build_sorted_index(t);
    free(data);
    if (status != VKQ_OK) {
        tokbin_destroy(&t->base);
        return status;
    }
    *out = &t->base;
    return VKQ_OK;
}
