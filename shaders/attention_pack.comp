#version 450
// Packs up to three [n][heads][head_dim] tensors in one dispatch (q, k and v for the forward, or
// dout alone) into the panels the cpu-shaped attention kernels read (attention_cpu.glsl): per
// (head, tile of 32 tokens, d < padded_dim), 8 texels, texel l holding tokens 4l..4l+3 at d;
// zero past n and past head_dim. Tensor 0 has `first_heads` heads and is multiplied by `scale`,
// tensors 1 and 2 have `other_heads`. A workgroup per (tile, head of one tensor) walks d four
// at a time, an invocation reading its four tokens' four values and writing them transposed as
// four texels: few workgroups, as lavapipe pays for each one, and every division is per
// workgroup, as divisions run one lane at a time on lavapipe. With TEXELS (head_dim a multiple
// of 4) the four values of a token are one texel of an RGBA32F view, which lavapipe loads for 8
// lanes with vector loads; otherwise they come from the storage buffer element by element,
// which lavapipe runs as a scalar loop over the lanes.
#extension GL_EXT_control_flow_attributes : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#extension GL_GOOGLE_include_directive : require
#include "words.glsl"

layout(local_size_x = 8) in;
layout(constant_id = 0) const bool TEXELS = false;

layout(std430, binding = 0) readonly buffer X0 { float x0[]; };
layout(std430, binding = 1) readonly buffer X1 { float x1[]; };
layout(std430, binding = 2) readonly buffer X2 { float x2[]; };
layout(std430, binding = 3) writeonly buffer P0 { u64vec2 p0[]; }; // texels as words.glsl
layout(std430, binding = 4) writeonly buffer P1 { u64vec2 p1[]; };
layout(std430, binding = 5) writeonly buffer P2 { u64vec2 p2[]; };
layout(binding = 6, rgba32f) uniform readonly imageBuffer t0; // the same tensors as texels
layout(binding = 7, rgba32f) uniform readonly imageBuffer t1;
layout(binding = 8, rgba32f) uniform readonly imageBuffer t2;

layout(push_constant) uniform Push {
    uint n;
    uint first_heads;
    uint other_heads;
    uint head_dim;
    uint padded_dim;
    float scale;
} p;

float element(uint tensor, uint at)
{
    if (tensor == 0u)
        return x0[at];
    return tensor == 1u ? x1[at] : x2[at];
}

// Elements d..d + 3 of the row at `row` of a tensor, unscaled, zero from head_dim on.
vec4 four(uint tensor, uint row, uint d)
{
    if (TEXELS) {
        int i = int((row + d) >> 2u);
        if (tensor == 0u)
            return imageLoad(t0, i);
        return tensor == 1u ? imageLoad(t1, i) : imageLoad(t2, i);
    }
    vec4 v = vec4(0.0);
    for (uint e = 0u; e < 4u; e++)
        if (d + e < p.head_dim)
            v[e] = element(tensor, row + d + e);
    return v;
}

void store(uint tensor, uint at, vec4 texel)
{
    if (tensor == 0u)
        p0[at] = vkq_words(texel);
    else if (tensor == 1u)
        p1[at] = vkq_words(texel);
    else
        p2[at] = vkq_words(texel);
}

void main()
{
    uint lane = gl_LocalInvocationID.x, tile = gl_WorkGroupID.x, tiles = gl_NumWorkGroups.x;
    uint tensor = 0u, head = gl_WorkGroupID.y, heads = p.first_heads;
    if (head >= p.first_heads) {
        tensor = 1u + (head - p.first_heads) / p.other_heads;
        head = (head - p.first_heads) % p.other_heads;
        heads = p.other_heads;
    }
    float scale = tensor == 0u ? p.scale : 1.0;
    uint first_token = tile * 32u + 4u * lane;
    uint at = (head * tiles + tile) * p.padded_dim * 8u + lane;
    for (uint d = 0u; d < p.padded_dim; d += 4u) {
        vec4 rows[4];
        [[unroll]] for (uint j = 0u; j < 4u; j++) {
            uint token = first_token + j;
            bool inside = token < p.n && d < p.head_dim;
            vec4 v = four(tensor, inside ? (token * heads + head) * p.head_dim : 0u, d);
            rows[j] = inside ? v * scale : vec4(0.0);
        }
        [[unroll]] for (uint k = 0u; k < 4u; k++)
            store(tensor, at + 8u * (d + k), vec4(rows[0][k], rows[1][k], rows[2][k], rows[3][k]));
    }
}
