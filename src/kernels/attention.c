/* Causal grouped-query attention over packed sequences, in the manner of FlashAttention: tiles
 * of queries against tiles of keys with an online softmax, the score matrix never in memory,
 * the backward recomputing the probabilities from the saved log-sum-exp. Scratch grows
 * linearly with the tokens.
 *
 * The cpu variant packs q (pre-scaled), k and v in one dispatch, and for the backward dout, into
 * panels of RGBA32F texel buffers (attention_pack), which lavapipe loads as vectors, and runs
 * 32 x 32 blocks on 8 lanes of a subgroup, a subgroup of 16 taking two heads side by side
 * (attention_forward_cpu, attention_backward_cpu). A
 * caller that keeps the forward's packed q, k and v (vkq_attention_kept_bytes a layer) spares
 * the backward packing them again. The gpu
 * variant reads the tensors in place and passes blocks of keys (or queries) through shared
 * memory to a workgroup of 64 tokens (attention_forward_gpu, attention_backward_gpu). Both
 * backwards read lse, delta = dout . out and each query's first key from attention_stats, and
 * sum dq per query tile, dk and dv per key tile, in two passes: no atomics, deterministic. */
#include <math.h>

#include "kernels/launch.h"
#include "vkquill/nn.h"

typedef struct attention_push {
    uint32_t n, heads, kv_heads;
    uint32_t q_at, k_at, v_at, dout_at, stats_at; /* cpu: texel offsets of the panels */
} attention_push;
VKQ_STATIC_ASSERT_PUSH(attention_push);

typedef struct pack_push {
    uint32_t n, first_heads, other_heads, head_dim, padded_dim;
    float scale;
} pack_push;
VKQ_STATIC_ASSERT_PUSH(pack_push);

typedef struct stats_push {
    uint32_t n, heads, head_dim;
} stats_push;
VKQ_STATIC_ASSERT_PUSH(stats_push);

enum {
    CPU_TILE = 32,        /* tokens of a cpu tile, and of a statistics tile */
    GPU_TILE = 64,        /* tokens of a gpu workgroup */
    STATS_TEXELS = 3 * 8, /* lse, delta, first key of 32 tokens */
    QUERY_GRADIENT = 0,
    KEY_VALUE_GRADIENT = 1,
    TEXEL_BYTES = 16
};

/* The statistics carry a token index as a float, exact below 2^24. */
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

static uint32_t tiles(const attention_shape *s) { return (s->n + CPU_TILE - 1) / CPU_TILE; }
/* The cpu kernels' PADDED_DIM: the panels hold zeros up to a multiple of 4 for a head of at most
 * CHUNK (16) dimensions, else of CHUNK. */
static uint32_t padded_dim(const attention_shape *s)
{
    return s->head_dim <= 16 ? (s->head_dim + 3) / 4 * 4 : (s->head_dim + 15) / 16 * 16;
}

/* Texels of the panels of a tensor with `heads` heads: 8 per (head, tile, padded d). */
static uint64_t panel_texels(const attention_shape *s, uint32_t heads)
{
    return (uint64_t)heads * tiles(s) * padded_dim(s) * 8;
}

static uint64_t stats_texels(const attention_shape *s)
{
    return (uint64_t)s->heads * tiles(s) * STATS_TEXELS;
}

/* Where each packed tensor starts in the cpu variant's texel buffers: q, k, v in the first
 * (kept_end texels, which a caller may keep from the forward for the backward), dout and the
 * statistics in the backward's second (grad_end texels). */
typedef struct panel_layout {
    uint32_t q, k, v, dout, stats;
    uint64_t kept_end, grad_end;
} panel_layout;

static panel_layout layout_of(const attention_shape *s)
{
    panel_layout l = {0};
    uint64_t q = panel_texels(s, s->heads), kv = panel_texels(s, s->kv_heads);
    l.k = (uint32_t)q;
    l.v = (uint32_t)(q + kv);
    l.kept_end = q + 2 * kv;
    l.stats = (uint32_t)q;
    l.grad_end = q + stats_texels(s);
    return l;
}

