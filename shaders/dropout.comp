#version 450
// Inverted dropout with a mask that is a pure function of (key, element index), so a backward
// pass regenerates the forward's mask instead of storing it:
//   keep(i) = vkq_dropout_bits(key, i) >= threshold, threshold = round(p * 2^32) (clamped)
//   MODE 0: out[i]  = keep(i) ? x[i] * scale : 0
//   MODE 1: out[i] += keep(i) ? x[i] * scale : 0     (the backward, adding into dx)
// with scale = 1 / (1 - p). One invocation per element.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 64) in;
layout(constant_id = 0) const uint MODE = 0u;

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) buffer Out { float out_data[]; };

layout(push_constant) uniform Push {
    uint n;
    uint key;
    uint threshold;
    float scale;
} p;

// Chris Wellons' lowbias32 integer hash, a bijection of 32-bit words.
uint vkq_mix32(uint v)
{
    v ^= v >> 16;
    v *= 0x7feb352du;
    v ^= v >> 15;
    v *= 0x846ca68bu;
    v ^= v >> 16;
    return v;
}

uint vkq_dropout_bits(uint key, uint i) { return vkq_mix32(i * 0x9e3779b9u + vkq_mix32(key)); }

void main()
{
    uint i = vkq_flat_index(64u);
    if (i >= p.n)
        return;
    float kept = vkq_dropout_bits(p.key, i) >= p.threshold ? x[i] * p.scale : 0.0;
    if (MODE == 0u)
        out_data[i] = kept;
    else
        out_data[i] += kept;
}
