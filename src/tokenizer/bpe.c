/* The merge loop of BPE over token ids. The tokens form a linked list and the candidate pairs
 * a priority queue, so each merge costs O(log n) instead of a rescan of the whole word. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer_internal.h"

enum { NONE = UINT32_MAX };

typedef struct merge_candidate {
    float score;
    uint32_t left, right;            /* list nodes */
    int32_t left_token, right_token; /* their tokens when the candidate was found */
    int32_t merged;
} merge_candidate;

struct vkq_bpe_work {
    int32_t *token;
    uint32_t *prev, *next;  /* NONE at the ends; node 0 is always the head */
    merge_candidate *heap;  /* best candidate first */
    uint32_t heap_count;
    size_t capacity;        /* nodes */
};

vkq_bpe_work *vkq_bpe_work_new(void) { return calloc(1, sizeof(vkq_bpe_work)); }

void vkq_bpe_work_free(vkq_bpe_work *w)
{
    if (!w)
        return;
    free(w->token);
    free(w->prev);
    free(w->next);
    free(w->heap);
    free(w);
}

static vkq_status reserve(vkq_bpe_work *w, size_t count)
{
    if (count <= w->capacity)
        return VKQ_OK;
    if (count > SIZE_MAX / (3 * sizeof *w->heap))
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "cannot merge %zu tokens at once", count);
    size_t capacity = w->capacity ? w->capacity : 64;
    while (capacity < count)
        capacity *= 2;
    free(w->token);
    free(w->prev);
    free(w->next);
    free(w->heap);
    w->token = malloc(capacity * sizeof *w->token);
    w->prev = malloc(capacity * sizeof *w->prev);
    w->next = malloc(capacity * sizeof *w->next);
    /* each merge removes a node and adds at most two candidates */
    w->heap = malloc(3 * capacity * sizeof *w->heap);
    w->capacity = w->token && w->prev && w->next && w->heap ? capacity : 0;
    if (!w->capacity)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "cannot allocate room to merge %zu tokens",
                        count);
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

static void heap_push(vkq_bpe_work *w, const merge_candidate *c)
{
    uint32_t i = w->heap_count++;
    w->heap[i] = *c;
    while (i > 0 && candidate_before(&w->heap[i], &w->heap[(i - 1) / 2])) {
        swap_candidates(&w->heap[i], &w->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
}

static merge_candidate heap_pop(vkq_bpe_work *w)
{
    merge_candidate top = w->heap[0];
    w->heap[0] = w->heap[--w->heap_count];
    for (uint32_t i = 0;;) {
        uint32_t best = i, a = 2 * i + 1, b = 2 * i + 2;
        if (a < w->heap_count && candidate_before(&w->heap[a], &w->heap[best]))
            best = a;
        if (b < w->heap_count && candidate_before(&w->heap[b], &w->heap[best]))
            best = b;
        if (best == i)
            break;
        swap_candidates(&w->heap[i], &w->heap[best]);
        i = best;
    }
    return top;
}

/* Queues the merge of node `left` with its right neighbour if their tokens merge. */
static void consider_pair(vkq_bpe_work *w, const void *model, vkq_bpe_pair_fn pair,
                          uint32_t left)
{
    uint32_t right = left == NONE ? NONE : w->next[left];
    if (right == NONE)
        return;
    merge_candidate c = {0.0f, left, right, w->token[left], w->token[right], -1};
    c.merged = pair(model, c.left_token, c.right_token, &c.score);
    if (c.merged >= 0)
        heap_push(w, &c);
}

/* A queued candidate is stale once either node was merged into something else. */
static int still_current(const vkq_bpe_work *w, const merge_candidate *c)
{
    return w->next[c->left] == c->right && w->token[c->left] == c->left_token &&
           w->token[c->right] == c->right_token;
}

vkq_status vkq_bpe_merge(vkq_bpe_work *w, const void *model, vkq_bpe_pair_fn pair,
                         int32_t *ids, uint32_t *count)
{
    uint32_t n = *count;
    if (n < 2)
        return VKQ_OK;
    VKQ_TRY(reserve(w, n));
    for (uint32_t i = 0; i < n; i++) {
        w->token[i] = ids[i];
        w->prev[i] = i == 0 ? NONE : i - 1;
        w->next[i] = i + 1 == n ? NONE : i + 1;
    }
    w->heap_count = 0;
    for (uint32_t i = 0; i + 1 < n; i++)
        consider_pair(w, model, pair, i);
    while (w->heap_count > 0) {
        merge_candidate c = heap_pop(w);
        if (!still_current(w, &c))
            continue;
        uint32_t after = w->next[c.right];
        w->token[c.left] = c.merged;
        w->token[c.right] = -1;
        w->next[c.left] = after;
        if (after != NONE)
            w->prev[after] = c.left;
        consider_pair(w, model, pair, w->prev[c.left]);
        consider_pair(w, model, pair, c.left);
    }
    uint32_t kept = 0;
    for (uint32_t i = 0; i != NONE; i = w->next[i])
        ids[kept++] = w->token[i];
    *count = kept;
    return VKQ_OK;
}