uint64_t vkq_attention_kept_bytes(const vkq_scratch_target *t, uint32_t n, uint32_t heads,
                                  uint32_t kv_heads, uint32_t head_dim)
{
    attention_shape s = {n, heads, kv_heads, head_dim};
    return t->variant == VKQ_VARIANT_CPU ? layout_of(&s).kept_end * TEXEL_BYTES : 0;
}

void vkq_attention_scratch(const vkq_scratch_target *t, uint32_t n, uint32_t heads,
                           uint32_t kv_heads, uint32_t head_dim, int kept, uint64_t *forward,
                           uint64_t backward[2])
{
    attention_shape s = {n, heads, kv_heads, head_dim};
    uint64_t panels = kept ? 0 : vkq_attention_kept_bytes(t, n, heads, kv_heads, head_dim);
    *forward = panels;
    backward[0] = panels;
    backward[1] = (t->variant == VKQ_VARIANT_CPU ? layout_of(&s).grad_end : stats_texels(&s)) *
                  TEXEL_BYTES;
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

static vkq_status check_texels(vkq_rec *rec, const char *op, uint64_t texels)
{
    uint32_t limit = vkq_ctx_device(vkq_rec_ctx(rec))->max_texel_buffer_elements;
    if (texels > limit)
        return vkq_fail(VKQ_ERR_UNSUPPORTED,
                        "%s: the packed tensors need %llu texels, beyond this device's "
                        "texel-buffer limit of %u",
                        op, (unsigned long long)texels, limit);
    return VKQ_OK;
}

static vkq_status texel_scratch(vkq_rec *rec, const char *op, uint64_t texels, vkq_buf *out)
{
    VKQ_TRY(check_texels(rec, op, texels));
    return vkq_rec_scratch(rec, texels * TEXEL_BYTES, out);
}

/* The texel buffer of the packed q, k and v: the caller's kept buffer, or scratch (*taken). */
static vkq_status qkv_panels(vkq_rec *rec, const char *op, const panel_layout *l, vkq_buf kept,
                             vkq_buf *out, int *taken)
{
    *taken = kept.size == 0;
    if (*taken)
        return texel_scratch(rec, op, l->kept_end, out);
    VKQ_TRY(check_texels(rec, op, l->kept_end));
    if (kept.size < l->kept_end * TEXEL_BYTES)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "%s: the kept buffer has %llu bytes where the packed q, k and v need "
                        "%llu",
                        op, (unsigned long long)kept.size,
                        (unsigned long long)(l->kept_end * TEXEL_BYTES));
    *out = kept;
    return VKQ_OK;
}

/* The `count` texels of `buf` from texel `at`: each packing kernel binds only what it writes,
 * so that no storage binding is larger than one packed tensor. */
static vkq_buf texels_at(vkq_buf buf, uint32_t at, uint64_t count)
{
    return vkq_buf_slice(buf, (uint64_t)at * TEXEL_BYTES, count * TEXEL_BYTES);
}

/* x[i] into the panels at texel at[i] of `panels`, for i < count (at most 3), in one dispatch:
 * x[0] has first_heads heads and is multiplied by scale, the others kv_heads. Each source is
 * bound as storage and as texels (read as texels when head_dim is a multiple of 4); the slots
 * of the tensors past count repeat tensor 0's, read only, so that every declared binding is
 * valid. */
