#include <stdlib.h>

#include "kernels/launch.h"
#include "vkquill/nn.h"

typedef struct embedding_push {
    uint32_t n, dim, rows, groups, first, vocab;
} embedding_push;
VKQ_STATIC_ASSERT_PUSH(embedding_push);

enum { FORWARD, TABLE_GRADIENT };

static vkq_status embedding(vkq_rec *rec, uint32_t mode, vkq_dtype table_type,
                            const vkq_binding slots[5], const embedding_push *push,
                            uint64_t invocations)
{
    vkq_dispatch d = {.kernel = &vkq_kernel_embedding,
                      .spec = {mode, (uint32_t)table_type},
                      .spec_count = 2,
                      .push = push,
                      .push_bytes = sizeof *push};
    for (int i = 0; i < 5; i++)
        d.slot[i] = slots[i];
    vkq_grid_1d(invocations, 64, d.groups);
    return vkq_rec_dispatch(rec, &d);
}

vkq_status vkq_embedding_forward(vkq_rec *rec, vkq_buf table, vkq_buf tokens, vkq_buf out,
                                 uint32_t n, uint32_t dim, uint32_t vocab)
{
    vkq_table_rows whole = {table, 0, vocab, VKQ_F32};
    return vkq_embedding_forward_rows(rec, &whole, tokens, out, n, dim, vocab);
}

static vkq_status check_piece(const char *op, const vkq_table_rows *t, uint32_t dim,
                              uint32_t vocab)
{
    if (t->first > vocab || t->rows > vocab - t->first)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "%s: rows %u..%u are outside a table of %u rows", op, t->first,
                        t->first + t->rows, vocab);
    uint64_t elements = (uint64_t)t->rows * dim;
    if (t->dtype == VKQ_F32)
        return vkq_need_floats(op, "table", t->buf, elements);
    if (t->dtype > VKQ_BF16 || t->buf.offset % 4 || t->buf.size % 4)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "%s: the table must be f32, or f16/bf16 in whole 32-bit words", op);
    return vkq_need_floats(op, "table", t->buf, (elements + 1) / 2);
}

vkq_status vkq_embedding_forward_rows(vkq_rec *rec, const vkq_table_rows *table, vkq_buf tokens,
                                      vkq_buf out, uint32_t n, uint32_t dim, uint32_t vocab)
{
    uint64_t elements = (uint64_t)n * dim;
    VKQ_TRY(check_piece("embedding", table, dim, vocab));
    VKQ_TRY(vkq_need_floats("embedding", "tokens", tokens, n));
    VKQ_TRY(vkq_need_floats("embedding", "out", out, elements));
    embedding_push push = {n, dim, table->rows, 0, table->first, vocab};
    /* The group buffers are unused in the forward; tokens stands in for them. */
    vkq_binding slots[5] = {{table->buf, VKQ_READ}, {tokens, VKQ_READ}, {tokens, VKQ_READ},
                            {tokens, VKQ_READ}, {out, VKQ_WRITE}};
    return embedding(rec, FORWARD, table->dtype, slots, &push, elements);
}

vkq_status vkq_embedding_backward(vkq_rec *rec, vkq_buf dout, vkq_buf positions,
                                  vkq_buf group_start, vkq_buf group_token, uint32_t groups,
                                  vkq_buf dtable, uint32_t n, uint32_t dim)
{
    /* every group owns a row of its own */
    VKQ_TRY(vkq_need_floats("embedding backward", "dtable", dtable, (uint64_t)groups * dim));
    /* The shader skips token ids past the rows dtable holds instead of writing beyond it. */
    uint64_t rows = dim ? dtable.size / sizeof(float) / dim : 0;
    vkq_table_rows whole = {dtable, 0, rows > UINT32_MAX ? UINT32_MAX : (uint32_t)rows, VKQ_F32};
    return vkq_embedding_backward_rows(rec, dout, positions, group_start, group_token, groups,
                                       &whole, n, dim);
}

