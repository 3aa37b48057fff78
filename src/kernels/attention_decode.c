#include "kernels/launch.h"
#include "kernels/texels.h"
#include "vkquill/nn.h"

typedef struct attention_decode_push {
    uint32_t n, heads, kv_heads, cache_rows;
} attention_decode_push;
VKQ_STATIC_ASSERT_PUSH(attention_decode_push);

typedef struct attention_decode_cpu_push {
    attention_decode_push shape;
    int32_t k_at, v_at; /* texel offsets of the caches in their spans */
} attention_decode_cpu_push;
VKQ_STATIC_ASSERT_PUSH(attention_decode_cpu_push);

enum { MAX_HEAD_DIM = 256, GPU_LOCAL = 8 }; /* attention_decode.comp's workgroup */

vkq_status vkq_attention_decode(vkq_rec *rec, vkq_buf q, vkq_buf k_cache, vkq_buf v_cache,
                                vkq_buf bases, vkq_buf lengths, vkq_buf out, uint32_t n,
                                uint32_t cache_rows, uint32_t heads, uint32_t kv_heads,
                                uint32_t head_dim)
{
    const char *op = "attention_decode";
    if (heads == 0 || kv_heads == 0 || heads % kv_heads != 0 || head_dim == 0 ||
        head_dim > MAX_HEAD_DIM)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "%s: %u heads, %u kv heads, head_dim %u (kv heads must divide heads; "
                        "head_dim 1..%u)",
                        op, heads, kv_heads, head_dim, MAX_HEAD_DIM);
    uint64_t q_floats = (uint64_t)n * heads * head_dim;
    uint64_t cache_floats = (uint64_t)cache_rows * kv_heads * head_dim;
    VKQ_TRY(vkq_need_floats(op, "q", q, q_floats));
    VKQ_TRY(vkq_need_floats(op, "k_cache", k_cache, cache_floats));
    VKQ_TRY(vkq_need_floats(op, "v_cache", v_cache, cache_floats));
    VKQ_TRY(vkq_need_floats(op, "bases", bases, n));
    VKQ_TRY(vkq_need_floats(op, "lengths", lengths, n));
    VKQ_TRY(vkq_need_floats(op, "out", out, q_floats));
    if (n == 0)
        return VKQ_OK;
    vkq_buf caches[2] = {k_cache, v_cache};
    uint64_t floats[2] = {cache_floats, cache_floats};
    vkq_spans spans;
    int cpu = head_dim % 4 == 0 && vkq_spans_plan(rec, caches, floats, 2, &spans);
    /* cpu: a workgroup is one subgroup, so every lane of the vectors works */
    uint32_t local = cpu ? vkq_ctx_device(vkq_rec_ctx(rec))->subgroup_size : GPU_LOCAL;
    attention_decode_cpu_push push = {{n, heads, kv_heads, cache_rows},
                                      cpu ? spans.at[0] : 0,
                                      cpu ? spans.at[1] : 0};
    vkq_dispatch d = {.kernel = cpu ? &vkq_kernel_attention_decode_cpu
                                    : &vkq_kernel_attention_decode,
                      .spec = {head_dim, local, cpu ? spans.bits : 0},
                      .spec_count = cpu ? 3 : 1,
                      .push = &push,
                      .push_bytes = cpu ? sizeof push : sizeof push.shape,
                      .slot = {{q, VKQ_READ},
                               {k_cache, VKQ_READ},
                               {v_cache, VKQ_READ},
                               {bases, VKQ_READ},
                               {lengths, VKQ_READ},
                               {out, VKQ_WRITE}}};
    if (cpu)
        vkq_spans_bind(&spans, &d);
    vkq_grid_1d((uint64_t)n * heads, local, d.groups);
    return vkq_rec_dispatch(rec, &d);
}