static vkq_status pack(vkq_rec *rec, const attention_shape *s, uint32_t count, const vkq_buf *x,
                       const uint32_t *at, uint32_t first_heads, float scale, vkq_buf panels)
{
    pack_push push = {s->n, first_heads, s->kv_heads, s->head_dim, padded_dim(s), scale};
    vkq_dispatch d = {.kernel = &vkq_kernel_attention_pack, .push = &push,
                      .push_bytes = sizeof push};
    d.groups[0] = tiles(s);
    d.groups[1] = first_heads + (count - 1) * s->kv_heads;
    d.groups[2] = 1;
    int texels = s->head_dim % 4 == 0;
    d.spec[0] = (uint32_t)texels;
    d.spec_count = 1;
    for (uint32_t i = 0; i < 3; i++) {
        uint32_t j = i < count ? i : 0, heads = j ? s->kv_heads : first_heads;
        vkq_buf out = texels_at(panels, at[j], panel_texels(s, heads));
        d.slot[i] = (vkq_binding){x[j], VKQ_READ};
        d.slot[3 + i] = (vkq_binding){out, i < count ? VKQ_WRITE : VKQ_READ};
        /* Without texels the views go unread, and a tensor of part texels cannot be one: the
         * panels stand in. */
        d.slot[6 + i] = (vkq_binding){texels ? x[j] : out, VKQ_READ};
    }
    return vkq_rec_dispatch(rec, &d);
}

static vkq_status pack_qkv(vkq_rec *rec, const attention_shape *s, const panel_layout *l,
                           vkq_buf q, vkq_buf k, vkq_buf v, vkq_buf panels)
{
    const vkq_buf x[3] = {q, k, v};
    const uint32_t at[3] = {l->q, l->k, l->v};
    return pack(rec, s, 3, x, at, s->heads, 1.0f / sqrtf((float)s->head_dim), panels);
}

/* Workgroups of one tile of `tile` tokens by `heads` heads; head_dim is constant 0. */
static vkq_dispatch tile_dispatch(const vkq_kernel_desc *kernel, const attention_push *push,
                                  uint32_t tile, uint32_t heads, uint32_t head_dim)
{
    vkq_dispatch d = {.kernel = kernel, .push = push, .push_bytes = sizeof *push};
    d.spec[0] = head_dim;
    d.spec_count = 1;
    d.groups[0] = (push->n + tile - 1) / tile;
    d.groups[1] = heads;
    d.groups[2] = 1;
    return d;
}

/* The cpu kernels' workgroup: one subgroup of 8 lanes, or of 16 taking two heads at a time. */
static uint32_t cpu_width(vkq_rec *rec)
{
    return vkq_ctx_device(vkq_rec_ctx(rec))->subgroup_size == 16 ? 16 : 8;
}

/* tile_dispatch for a cpu kernel: `heads` in groups of width / 8; the width is constant 2. */
static vkq_dispatch cpu_tile_dispatch(const vkq_kernel_desc *kernel, const attention_push *push,
                                      uint32_t heads, uint32_t head_dim, uint32_t width)
{
    uint32_t problems = width / 8;
    vkq_dispatch d = tile_dispatch(kernel, push, CPU_TILE, (heads + problems - 1) / problems,
                                   head_dim);
    d.spec[2] = width;
    d.spec_count = 3;
    return d;
}

/* The forward's tensors; kept is empty or where the packed q, k and v stay. */
typedef struct forward_args {
    vkq_buf q, k, v, starts, out, lse, kept;
} forward_args;

static vkq_status forward_cpu(vkq_rec *rec, const attention_shape *s, const forward_args *a)
{
    panel_layout l = layout_of(s);
    vkq_buf panels;
    int taken;
    VKQ_TRY(qkv_panels(rec, "attention", &l, a->kept, &panels, &taken));
    vkq_status st = pack_qkv(rec, s, &l, a->q, a->k, a->v, panels);
    attention_push push = {s->n, s->heads, s->kv_heads, l.q, l.k, l.v, 0, 0};
    vkq_dispatch d = cpu_tile_dispatch(&vkq_kernel_attention_forward_cpu, &push, s->heads,
                                       s->head_dim, cpu_width(rec));
    d.slot[0] = (vkq_binding){a->starts, VKQ_READ};
    d.slot[1] = (vkq_binding){a->out, VKQ_WRITE};
    d.slot[2] = (vkq_binding){a->lse, VKQ_WRITE};
    d.slot[6] = (vkq_binding){panels, VKQ_READ};
    if (st == VKQ_OK)
        st = vkq_rec_dispatch(rec, &d);
    if (taken)
        vkq_rec_scratch_release(rec, panels);
    return st;
}

