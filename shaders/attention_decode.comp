#version 450
// Attention of one new query per sequence over that sequence's KV cache, for generation.
// One invocation per (sequence i, head h): an online softmax over cache rows
// bases[i] .. bases[i] + lengths[i] - 1, with q and the output accumulator in registers.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 8) in;
layout(constant_id = 0) const uint HEAD_DIM = 8u;

layout(std430, binding = 0) readonly buffer Q { float q[]; };
layout(std430, binding = 1) readonly buffer K { float k_cache[]; };
layout(std430, binding = 2) readonly buffer V { float v_cache[]; };
layout(std430, binding = 3) readonly buffer Bases { int bases[]; };
layout(std430, binding = 4) readonly buffer Lengths { int lengths[]; };
layout(std430, binding = 5) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Push {
    uint n;
    uint heads;
    uint kv_heads;
    uint cache_rows;
} p;

void main()
{
    uint i = vkq_flat_index(8u);
    if (i >= p.n * p.heads)
        return;
    uint seq = i / p.heads;
    uint kv_head = (i % p.heads) / (p.heads / p.kv_heads);
    uint kv_dim = p.kv_heads * HEAD_DIM;
    float scale = inversesqrt(float(HEAD_DIM));
    float qs[HEAD_DIM], acc[HEAD_DIM];
    for (uint j = 0u; j < HEAD_DIM; j++) {
        qs[j] = q[i * HEAD_DIM + j] * scale;
        acc[j] = 0.0;
    }
    // Clamped so that malformed bases or lengths cannot lead outside the cache.
    uint first = min(uint(max(bases[seq], 0)), p.cache_rows);
    uint last = min(first + uint(max(lengths[seq], 0)), p.cache_rows);
    float m = -3.4e38, l = 0.0; // running maximum score and sum of exp(score - m)
    for (uint row = first; row < last; row++) {
        uint at = row * kv_dim + kv_head * HEAD_DIM;
        float score = 0.0;
        for (uint j = 0u; j < HEAD_DIM; j++)
            score += qs[j] * k_cache[at + j];
        float m_new = max(m, score);
        float r = exp(m - m_new), e = exp(score - m_new);
        l = l * r + e;
        for (uint j = 0u; j < HEAD_DIM; j++)
            acc[j] = acc[j] * r + e * v_cache[at + j];
        m = m_new;
    }
    for (uint j = 0u; j < HEAD_DIM; j++)
        o[i * HEAD_DIM + j] = l > 0.0 ? acc[j] / l : 0.0;
}
