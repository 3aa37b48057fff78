#version 450
// Packs a [n][heads][head_dim] tensor, times `scale`, into the panels the cpu-shaped attention
// kernels read (attention_cpu.glsl): per (head, tile of 32 tokens, d < padded_dim), 8 texels,
// texel l holding tokens 4l..4l+3 at d; zero past n and past head_dim. One invocation per
// texel, written at p.at onwards.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 8) in;

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 5) writeonly buffer Panels { vec4 panels[]; };

layout(push_constant) uniform Push {
    uint n;
    uint heads;
    uint head_dim;
    uint padded_dim;
    uint at;
    float scale;
} p;

void main()
{
    uint i = vkq_flat_index(8u);
    uint tiles = (p.n + 31u) / 32u;
    if (i >= p.heads * tiles * p.padded_dim * 8u)
        return;
    uint lane = i % 8u, d = i / 8u % p.padded_dim, tile = i / 8u / p.padded_dim % tiles;
    uint head = i / 8u / p.padded_dim / tiles;
    vec4 texel = vec4(0.0);
    for (uint j = 0u; j < 4u; j++) {
        uint token = tile * 32u + 4u * lane + j;
        if (token < p.n && d < p.head_dim)
            texel[j] = x[(token * p.heads + head) * p.head_dim + d] * p.scale;
    }
    panels[p.at + i] = texel;
}