static vkq_status forward_gpu(vkq_rec *rec, const attention_shape *s, const forward_args *a)
{
    attention_push push = {s->n, s->heads, s->kv_heads, 0, 0, 0, 0, 0};
    vkq_dispatch d = tile_dispatch(&vkq_kernel_attention_forward_gpu, &push, GPU_TILE, s->heads,
                                   s->head_dim);
    d.slot[0] = (vkq_binding){a->q, VKQ_READ};
    d.slot[1] = (vkq_binding){a->k, VKQ_READ};
    d.slot[2] = (vkq_binding){a->v, VKQ_READ};
    d.slot[3] = (vkq_binding){a->starts, VKQ_READ};
    d.slot[4] = (vkq_binding){a->out, VKQ_WRITE};
    d.slot[5] = (vkq_binding){a->lse, VKQ_WRITE};
    return vkq_rec_dispatch(rec, &d);
}

vkq_status vkq_attention_forward(vkq_rec *rec, vkq_buf q, vkq_buf k, vkq_buf v, vkq_buf starts,
                                 vkq_buf out, vkq_buf lse, vkq_buf kept, uint32_t n,
                                 uint32_t heads, uint32_t kv_heads, uint32_t head_dim)
{
    attention_shape s = {n, heads, kv_heads, head_dim};
    VKQ_TRY(check_args("attention", &s, q, k, v, starts, out, lse));
    if (n == 0)
        return VKQ_OK;
    forward_args a = {q, k, v, starts, out, lse, kept};
    if (vkq_ctx_variant(vkq_rec_ctx(rec)) == VKQ_VARIANT_CPU)
        return forward_cpu(rec, &s, &a);
    return forward_gpu(rec, &s, &a);
}

/* The backward's tensors; kept is empty or holds the forward's packed q, k and v. */
typedef struct backward_args {
    vkq_buf dout, q, k, v, starts, out, lse, kept, dq, dk, dv;
} backward_args;

/* The statistics into `panels` from texel `at`: a workgroup per (statistic, tile, head). */
static vkq_status pack_stats(vkq_rec *rec, const attention_shape *s, const backward_args *a,
                             uint32_t at, vkq_buf panels)
{
    stats_push push = {s->n, s->heads, s->head_dim};
    vkq_dispatch d = {.kernel = &vkq_kernel_attention_stats, .push = &push,
                      .push_bytes = sizeof push};
    d.groups[0] = STATS_TEXELS / 8;
    d.groups[1] = tiles(s);
    d.groups[2] = s->heads;
    d.slot[0] = (vkq_binding){a->dout, VKQ_READ};
    d.slot[1] = (vkq_binding){a->out, VKQ_READ};
    d.slot[2] = (vkq_binding){a->lse, VKQ_READ};
    d.slot[3] = (vkq_binding){a->starts, VKQ_READ};
    d.slot[5] = (vkq_binding){texels_at(panels, at, stats_texels(s)), VKQ_WRITE};
    return vkq_rec_dispatch(rec, &d);
}

/* Both passes on `base`, a dispatch whose inputs are bound, whose workgroups take `problems`
 * heads each; the gradients go to slots grad_slot (dq, then dk) and grad_slot + 1 (dv). The
 * query pass writes no dv: dq stands in so that every declared binding is valid. */
static vkq_status gradient_passes(vkq_rec *rec, vkq_dispatch base, const attention_shape *s,
                                  const backward_args *a, int grad_slot, uint32_t problems)
{
    if (base.spec_count < 2)
        base.spec_count = 2; /* head_dim, then the pass */
    vkq_dispatch d = base;
    d.spec[1] = QUERY_GRADIENT;
    d.groups[1] = (s->heads + problems - 1) / problems;
    d.slot[grad_slot] = (vkq_binding){a->dq, VKQ_READ_WRITE};
    d.slot[grad_slot + 1] = (vkq_binding){a->dq, VKQ_READ};
    VKQ_TRY(vkq_rec_dispatch(rec, &d));
    d = base;
    d.spec[1] = KEY_VALUE_GRADIENT;
    d.groups[1] = (s->kv_heads + problems - 1) / problems;
    d.slot[grad_slot] = (vkq_binding){a->dk, VKQ_READ_WRITE};
    d.slot[grad_slot + 1] = (vkq_binding){a->dv, VKQ_READ_WRITE};
    return vkq_rec_dispatch(rec, &d);
}

