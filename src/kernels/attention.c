/* Causal grouped-query attention over packed sequences. k and v are first packed into an
 * RGBA32F texel buffer (attention_pack_kv), which lavapipe loads as vectors where it would
 * gather storage-buffer floats one lane at a time. The backward packs, per (token, head), q,
 * dout and the softmax statistics the same way (attention_pack_queries), then sums dq per
 * query and dk, dv per key in two passes: no atomics, deterministic. */
#include "kernels/launch.h"
#include "vkquill/nn.h"

typedef struct attention_push {
    uint32_t n, heads, kv_heads;
} attention_push;
VKQ_STATIC_ASSERT_PUSH(attention_push);

typedef struct pack_kv_push {
    uint32_t rows, head_dim;
} pack_kv_push;
VKQ_STATIC_ASSERT_PUSH(pack_kv_push);

typedef struct pack_queries_push {
    uint32_t n, heads, head_dim;
} pack_queries_push;
VKQ_STATIC_ASSERT_PUSH(pack_queries_push);

enum { LOCAL_SIZE = 8, QUERY_GRADIENT = 0, KEY_VALUE_GRADIENT = 1, TEXEL_BYTES = 16 };

/* The packed queries carry a token index as a float, exact below 2^24. */
#define MAX_BACKWARD_TOKENS (1u << 24)

typedef struct attention_shape {
    uint32_t n, heads, kv_heads, head_dim;
} attention_shape;

static uint64_t query_floats(const attention_shape *s)
{
    return (uint64_t)s->n * s->heads * s->head_dim;
}

static uint64_t kv_floats(const attention_shape *s)
{
    return (uint64_t)s->n * s->kv_heads * s->head_dim;
}

static uint32_t head_texels(const attention_shape *s) { return (s->head_dim + 3) / 4; }

/* Per (token, kv head): the texels of k, then those of v. */
static uint64_t kv_texel_count(const attention_shape *s)
{
    return (uint64_t)s->n * s->kv_heads * 2 * head_texels(s);
}

/* Per (token, head): the texels of q and of dout, then one of statistics. */
static uint64_t query_texel_count(const attention_shape *s)
{
    return (uint64_t)s->n * s->heads * (2 * head_texels(s) + 1);
}

void vkq_attention_scratch(uint32_t n, uint32_t heads, uint32_t kv_heads, uint32_t head_dim,
                           uint64_t *kv, uint64_t *queries)
{
    attention_shape s = {n, heads, kv_heads, head_dim};
    *kv = kv_texel_count(&s) * TEXEL_BYTES;
    *queries = query_texel_count(&s) * TEXEL_BYTES;
}

/* Checks the shape and the tensors forward and backward share. */
static vkq_status check_args(const char *op, const attention_shape *s, vkq_buf q, vkq_buf k,
                             vkq_buf v, vkq_buf starts, vkq_buf out, vkq_buf lse)
{
    if (s->heads == 0 || s->kv_heads == 0 || s->heads % s->kv_heads != 0)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "%s: kv_heads (%u) must be positive and divide heads (%u)", op,
                        s->kv_heads, s->heads);
    if (s->head_dim == 0)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: head_dim must be positive", op);
    if (s->head_dim > VKQ_ATTENTION_MAX_HEAD_DIM)
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "%s: head_dim %u exceeds the supported maximum of %d",
                        op, s->head_dim, VKQ_ATTENTION_MAX_HEAD_DIM);
    VKQ_TRY(vkq_need_floats(op, "q", q, query_floats(s)));
    VKQ_TRY(vkq_need_floats(op, "k", k, kv_floats(s)));
    VKQ_TRY(vkq_need_floats(op, "v", v, kv_floats(s)));
    VKQ_TRY(vkq_need_floats(op, "starts", starts, s->n)); /* int32: one word per token */
    VKQ_TRY(vkq_need_floats(op, "out", out, query_floats(s)));
    return vkq_need_floats(op, "lse", lse, (uint64_t)s->n * s->heads);
}

static vkq_dispatch attention_dispatch(const vkq_kernel_desc *kernel, const void *push,
                                       uint32_t push_bytes, uint64_t invocations)
{
    vkq_dispatch d = {.kernel = kernel, .push = push, .push_bytes = push_bytes};
    vkq_grid_1d(invocations, LOCAL_SIZE, d.groups);
    return d;
}

static vkq_status texel_scratch(vkq_rec *rec, const char *op, const char *what, uint64_t texels,
                                vkq_buf *out)
{
    uint32_t limit = vkq_ctx_device(vkq_rec_ctx(rec))->max_texel_buffer_elements;
    if (texels > limit)
        return vkq_fail(VKQ_ERR_UNSUPPORTED,
                        "%s: the packed %s need %llu texels, beyond this device's texel-buffer "
                        "limit of %u",
                        op, what, (unsigned long long)texels, limit);
    return vkq_rec_scratch(rec, texels * TEXEL_BYTES, out);
}

static vkq_status pack_kv(vkq_rec *rec, const char *op, const attention_shape *s, vkq_buf k,
                          vkq_buf v, vkq_buf *kv_texels)
{
    uint64_t texels = kv_texel_count(s);
    VKQ_TRY(texel_scratch(rec, op, "keys and values", texels, kv_texels));
    pack_kv_push push = {s->n * s->kv_heads, s->head_dim};
    vkq_dispatch d = attention_dispatch(&vkq_kernel_attention_pack_kv, &push, sizeof push,
                                        texels);
    d.slot[0] = (vkq_binding){k, VKQ_READ};
    d.slot[1] = (vkq_binding){v, VKQ_READ};
    d.slot[2] = (vkq_binding){*kv_texels, VKQ_WRITE};
    return vkq_rec_dispatch(rec, &d);
}

