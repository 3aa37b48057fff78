#version 450
// Causal grouped-query attention over packed sequences, forward. One invocation per (query
// token t, head h); the heads of one token sit side by side in a subgroup, so its lanes share
// their loop bounds. An online softmax runs over the keys starts[t]..t with q and the output
// accumulator in registers; k and v come from the texels of attention_pack_kv. lse[t][h],
// the log-sum-exp of the score row, lets the backward recompute every probability.
#extension GL_GOOGLE_include_directive : require
// Loops over a head's texels are unrolled: with HEAD_DIM fixed, the per-head arrays are then
// indexed by constants (the forward ran about twice as fast so on lavapipe).
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"

layout(local_size_x = 8) in;
layout(constant_id = 0) const uint HEAD_DIM = 8u;
const uint HEAD_TEXELS = (HEAD_DIM + 3u) / 4u;

layout(std430, binding = 0) readonly buffer Q { float q[]; };
layout(std430, binding = 1) readonly buffer Starts { int starts[]; };
layout(std430, binding = 2) writeonly buffer Out { float o[]; };
layout(std430, binding = 3) writeonly buffer Lse { float lse[]; };
layout(binding = 6) uniform samplerBuffer kv_texels;

layout(push_constant) uniform Push {
    uint n;
    uint heads;
    uint kv_heads;
} p;

void main()
{
    uint i = vkq_flat_index(8u);
    if (i >= p.n * p.heads)
        return;
    uint t = i / p.heads;
    uint kv_head = (i % p.heads) / (p.heads / p.kv_heads);
    float scale = inversesqrt(float(HEAD_DIM));

    vec4 qs[HEAD_TEXELS], acc[HEAD_TEXELS];
    [[unroll]] for (uint c = 0u; c < HEAD_TEXELS; c++) {
        [[unroll]] for (uint j = 0u; j < 4u; j++)
            qs[c][j] = 4u * c + j < HEAD_DIM ? q[i * HEAD_DIM + 4u * c + j] * scale : 0.0;
        acc[c] = vec4(0.0);
    }
    // Clamped so that a malformed starts entry cannot lead outside the buffers.
    uint first = min(uint(max(starts[t], 0)), t);
    float m = -3.4e38, l = 0.0; // running maximum score and sum of exp(score - m)
    for (uint s = first; s <= t; s++) {
        int row = int((s * p.kv_heads + kv_head) * 2u * HEAD_TEXELS);
        float score = 0.0;
        [[unroll]] for (uint c = 0u; c < HEAD_TEXELS; c++)
            score += dot(qs[c], texelFetch(kv_texels, row + int(c)));
        if (score > m) {
            float r = exp(m - score);
            l *= r;
            [[unroll]] for (uint c = 0u; c < HEAD_TEXELS; c++)
                acc[c] *= r;
            m = score;
        }
        float e = exp(score - m);
        l += e;
        [[unroll]] for (uint c = 0u; c < HEAD_TEXELS; c++)
            acc[c] += e * texelFetch(kv_texels, row + int(HEAD_TEXELS + c));
    }
    [[unroll]] for (uint j = 0u; j < HEAD_DIM; j++)
        o[i * HEAD_DIM + j] = acc[j / 4u][j % 4u] / l;
    lse[i] = m + log(l);
}
