#version 450
// A linear layer's bias over rows of DIM floats. MODE 0: y[r][j] += b[j], one invocation per
// element. MODE 1: db[j] += sum over rows of dy[r][j], one invocation per column j, the rows
// summed in order (deterministic).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 64) in;
layout(constant_id = 0) const uint MODE = 0u;

layout(std430, binding = 0) buffer Rows { float rows_data[]; }; // y (MODE 0) or dy (MODE 1)
layout(std430, binding = 1) buffer Bias { float bias[]; };      // b (MODE 0) or db (MODE 1)

layout(push_constant) uniform Push {
    uint rows;
    uint dim;
} p;

void main()
{
    uint i = vkq_flat_index(64u);
    if (MODE == 0u) {
        if (i < p.rows * p.dim)
            rows_data[i] += bias[i % p.dim];
    } else if (i < p.dim) {
        float acc = 0.0;
        for (uint r = 0u; r < p.rows; r++)
            acc += rows_data[r * p.dim + i];
        bias[i] += acc;
    }
}
