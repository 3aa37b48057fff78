#version 450
// Whole rows of DIM floats, chosen by an int32 row list; one invocation per element.
// MODE 0 gathers:     dst[i][j]  = src[rows[i]][j]  (a row index outside [0, n) gives zeros).
// MODE 1 scatter-adds: dst[rows[i]][j] += src[i][j] (an index outside [0, n) adds nothing).
// MODE 2 scatters:     dst[rows[i]][j]  = src[i][j] (likewise; e.g. into a KV cache).
// The scatters have no atomics: the caller guarantees that the row indices are distinct.
// MODE 3 copies a block of columns, no row list: dst[i][dst_at + j] = src[i][src_at + j] for
// rows of src_width and dst_width floats (e.g. a vocab piece's logits into whole rows).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 64) in;
layout(constant_id = 0) const uint MODE = 0u;

layout(std430, binding = 0) readonly buffer Src { float src[]; };
layout(std430, binding = 1) readonly buffer Rows { int rows[]; };
layout(std430, binding = 2) buffer Dst { float dst[]; };

layout(push_constant) uniform Push {
    uint count;
    uint dim;
    uint n;
    uint src_width, src_at, dst_width, dst_at;
} p;

void main()
{
    uint i = vkq_flat_index(64u);
    if (i >= p.count * p.dim)
        return;
    uint listed = i / p.dim;
    uint j = i - listed * p.dim;
    if (MODE == 3u) {
        dst[listed * p.dst_width + p.dst_at + j] = src[listed * p.src_width + p.src_at + j];
        return;
    }
    int row = rows[listed];
    bool valid = row >= 0 && uint(row) < p.n;
    uint far = uint(row) * p.dim + j;  // the element in the n-row buffer
    if (MODE == 0u)
        dst[i] = valid ? src[far] : 0.0;
    else if (valid && MODE == 1u)
        dst[far] += src[i];
    else if (valid)
        dst[far] = src[i];
}
