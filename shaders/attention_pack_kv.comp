#version 450
// Packs k and v for the attention kernels into one RGBA32F texel buffer, which lavapipe reads
// with vector loads: per (token s, kv head g) the head_texels texels of k, then those of v,
// zero past head_dim. One invocation per texel.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 8) in;

layout(std430, binding = 0) readonly buffer K { float k[]; };
layout(std430, binding = 1) readonly buffer V { float v[]; };
layout(std430, binding = 2) writeonly buffer KvTexels { vec4 kv_texels[]; };

layout(push_constant) uniform Push {
    uint rows; // n * kv_heads
    uint head_dim;
} p;

float element(uint row, uint j, bool from_v)
{
    if (j >= p.head_dim)
        return 0.0;
    uint at = row * p.head_dim + j;
    return from_v ? v[at] : k[at];
}

void main()
{
    uint i = vkq_flat_index(8u);
    uint head_texels = (p.head_dim + 3u) / 4u;
    if (i >= p.rows * 2u * head_texels)
        return;
    uint row = i / (2u * head_texels);
    bool from_v = i / head_texels % 2u == 1u;
    uint j = i % head_texels * 4u;
    kv_texels[i] = vec4(element(row, j, from_v), element(row, j + 1u, from_v),
                   element(row, j + 2u, from_v), element(row, j + 3u, from_v));
}
