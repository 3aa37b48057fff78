/* Encoding as llama2.c's run.c does it: BOS, a dummy-prefix " ", then each UTF-8 codepoint
 * (at most 4 bytes) as a token or else as byte tokens; then, while any adjacent pair
 * concatenates to a vocabulary piece, merge the pair whose piece scores highest (the leftmost
 * on ties). run.c rescans the whole sequence per merge; here the tokens form a linked list and
 * the candidate pairs a priority queue, which picks the same pair each round in O(log n). */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer_internal.h"

enum { NONE = UINT32_MAX, MAX_CODEPOINT_BYTES = 4 };

/* run.c only merges pairs scoring above its initial best score. */
static const float MERGE_SCORE_FLOOR = -1e10f;

typedef struct merge_candidate {
    float score;
    uint32_t left, right;               /* list nodes */
    int32_t left_token, right_token;    /* their tokens when the candidate was found */
    int32_t merged;
} merge_candidate;

typedef struct token_list {
    int32_t *token;
    uint32_t *prev, *next; /* NONE at the ends; node 0, if any, is always the head */
    uint32_t count;
    merge_candidate *heap; /* best candidate first */
    uint32_t heap_count;
    char *pair_text;       /* room for two pieces side by side */
} token_list;

static vkq_status list_init(const vkq_tokenizer *t, size_t capacity, token_list *l)
{
    memset(l, 0, sizeof *l);
    if (capacity > SIZE_MAX / (3 * sizeof *l->heap))
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "cannot encode %zu bytes at once", capacity);
    l->token = malloc(capacity * sizeof *l->token);
    l->prev = malloc(capacity * sizeof *l->prev);
    l->next = malloc(capacity * sizeof *l->next);
    /* each merge removes a node and adds at most two candidates */
    l->heap = malloc(3 * capacity * sizeof *l->heap);
    l->pair_text = malloc(2 * (size_t)t->max_piece_length + 1);
    if (!l->token || !l->prev || !l->next || !l->heap || !l->pair_text)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "cannot allocate room to encode %zu bytes",
                        capacity);
    return VKQ_OK;
}

static void list_free(token_list *l)
{
    free(l->token);
    free(l->prev);
    free(l->next);
    free(l->heap);
    free(l->pair_text);
}

static void list_append(token_list *l, int32_t token)
{
    uint32_t i = l->count++;
    l->token[i] = token;
    l->prev[i] = i == 0 ? NONE : i - 1;
    l->next[i] = NONE;
    if (i > 0)
        l->next[i - 1] = i;
}

/* The piece for bytes if the vocabulary has it, else one byte token per byte. */
static vkq_status append_piece_or_bytes(const vkq_tokenizer *t, token_list *l, const char *bytes,
                                        size_t length)
{
    int32_t id = vkq_tokenizer_find(t, bytes, length);
    if (id >= 0) {
        list_append(l, id);
        return VKQ_OK;
    }
    for (size_t i = 0; i < length; i++) {
        unsigned byte = (unsigned char)bytes[i];
        if (VKQ_TOKEN_FIRST_BYTE + byte >= t->vocab_size)
            return vkq_fail(VKQ_ERR_UNSUPPORTED,
                            "byte 0x%02X has no token: a vocabulary of %u has no byte fallback",
                            byte, t->vocab_size);
        list_append(l, (int32_t)(VKQ_TOKEN_FIRST_BYTE + byte));
    }
    return VKQ_OK;
}

static int is_continuation(char c) { return ((unsigned char)c & 0xC0) == 0x80; }

/* A codepoint: a byte and the continuation bytes after it, at most MAX_CODEPOINT_BYTES. Like
 * run.c, a stray or surplus continuation byte starts a codepoint of its own. */
static size_t codepoint_length(const char *s)
{
    size_t n = 1;
    while (n < MAX_CODEPOINT_BYTES && is_continuation(s[n]))
        n++;
    return n;
}

static vkq_status split_text(const vkq_tokenizer *t, const char *text, int bos, token_list *l)
{
    if (bos)
        list_append(l, VKQ_TOKEN_BOS);
    if (text[0] != '\0')
        VKQ_TRY(append_piece_or_bytes(t, l, " ", 1));
    for (const char *c = text; *c != '\0';) {
        size_t n = codepoint_length(c);
        VKQ_TRY(append_piece_or_bytes(t, l, c, n));
        c += n;
    }
    return VKQ_OK;
}

