#version 450
// SwiGLU gate, element-wise: out = silu(a) * b, silu(a) = a sigmoid(a).
// MODE 0: forward. MODE 1: backward, adding da += dout b silu'(a) and db += dout silu(a),
// with silu'(a) = sigmoid(a) (1 + a (1 - sigmoid(a))).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 64) in;
layout(constant_id = 0) const uint MODE = 0u;

layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) readonly buffer Dout { float dout[]; };
layout(std430, binding = 3) buffer Out { float o[]; };  // out (MODE 0) or da (1)
layout(std430, binding = 4) buffer Db { float db[]; };

layout(push_constant) uniform Push {
    uint n;
} p;

void main()
{
    uint i = vkq_flat_index(64u);
    if (i >= p.n)
        return;
    float sig = 1.0 / (1.0 + exp(-a[i]));
    float silu = a[i] * sig;
    if (MODE == 0u) {
        o[i] = silu * b[i];
    } else {
        o[i] += dout[i] * b[i] * sig * (1.0 + a[i] * (1.0 - sig));
        db[i] += dout[i] * silu;
    }
}
