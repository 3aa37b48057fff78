#version 450
// Causal grouped-query attention over packed sequences, forward, gpu-shaped (see
// attention_gpu.glsl): an invocation per (query t, head h), a workgroup per tile of 64 queries
// of one head. Blocks of keys and values pass through shared memory; each invocation runs an
// online softmax over the keys starts[t]..t with q and the output accumulator in registers.
// lse[t][h], the log-sum-exp of the score row, lets the backward recompute every probability.
#extension GL_GOOGLE_include_directive : require
#include "attention_gpu.glsl"

layout(std430, binding = 0) readonly buffer Q { float q[]; };
layout(std430, binding = 1) readonly buffer K { float k[]; };
layout(std430, binding = 2) readonly buffer V { float v[]; };
layout(std430, binding = 3) readonly buffer Starts { int starts[]; };
layout(std430, binding = 4) writeonly buffer Out { float o[]; };
layout(std430, binding = 5) writeonly buffer Lse { float lse[]; };

layout(push_constant) uniform Push {
    uint n;
    uint heads;
    uint kv_heads;
} p;

// The first key of token t's sequence, clamped so that a malformed starts entry cannot reach
// outside the sequence's past; a token past n gets n, which bounds no block.
uint first_key(uint t)
{
    return t < p.n ? min(uint(max(starts[t], 0)), t) : p.n;
}

shared float keys[BLOCK * HEAD_DIM], values[BLOCK * HEAD_DIM];

void load_block(uint start, uint kv_head)
{
    for (uint i = gl_LocalInvocationID.x; i < BLOCK * HEAD_DIM; i += QUERIES) {
        uint s = start + i / HEAD_DIM, at = (s * p.kv_heads + kv_head) * HEAD_DIM + i % HEAD_DIM;
        keys[i] = s < p.n ? k[at] : 0.0;
        values[i] = s < p.n ? v[at] : 0.0;
    }
}

void main()
{
    uint tile = gl_WorkGroupID.x, head = gl_WorkGroupID.y;
    uint t = tile * QUERIES + gl_LocalInvocationID.x, kv_head = head / (p.heads / p.kv_heads);
    bool real = t < p.n;
    uint row = t * p.heads + head, first = first_key(t);
    float scale = inversesqrt(float(HEAD_DIM));
    float qs[HEAD_DIM], acc[HEAD_DIM];
    [[unroll]] for (uint j = 0u; j < HEAD_DIM; j++) {
        qs[j] = real ? q[row * HEAD_DIM + j] * scale : 0.0;
        acc[j] = 0.0;
    }
    uint lowest = workgroup_min(first), last = min(tile * QUERIES + QUERIES, p.n) - 1u;
    float m = -3.4e38, l = 0.0; // running maximum score and sum of exp(score - m)
    for (uint start = lowest / BLOCK * BLOCK; start <= last; start += BLOCK) {
        barrier();
        load_block(start, kv_head);
        barrier();
        for (uint r = 0u; r < BLOCK; r++) {
            uint s = start + r;
            if (!real || s < first || s > t)
                continue;
            float score = 0.0;
            [[unroll]] for (uint j = 0u; j < HEAD_DIM; j++)
                score += qs[j] * keys[r * HEAD_DIM + j];
            float top = max(m, score), rescale = exp(m - top), e = exp(score - top);
            l = l * rescale + e;
            [[unroll]] for (uint j = 0u; j < HEAD_DIM; j++)
                acc[j] = acc[j] * rescale + e * values[r * HEAD_DIM + j];
            m = top;
        }
    }
    if (!real)
        return;
    [[unroll]] for (uint j = 0u; j < HEAD_DIM; j++)
        o[row * HEAD_DIM + j] = acc[j] / l;
    lse[row] = m + log(l);
}