static int candidate_before(const merge_candidate *a, const merge_candidate *b)
{
    /* list order is the order of node indices, so the smaller left node is the leftmost */
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void swap_candidates(merge_candidate *a, merge_candidate *b)
{
    merge_candidate tmp = *a;
    *a = *b;
    *b = tmp;
}

static void heap_push(token_list *l, const merge_candidate *c)
{
    uint32_t i = l->heap_count++;
    l->heap[i] = *c;
    while (i > 0 && candidate_before(&l->heap[i], &l->heap[(i - 1) / 2])) {
        swap_candidates(&l->heap[i], &l->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
}

static merge_candidate heap_pop(token_list *l)
{
    merge_candidate top = l->heap[0];
    l->heap[0] = l->heap[--l->heap_count];
    for (uint32_t i = 0;;) {
        uint32_t best = i, a = 2 * i + 1, b = 2 * i + 2;
        if (a < l->heap_count && candidate_before(&l->heap[a], &l->heap[best]))
            best = a;
        if (b < l->heap_count && candidate_before(&l->heap[b], &l->heap[best]))
            best = b;
        if (best == i)
            break;
        swap_candidates(&l->heap[i], &l->heap[best]);
        i = best;
    }
    return top;
}

/* Queues the merge of node `left` with its right neighbour if their pieces join into one. */
static void consider_pair(const vkq_tokenizer *t, token_list *l, uint32_t left)
{
    uint32_t right = left == NONE ? NONE : l->next[left];
    if (right == NONE)
        return;
    const vkq_piece *a = &t->pieces[l->token[left]], *b = &t->pieces[l->token[right]];
    size_t length = (size_t)a->length + b->length;
    if (length > t->max_piece_length)
        return;
    memcpy(l->pair_text, a->text, a->length);
    memcpy(l->pair_text + a->length, b->text, b->length);
    int32_t merged = vkq_tokenizer_find(t, l->pair_text, length);
    if (merged < 0 || !(t->pieces[merged].score > MERGE_SCORE_FLOOR))
        return;
    merge_candidate c = {t->pieces[merged].score, left, right, l->token[left], l->token[right],
                         merged};
    heap_push(l, &c);
}

/* A queued candidate is stale once either node was merged into something else. */
static int still_current(const token_list *l, const merge_candidate *c)
{
    return l->next[c->left] == c->right && l->token[c->left] == c->left_token &&
           l->token[c->right] == c->right_token;
}

static void merge_pairs(const vkq_tokenizer *t, token_list *l)
{
    for (uint32_t i = 0; i + 1 < l->count; i++)
        consider_pair(t, l, i);
    while (l->heap_count > 0) {
        merge_candidate c = heap_pop(l);
        if (!still_current(l, &c))
            continue;
        uint32_t after = l->next[c.right];
        l->token[c.left] = c.merged;
        l->token[c.right] = -1;
        l->next[c.left] = after;
        if (after != NONE)
            l->prev[after] = c.left;
        consider_pair(t, l, l->prev[c.left]);
        consider_pair(t, l, c.left);
    }
}

static uint32_t list_length(const token_list *l)
{
    uint32_t n = 0;
    for (uint32_t i = l->count ? 0 : NONE; i != NONE; i = l->next[i])
        n++;
    return n;
}

static void list_copy(const token_list *l, int32_t *tokens)
{
    for (uint32_t i = l->count ? 0 : NONE; i != NONE; i = l->next[i])
        *tokens++ = l->token[i];
}

vkq_status vkq_tokenizer_encode(const vkq_tokenizer *t, const char *text, int bos, int eos,
                                int32_t *tokens, uint32_t max_tokens, uint32_t *count)
{
    if (!t || !text || !count || (max_tokens > 0 && !tokens))
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "vkq_tokenizer_encode: NULL argument");
    size_t length = strlen(text);
    if (length > INT32_MAX - 3)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "cannot encode %zu bytes of text at once",
                        length);
    if ((bos && t->vocab_size <= VKQ_TOKEN_BOS) || (eos && t->vocab_size <= VKQ_TOKEN_EOS))
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "a vocabulary of %u has no %s token", t->vocab_size,
                        bos && t->vocab_size <= VKQ_TOKEN_BOS ? "BOS" : "EOS");
    token_list l;
    vkq_status status = list_init(t, length + 2, &l); /* BOS, dummy prefix, a token per byte */
    if (status == VKQ_OK)
        status = split_text(t, text, bos, &l);
    if (status == VKQ_OK) {
        merge_pairs(t, &l);
        *count = list_length(&l) + (eos ? 1 : 0);
        if (*count > max_tokens)
            status = vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                              "the encoding has %u tokens, the buffer holds %u", *count,
                              max_tokens);
    }
    if (status == VKQ_OK) {
        list_copy(&l, tokens);
        if (eos)
            tokens[*count - 1] = VKQ_TOKEN_EOS;
    }
    list_free(&l);
    return status;
}
