#version 450
// Attention of one new query per sequence over that sequence's KV cache, for generation: the
// cpu variant of attention_decode.comp, for head_dim a multiple of 4. One invocation per
// (sequence i, head h), a workgroup being one subgroup so that every lane of the vectors works:
// an online softmax over cache rows bases[i] .. bases[i] + lengths[i] - 1, the cache read
// through texel spans (streams: 0 k_cache, 1 v_cache) a texel at a time.
#extension GL_GOOGLE_include_directive : require
#define VKQ_TEXEL_SPANS
#include "common.glsl"

layout(local_size_x_id = 1) in;
layout(constant_id = 0) const uint HEAD_DIM = 8u; // a multiple of 4
layout(constant_id = 1) const uint WIDTH = 8u;    // the workgroup size, the subgroup size
layout(constant_id = 2) const uint SPANS = 0u;

layout(std430, binding = 0) readonly buffer Q { vec4 q[]; };
layout(std430, binding = 3) readonly buffer Bases { int bases[]; };
layout(std430, binding = 4) readonly buffer Lengths { int lengths[]; };
layout(std430, binding = 5) writeonly buffer Out { vec4 o[]; };

layout(push_constant) uniform Push {
    uint n;
    uint heads;
    uint kv_heads;
    uint cache_rows;
    int k_at; // texel offsets of the streams in their spans
    int v_at;
} p;

const uint TEXELS = HEAD_DIM / 4u;

void main()
{
    uint i = vkq_flat_index(WIDTH);
    if (i >= p.n * p.heads)
        return;
    uint seq = i / p.heads;
    uint kv_head = (i % p.heads) / (p.heads / p.kv_heads);
    uint kv_texels = p.kv_heads * TEXELS;
    float scale = inversesqrt(float(HEAD_DIM));
    vec4 qs[TEXELS], acc[TEXELS];
    for (uint t = 0u; t < TEXELS; t++) {
        qs[t] = q[i * TEXELS + t] * scale;
        acc[t] = vec4(0.0);
    }
    // Clamped so that malformed bases or lengths cannot lead outside the cache.
    uint first = min(uint(max(bases[seq], 0)), p.cache_rows);
    uint last = min(first + uint(max(lengths[seq], 0)), p.cache_rows);
    float m = -3.4e38, l = 0.0; // running maximum score and sum of exp(score - m)
    for (uint row = first; row < last; row++) {
        int at = int(row * kv_texels + kv_head * TEXELS);
        float score = 0.0;
        for (uint t = 0u; t < TEXELS; t++)
            score += dot(qs[t], vkq_span_fetch(SPANS, 0u, p.k_at + at + int(t)));
        float m_new = max(m, score);
        float r = exp(m - m_new), e = exp(score - m_new);
        l = l * r + e;
        for (uint t = 0u; t < TEXELS; t++)
            acc[t] = acc[t] * r + e * vkq_span_fetch(SPANS, 1u, p.v_at + at + int(t));
        m = m_new;
    }
    for (uint t = 0u; t < TEXELS; t++)
        o[i * TEXELS + t] = l > 0.0 ? acc[t] / l : vec4(0.0);
}
