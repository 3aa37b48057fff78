#version 450
// Packs a matrix operand into 32-wide panels for matmul_cpu: texel
// panel*(k_pad*8 + PANEL_GAP) + kk*8 + t holds elements (rows panel*32 + 4t .. +3, column kk),
// zero past the edges (rows from `rows` on, columns from k to k_pad). "rows" is the panel
// dimension (m of A or n of B); row_stride and k_stride give any transpose.
//
// SOURCE picks how the operand is read:
//   0: element by element from the storage buffer (any shape and stride);
//   1: through an RGBA32F view when rows are contiguous (row_stride 1): a texel per texel;
//   2: through an RGBA32F view when k is contiguous (k_stride 1): an invocation reads a 4x4
//      block as four texels and writes it transposed;
//   3: a 16-bit source through an RGBA32_UINT view when k is contiguous: an invocation reads
//      4 rows of 8 halves (a texel each) and writes the 8 texels of fp32 they make;
//   4: a 16-bit source through an RGBA32_UINT view when rows are contiguous: an invocation
//      reads the texel holding its 4 halves.
// lavapipe reads a texel view for 8 lanes with vector loads, where the storage-buffer path
// runs a scalar loop over the lanes for every element. DTYPE is the source's element type
// (halves.glsl); a 16-bit source the views cannot read (SOURCE 0) is read element by element.
// Either way the panels hold fp32.
#extension GL_EXT_control_flow_attributes : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#extension GL_GOOGLE_include_directive : require
#include "halves.glsl"
#include "words.glsl"

layout(local_size_x = 64) in;

layout(constant_id = 0) const uint SOURCE = 0u;
layout(constant_id = 1) const uint PANEL_GAP = 0u;  // texels after each panel (see matmul.c)
layout(constant_id = 2) const uint DTYPE = 0u;

layout(std430, binding = 0) readonly buffer Src { float src[]; };
layout(std430, binding = 0) readonly buffer SrcWords { uint src_words[]; };
layout(std430, binding = 1) writeonly buffer Dst { u64vec2 dst[]; }; // texels as words.glsl
layout(binding = 6, rgba32f) uniform readonly imageBuffer src_texels;
layout(binding = 7, rgba32ui) uniform readonly uimageBuffer src_word_texels;

layout(push_constant) uniform Push {
    uint rows;
    uint k;
    uint k_pad;
    uint row_stride;  // elements
    uint k_stride;
    uint src_batch;   // elements
    uint dst_batch;   // texels
} p;

void put(uint at, vec4 v) { dst[at] = vkq_words(v); }

float element(uint base, uint row, uint kk)
{
    if (row >= p.rows || kk >= p.k)
        return 0.0;
    uint i = base + row * p.row_stride + kk * p.k_stride;
    return DTYPE == 0u ? src[i] : vkq_unpack_half(src_words[i >> 1], DTYPE, i);
}

// The texel of four elements from (row, kk) along the contiguous dimension, or zeros.
vec4 texel(uint base, uint row, uint kk)
{
    bool inside = row < p.rows && kk < p.k;
    vec4 v = imageLoad(src_texels,
                       int(inside ? (base + row * p.row_stride + kk * p.k_stride) >> 2 : 0u));
    return inside ? v : vec4(0.0);
}

// The 16-bit elements (row, kk .. kk + 7) of a source whose k is contiguous (the launcher
// takes this path only when k is a multiple of 8), or zeros past the last row.
void halves8(uint base, uint row, uint kk, out float h[8])
{
    bool inside = row < p.rows;
    uvec4 w = imageLoad(src_word_texels, int(inside ? (base + row * p.row_stride + kk) >> 3 : 0u));
    [[unroll]] for (uint j = 0u; j < 8u; j++)
        h[j] = inside ? vkq_unpack_half(w[j >> 1], DTYPE, j) : 0.0;
}

// Rows (row .. row + 3) of column kk from a 16-bit source whose rows are contiguous, zero
// from row `rows` on (the launcher takes this path only when rows are a multiple of 4, except
// in the last of a batch).
vec4 halves4(uint base, uint row, uint kk)
{
    bool inside = row < p.rows && kk < p.k;
    uint i = inside ? base + row + kk * p.k_stride : 0u;
    uvec4 w = imageLoad(src_word_texels, int(i >> 3));
    uvec2 pair = (i & 4u) != 0u ? w.zw : w.xy;
    vec4 v = vec4(vkq_unpack_half(pair.x, DTYPE, 0u), vkq_unpack_half(pair.x, DTYPE, 1u),
                  vkq_unpack_half(pair.y, DTYPE, 0u), vkq_unpack_half(pair.y, DTYPE, 1u));
    bvec4 rows_in = lessThan(uvec4(row) + uvec4(0u, 1u, 2u, 3u), uvec4(p.rows));
    return inside ? mix(vec4(0.0), v, rows_in) : vec4(0.0);
}

void main()
{
    uint i = gl_GlobalInvocationID.x, t = i & 7u;
    uint panel = gl_WorkGroupID.y, z = gl_WorkGroupID.z;
    uint base = z * p.src_batch, out_at = z * p.dst_batch + panel * (p.k_pad * 8u + PANEL_GAP) + t;
    uint row = panel * 32u + t * 4u;
    if (SOURCE == 2u) {
        uint kk = (i >> 3) * 4u;
        if (kk >= p.k_pad)
            return;
        vec4 r0 = texel(base, row, kk), r1 = texel(base, row + 1u, kk);
        vec4 r2 = texel(base, row + 2u, kk), r3 = texel(base, row + 3u, kk);
        [[unroll]] for (uint j = 0u; j < 4u; j++)
            put(out_at + (kk + j) * 8u, vec4(r0[j], r1[j], r2[j], r3[j]));
        return;
    }
    if (SOURCE == 3u) {
        uint kk = (i >> 3) * 8u;
        if (kk >= p.k_pad)
            return;
        float r0[8], r1[8], r2[8], r3[8];
        halves8(base, row, kk, r0);
        halves8(base, row + 1u, kk, r1);
        halves8(base, row + 2u, kk, r2);
        halves8(base, row + 3u, kk, r3);
        [[unroll]] for (uint j = 0u; j < 8u; j++)
            put(out_at + (kk + j) * 8u, vec4(r0[j], r1[j], r2[j], r3[j]));
        return;
    }
    uint kk = i >> 3;
    if (kk >= p.k_pad)
        return;
    if (SOURCE == 4u)
        put(out_at + kk * 8u, halves4(base, row, kk));
    else if (SOURCE == 1u)
        put(out_at + kk * 8u, texel(base, row, kk));
    else
        put(out_at + kk * 8u, vec4(element(base, row, kk), element(base, row + 1u, kk),
                                   element(base, row + 2u, kk), element(base, row + 3u, kk)));
}
