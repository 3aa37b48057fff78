#version 450
// Packs what the attention backward reads of each (token t, head h) into 2 head_texels + 1
// RGBA32F texels: q / sqrt(head_dim), then dout (both zero past head_dim), then
// (lse, delta = dout . out, first key of t's sequence, 0). The first key travels as a float,
// exact below 2^24 tokens (the launcher refuses more). One invocation per (t, h).
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"

layout(local_size_x = 8) in;

layout(std430, binding = 0) readonly buffer Q { float q[]; };
layout(std430, binding = 1) readonly buffer Dout { float dout[]; };
layout(std430, binding = 2) readonly buffer Out { float o[]; };
layout(std430, binding = 3) readonly buffer Lse { float lse[]; };
layout(std430, binding = 4) readonly buffer Starts { int starts[]; };
layout(std430, binding = 5) writeonly buffer QueryTexels { vec4 query_texels[]; };

layout(push_constant) uniform Push {
    uint n;
    uint heads;
    uint head_dim;
} p;

void main()
{
    uint i = vkq_flat_index(8u);
    if (i >= p.n * p.heads)
        return;
    uint head_texels = (p.head_dim + 3u) / 4u;
    uint base = i * (2u * head_texels + 1u);
    float scale = inversesqrt(float(p.head_dim));
    float delta = 0.0;
    for (uint c = 0u; c < head_texels; c++) {
        vec4 qs = vec4(0.0), dos = vec4(0.0);
        [[unroll]] for (uint j = 0u; j < 4u && 4u * c + j < p.head_dim; j++) {
            uint at = i * p.head_dim + 4u * c + j;
            qs[j] = q[at] * scale;
            dos[j] = dout[at];
            delta += dout[at] * o[at];
        }
        query_texels[base + c] = qs;
        query_texels[base + head_texels + c] = dos;
    }
    uint t = i / p.heads;
    uint first = min(uint(max(starts[t], 0)), t); // clamped as in the forward
    query_texels[base + 2u * head_texels] = vec4(lse[i], delta, float(first), 0.0);
}