vkq_status vkq_embedding_backward_rows(vkq_rec *rec, vkq_buf dout, vkq_buf positions,
                                       vkq_buf group_start, vkq_buf group_token, uint32_t groups,
                                       const vkq_table_rows *dtable, uint32_t n, uint32_t dim)
{
    VKQ_TRY(vkq_need_floats("embedding backward", "dout", dout, (uint64_t)n * dim));
    VKQ_TRY(vkq_need_floats("embedding backward", "positions", positions, n));
    VKQ_TRY(vkq_need_floats("embedding backward", "group_start", group_start,
                            (uint64_t)groups + 1));
    VKQ_TRY(vkq_need_floats("embedding backward", "group_token", group_token, groups));
    if (dtable->dtype != VKQ_F32)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "embedding backward: dtable must be f32");
    VKQ_TRY(vkq_need_floats("embedding backward", "dtable", dtable->buf,
                            (uint64_t)dtable->rows * dim));
    if (groups == 0 || dim == 0 || dtable->rows == 0)
        return VKQ_OK; /* nothing to add */
    embedding_push push = {n, dim, dtable->rows, groups, dtable->first, UINT32_MAX};
    vkq_binding slots[5] = {{dout, VKQ_READ}, {positions, VKQ_READ}, {group_start, VKQ_READ},
                            {group_token, VKQ_READ}, {dtable->buf, VKQ_READ_WRITE}};
    return embedding(rec, TABLE_GRADIENT, VKQ_F32, slots, &push, (uint64_t)groups * dim);
}

static vkq_status check_tokens(const int32_t *tokens, uint32_t n, uint32_t vocab)
{
    for (uint32_t t = 0; t < n; t++)
        if (tokens[t] < 0 || (uint32_t)tokens[t] >= vocab)
            return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                            "embedding index: token id %d at position %u is outside the "
                            "vocabulary [0, %u)", tokens[t], t, vocab);
    return VKQ_OK;
}

/* A counting sort by token id: stable, so positions ascend within each group. */
static void fill_index(const int32_t *tokens, uint32_t n, uint32_t vocab, uint32_t *next,
                       vkq_embedding_index *ix)
{
    for (uint32_t t = 0; t < n; t++)
        next[tokens[t]]++;
    uint32_t offset = 0;
    for (uint32_t v = 0; v < vocab; v++) {
        uint32_t count = next[v];
        next[v] = offset;
        if (count) {
            ix->group_start[ix->groups] = (int32_t)offset;
            ix->group_token[ix->groups++] = (int32_t)v;
        }
        offset += count;
    }
    ix->group_start[ix->groups] = (int32_t)n;
    for (uint32_t t = 0; t < n; t++)
        ix->positions[next[tokens[t]]++] = (int32_t)t;
}

vkq_status vkq_embedding_index_build(const int32_t *tokens, uint32_t n, uint32_t vocab,
                                     vkq_embedding_index *out)
{
    *out = (vkq_embedding_index){0};
    if (n > INT32_MAX)
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "embedding index: %u tokens exceed int32 positions",
                        n);
    VKQ_TRY(check_tokens(tokens, n, vocab));
    uint32_t *next = calloc(vocab ? vocab : 1, sizeof *next);
    out->positions = malloc((n ? n : 1) * sizeof *out->positions);
    out->group_start = malloc(((size_t)n + 1) * sizeof *out->group_start);
    out->group_token = malloc((n ? n : 1) * sizeof *out->group_token);
    if (!next || !out->positions || !out->group_start || !out->group_token) {
        free(next);
        vkq_embedding_index_free(out);
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "embedding index: out of host memory");
    }
    fill_index(tokens, n, vocab, next, out);
    free(next);
    return VKQ_OK;
}

void vkq_embedding_index_free(vkq_embedding_index *ix)
{
    free(ix->positions);
    free(ix->group_start);
    free(ix->group_token);
    *ix = (vkq_embedding_index){0};
}
