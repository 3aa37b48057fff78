#version 450
// RMSNorm over rows of DIM floats. MODE 0: forward, one invocation per row (y, rstd).
// MODE 1: input gradient, one invocation per row: dx += rstd * (w dy - x rstd^2 mean(w dy x)).
// MODE 2: weight-gradient partials, one invocation per column j and chunk c of rows:
// partial[c,j] = sum over the chunk's rows r of dy[r,j] x[r,j] rstd[r].
// MODE 3: dw[j] += sum_c partial[c,j], the partial rows summed in order (deterministic).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 64) in;
layout(constant_id = 0) const uint MODE = 0u;

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer W { float w[]; };
layout(std430, binding = 2) buffer Rstd { float rstd[]; };
layout(std430, binding = 3) readonly buffer Dy { float dy[]; };
layout(std430, binding = 4) buffer Out { float o[]; };  // y (MODE 0), dx (1) or dw (3)
layout(std430, binding = 5) buffer Partials { float partial[]; };

layout(push_constant) uniform Push {
    uint rows;
    uint dim;
    float eps;
    uint chunk;         // rows in a chunk (MODE 2)
    uint partial_rows;  // chunks (MODE 2 and 3)
} p;

void forward(uint r)
{
    uint base = r * p.dim;
    float ss = 0.0;
    for (uint j = 0u; j < p.dim; j++)
        ss += x[base + j] * x[base + j];
    float s = inversesqrt(ss / float(p.dim) + p.eps);
    rstd[r] = s;
    for (uint j = 0u; j < p.dim; j++)
        o[base + j] = x[base + j] * s * w[j];
}

void input_gradient(uint r)
{
    uint base = r * p.dim;
    float s = rstd[r];
    float dot = 0.0;
    for (uint j = 0u; j < p.dim; j++)
        dot += w[j] * dy[base + j] * x[base + j];
    float k = s * s * s * dot / float(p.dim);
    for (uint j = 0u; j < p.dim; j++)
        o[base + j] += s * w[j] * dy[base + j] - k * x[base + j];
}

void weight_partial(uint j, uint c)
{
    float acc = 0.0;
    uint end = min(p.rows, (c + 1u) * p.chunk);
    for (uint r = c * p.chunk; r < end; r++)
        acc += dy[r * p.dim + j] * x[r * p.dim + j] * rstd[r];
    partial[c * p.dim + j] = acc;
}

void weight_sum(uint j)
{
    float acc = 0.0;
    for (uint c = 0u; c < p.partial_rows; c++)
        acc += partial[c * p.dim + j];
    o[j] += acc;
}

void main()
{
    uint i = vkq_flat_index(64u);
    if (MODE == 2u) {
        if (i < p.dim * p.partial_rows)
            weight_partial(i % p.dim, i / p.dim);
    } else if (MODE == 3u) {
        if (i < p.dim)
            weight_sum(i);
    } else if (i < p.rows) {
        if (MODE == 0u)
            forward(i);
        else
            input_gradient(i);
    }
}