/* dout and the statistics into `grads`, then both passes on the q, k, v `panels`. */
static vkq_status backward_panels(vkq_rec *rec, const attention_shape *s, const panel_layout *l,
                                  const backward_args *a, vkq_buf panels, vkq_buf grads)
{
    VKQ_TRY(pack(rec, s, 1, &a->dout, &l->dout, s->heads, 1.0f, grads));
    VKQ_TRY(pack_stats(rec, s, a, l->stats, grads));
    attention_push push = {s->n, s->heads, s->kv_heads, l->q, l->k, l->v, l->dout, l->stats};
    uint32_t width = cpu_width(rec);
    vkq_dispatch d = cpu_tile_dispatch(&vkq_kernel_attention_backward_cpu, &push, 1,
                                       s->head_dim, width);
    d.slot[6] = (vkq_binding){panels, VKQ_READ};
    d.slot[7] = (vkq_binding){grads, VKQ_READ};
    return gradient_passes(rec, d, s, a, 0, width / 8);
}

static vkq_status backward_cpu(vkq_rec *rec, const attention_shape *s, const backward_args *a)
{
    const char *op = "attention backward";
    panel_layout l = layout_of(s);
    vkq_buf panels, grads;
    int taken;
    VKQ_TRY(qkv_panels(rec, op, &l, a->kept, &panels, &taken));
    vkq_status st = taken ? pack_qkv(rec, s, &l, a->q, a->k, a->v, panels) : VKQ_OK;
    if (st == VKQ_OK)
        st = texel_scratch(rec, op, l.grad_end, &grads);
    if (st == VKQ_OK) {
        st = backward_panels(rec, s, &l, a, panels, grads);
        vkq_rec_scratch_release(rec, grads);
    }
    if (taken)
        vkq_rec_scratch_release(rec, panels);
    return st;
}

static vkq_status backward_gpu(vkq_rec *rec, const attention_shape *s, const backward_args *a)
{
    vkq_buf stats;
    VKQ_TRY(texel_scratch(rec, "attention backward", stats_texels(s), &stats));
    vkq_status st = pack_stats(rec, s, a, 0, stats);
    attention_push push = {s->n, s->heads, s->kv_heads, 0, 0, 0, 0, 0};
    vkq_dispatch d = tile_dispatch(&vkq_kernel_attention_backward_gpu, &push, GPU_TILE, 1,
                                   s->head_dim);
    d.slot[0] = (vkq_binding){a->q, VKQ_READ};
    d.slot[1] = (vkq_binding){a->k, VKQ_READ};
    d.slot[2] = (vkq_binding){a->v, VKQ_READ};
    d.slot[3] = (vkq_binding){a->dout, VKQ_READ};
    d.slot[6] = (vkq_binding){stats, VKQ_READ};
    if (st == VKQ_OK)
        st = gradient_passes(rec, d, s, a, 4, 1);
    vkq_rec_scratch_release(rec, stats);
    return st;
}

vkq_status vkq_attention_backward(vkq_rec *rec, vkq_buf dout, vkq_buf q, vkq_buf k, vkq_buf v,
                                  vkq_buf starts, vkq_buf out, vkq_buf lse, vkq_buf kept,
                                  vkq_buf dq, vkq_buf dk, vkq_buf dv, uint32_t n, uint32_t heads,
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
    backward_args a = {dout, q, k, v, starts, out, lse, kept, dq, dk, dv};
    if (vkq_ctx_variant(vkq_rec_ctx(rec)) == VKQ_VARIANT_CPU)
        return backward_cpu(rec, &s, &a);
    return backward_gpu(rec, &s, &a);
}