vkq_status vkq_attention_forward(vkq_rec *rec, vkq_buf q, vkq_buf k, vkq_buf v, vkq_buf starts,
                                 vkq_buf out, vkq_buf lse, uint32_t n, uint32_t heads,
                                 uint32_t kv_heads, uint32_t head_dim)
{
    const char *op = "attention";
    attention_shape s = {n, heads, kv_heads, head_dim};
    VKQ_TRY(check_args(op, &s, q, k, v, starts, out, lse));
    if (n == 0)
        return VKQ_OK;
    vkq_buf kv_texels;
    VKQ_TRY(pack_kv(rec, op, &s, k, v, &kv_texels));
    attention_push push = {n, heads, kv_heads};
    vkq_dispatch d = attention_dispatch(&vkq_kernel_attention_forward, &push, sizeof push,
                                        (uint64_t)n * heads);
    d.spec[0] = head_dim;
    d.spec_count = 1;
    d.slot[0] = (vkq_binding){q, VKQ_READ};
    d.slot[1] = (vkq_binding){starts, VKQ_READ};
    d.slot[2] = (vkq_binding){out, VKQ_WRITE};
    d.slot[3] = (vkq_binding){lse, VKQ_WRITE};
    d.slot[6] = (vkq_binding){kv_texels, VKQ_READ};
    vkq_status st = vkq_rec_dispatch(rec, &d);
    vkq_rec_scratch_release(rec, kv_texels);
    return st;
}

/* q / sqrt(head_dim), dout, then (lse, dout . out, first key of the token's sequence, 0). */
static vkq_status pack_queries(vkq_rec *rec, const char *op, const attention_shape *s,
                               vkq_buf q, vkq_buf dout, vkq_buf out, vkq_buf lse, vkq_buf starts,
                               vkq_buf *query_texels)
{
    uint64_t rows = (uint64_t)s->n * s->heads;
    VKQ_TRY(texel_scratch(rec, op, "queries", query_texel_count(s), query_texels));
    pack_queries_push push = {s->n, s->heads, s->head_dim};
    vkq_dispatch d = attention_dispatch(&vkq_kernel_attention_pack_queries, &push, sizeof push,
                                        rows);
    d.slot[0] = (vkq_binding){q, VKQ_READ};
    d.slot[1] = (vkq_binding){dout, VKQ_READ};
    d.slot[2] = (vkq_binding){out, VKQ_READ};
    d.slot[3] = (vkq_binding){lse, VKQ_READ};
    d.slot[4] = (vkq_binding){starts, VKQ_READ};
    d.slot[5] = (vkq_binding){*query_texels, VKQ_WRITE};
    return vkq_rec_dispatch(rec, &d);
}

static vkq_status gradient_pass(vkq_rec *rec, uint32_t mode, const attention_shape *s,
                                vkq_binding grad, vkq_binding dv, vkq_buf query_texels,
                                vkq_buf kv_texels, uint64_t invocations)
{
    attention_push push = {s->n, s->heads, s->kv_heads};
    vkq_dispatch d = attention_dispatch(&vkq_kernel_attention_backward, &push, sizeof push,
                                        invocations);
    d.spec[0] = mode;
    d.spec[1] = s->head_dim;
    d.spec_count = 2;
    d.slot[0] = grad;
    d.slot[1] = dv;
    d.slot[6] = (vkq_binding){query_texels, VKQ_READ};
    d.slot[7] = (vkq_binding){kv_texels, VKQ_READ};
    return vkq_rec_dispatch(rec, &d);
}

vkq_status vkq_attention_backward(vkq_rec *rec, vkq_buf dout, vkq_buf q, vkq_buf k, vkq_buf v,
                                  vkq_buf starts, vkq_buf out, vkq_buf lse, vkq_buf dq,
                                  vkq_buf dk, vkq_buf dv, uint32_t n, uint32_t heads,
                                  uint32_t kv_heads, uint32_t head_dim)
{
    const char *op = "attention backward";
    attention_shape s = {n, heads, kv_heads, head_dim};
    VKQ_TRY(check_args(op, &s, q, k, v, starts, out, lse));
    VKQ_TRY(vkq_need_floats(op, "dout", dout, query_floats(&s)));
    VKQ_TRY(vkq_need_floats(op, "dq", dq, query_floats(&s)));
    VKQ_TRY(vkq_need_floats(op, "dk", dk, kv_floats(&s)));
    VKQ_TRY(vkq_need_floats(op, "dv", dv, kv_floats(&s)));
    if (n > MAX_BACKWARD_TOKENS)
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "%s: %u tokens exceed the maximum of %u", op, n,
                        MAX_BACKWARD_TOKENS);
    if (n == 0)
        return VKQ_OK;
    vkq_buf kv_texels, query_texels;
    VKQ_TRY(pack_kv(rec, op, &s, k, v, &kv_texels));
    VKQ_TRY(pack_queries(rec, op, &s, q, dout, out, lse, starts, &query_texels));
    /* The query pass writes no dv; dq stands in so that every declared binding is valid. */
    VKQ_TRY(gradient_pass(rec, QUERY_GRADIENT, &s, (vkq_binding){dq, VKQ_READ_WRITE},
                          (vkq_binding){dq, VKQ_READ}, query_texels, kv_texels,
                          (uint64_t)n * heads));
    vkq_status st = gradient_pass(rec, KEY_VALUE_GRADIENT, &s, (vkq_binding){dk, VKQ_READ_WRITE},
                                  (vkq_binding){dv, VKQ_READ_WRITE}, query_texels, kv_texels,
                                  (uint64_t)n * kv_heads);
    vkq_rec_scratch_release(rec, kv_texels);
    vkq_rec_scratch_release(rec, query_texels);
    return st;
}
