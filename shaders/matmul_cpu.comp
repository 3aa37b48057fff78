#version 450
// Matrix product for CPU drivers such as lavapipe, where one subgroup of WIDTH invocations
// (8, or 16 with 512-bit vectors) is one SIMD group. A workgroup is one subgroup and computes a
// 32 x 4*WIDTH tile of C: lane l owns columns 4l..4l+3 of all 32 rows (32 vec4 accumulators).
// Each operand is read through an RGBA32F texel buffer, which lavapipe vectorises, in one of
// three layouts (A_LAYOUT, B_LAYOUT): packed into 32-wide panels by matmul_pack, or in place
// when its texels already hold 4 rows of A (or 4 columns of B) at one k (ROWS), or 4 steps of
// k of one row (K_MAJOR: a lane fetches 4 rows and transposes them in registers); in place
// needs no packing dispatch, and 4 texels a lane cover 4 k steps either way. Once loaded, one
// texel per lane holds 4 rows of A (or 4 columns of B) at one k. Lanes 8j..8j+7 read B panel j
// of the tile and (packed or ROWS) A at k step j of the WIDTH / 8 that one fetch covers, so
// lane 8j + t holds the A texel of rows 4t..4t+3 at that step (with 16 lanes, a fetch of A
// serves two k steps instead of reading the panel twice).
//
// Shaped by how lavapipe compiles it (each point measured):
// - the accumulators do not fit in registers and live in memory across a loop iteration; an
//   iteration covers KSTEP k steps so that each accumulator comes into registers once for all
//   of them, and the loop's execution mask costs one blend per accumulator and iteration, not
//   per k step;
// - a row's four accumulators share one A value broadcast with subgroupShuffle from a constant
//   lane; the B values are re-read from the stack for every row, which beats holding them in
//   registers across rows (that spills);
// - a longer unrolled body (KSTEP 8 or 16, 64-wide tiles) runs slower, or no faster with 16
//   lanes; a shorter one (KSTEP 2) is slower at both widths, as the per-iteration blends and
//   accumulator traffic double; other ways of writing this loop that LLVM register-allocates
//   worse were slower too: keep its shape.
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#extension GL_GOOGLE_include_directive : require
#include "words.glsl"

layout(local_size_x_id = 3) in;

// n and the batch stride of C are multiples of 4: a row of C takes one texel store per lane,
// as two 64-bit words (words.glsl), where the general case stores element by element.
layout(constant_id = 0) const bool C_VEC4 = false;
// Texels between consecutive panels beyond the k_pad * 8 they hold (see matmul.c).
layout(constant_id = 1) const uint PANEL_GAP = 0u;
// beta is not 0: C is read back and added to.
layout(constant_id = 2) const bool ACCUMULATE = false;
// The subgroup size, also the workgroup size: a multiple of 8.
layout(constant_id = 3) const uint WIDTH = 8u;
// How each operand is read: PANELS, ROWS or K_MAJOR (see above).
layout(constant_id = 4) const uint A_LAYOUT = 0u;
layout(constant_id = 5) const uint B_LAYOUT = 0u;
const uint PANELS = 0u, ROWS = 1u, K_MAJOR = 2u;

// Read-only storage texel buffers: lavapipe inlines their loads, where each texelFetch of a
// uniform texel buffer is a call that clobbers every vector register.
layout(binding = 6, rgba32f) uniform readonly imageBuffer a_panels;
layout(binding = 7, rgba32f) uniform readonly imageBuffer b_panels;
const uint OF_A = 0u, OF_B = 1u;
layout(std430, binding = 0) buffer C { float c[]; };
layout(std430, binding = 0) buffer C4 { u64vec2 c4[]; }; // texels as words.glsl

layout(push_constant) uniform Push {
    uint m;
    uint n;
    uint k;        // padded to a multiple of KSTEP; the panels hold zeros past the true k
    uint a_batch;  // texels between batch items of A (packed or in place)
    uint b_batch;
    uint c_batch;  // elements
    float alpha;
    float beta;
    uint k_true;   // k before padding: an in-place ROWS operand is zero from it on
    uint a_stride; // in place: texels between k steps (ROWS) or rows (K_MAJOR) of A
    uint b_stride;
    uint a_first;  // in place: the operand's first texel in its view
    uint b_first;
    uint a_last;   // in place: the operand's last texel in its view
    uint b_last;
} p;

#define KSTEP 4
// k steps of A that one texel load brings; WIDTH / 8 divides KSTEP. A K_MAJOR A brings all
// KSTEP steps to every lane.
const int A_STEPS = A_LAYOUT == K_MAJOR ? 1 : int(WIDTH / 8u);

vec4 operand_texel(uint operand, int at)
{
    return operand == OF_B ? imageLoad(b_panels, at) : imageLoad(a_panels, at);
}

// Texel `at` of an in-place ROWS operand at k step kk: zero from k_true on.
vec4 rows_texel(uint operand, uint at, uint last, uint kk)
{
    vec4 v = operand_texel(operand, int(min(at, last)));
    return kk < p.k_true ? v : vec4(0.0);
}

// KSTEP k steps of the 4 rows from `first` (each clamped to `rows`) of an in-place K_MAJOR
// operand at kk, as v[u] = the 4 rows at k step kk + u.
void k_major_texels(uint operand, uint base, uint stride, uint first, uint rows, uint kk,
                    out vec4 v[KSTEP])
{
    vec4 r[4];
    [[unroll]] for (uint c = 0u; c < 4u; c++)
        r[c] = operand_texel(operand, int(base + min(first + c, rows - 1u) * stride + kk / 4u));
    [[unroll]] for (int u = 0; u < KSTEP; u++)
        v[u] = vec4(r[0][u], r[1][u], r[2][u], r[3][u]);
}

void main()
{
    const uint lane = gl_LocalInvocationID.x;
    const uint tile_m = gl_WorkGroupID.x, tile_n = gl_WorkGroupID.y, z = gl_WorkGroupID.z;
    // A lane past the last panel of B rereads it and stores nothing.
    uint b_panel = min(tile_n * (WIDTH / 8u) + lane / 8u, (p.n + 31u) / 32u - 1u);
    // Packed (PANELS) operands: the texel of this lane at k = 0.
    int a_at = int(z * p.a_batch + tile_m * (p.k * 8u + PANEL_GAP) + lane);
    int b_at = int(z * p.b_batch + b_panel * (p.k * 8u + PANEL_GAP) + lane % 8u);
    // In place: this lane's k step offset (ROWS A), first row of A and first column of B.
    uint a_lane_k = lane / 8u, a_row = tile_m * 32u + (lane % 8u) * 4u;
    uint b_col = b_panel * 32u + (lane % 8u) * 4u;

    vec4 acc[32];
    [[unroll]] for (int r = 0; r < 32; r++)
        acc[r] = vec4(0.0);

    for (uint kk = 0u; kk < p.k; kk += KSTEP) {
        vec4 av[KSTEP], bv[KSTEP];
        if (A_LAYOUT == K_MAJOR)
            k_major_texels(OF_A, p.a_first + z * p.a_batch, p.a_stride, a_row, p.m, kk, av);
        if (B_LAYOUT == K_MAJOR)
            k_major_texels(OF_B, p.b_first + z * p.b_batch, p.b_stride, b_col, p.n, kk, bv);
        [[unroll]] for (int u = 0; u < KSTEP; u++) {
            uint ka = kk + uint(u) + a_lane_k, kb = kk + uint(u);
            if (A_LAYOUT == PANELS && u % A_STEPS == 0)
                av[u] = imageLoad(a_panels, a_at + 8 * u);
            if (A_LAYOUT == ROWS && u % A_STEPS == 0)
                av[u] = rows_texel(OF_A,
                                   p.a_first + z * p.a_batch + ka * p.a_stride + a_row / 4u,
                                   p.a_last, ka);
            if (B_LAYOUT == PANELS)
                bv[u] = imageLoad(b_panels, b_at + 8 * u);
            if (B_LAYOUT == ROWS)
                bv[u] = rows_texel(OF_B,
                                   p.b_first + z * p.b_batch + kb * p.b_stride + b_col / 4u,
                                   p.b_last, kb);
        }
        a_at += 8 * KSTEP;
        b_at += 8 * KSTEP;
        [[unroll]] for (uint t = 0u; t < 8u; t++) {
            [[unroll]] for (uint cp = 0u; cp < 4u; cp++) {
                vec4 s = acc[4u * t + cp];
                [[unroll]] for (int u = 0; u < KSTEP; u++) {
                    vec4 a = subgroupShuffle(av[u - u % A_STEPS], t + 8u * uint(u % A_STEPS));
                    [[unroll]] for (int c = 0; c < 4; c++)
                        s[c] += a[cp] * bv[u][c];
                }
                acc[4u * t + cp] = s;
            }
        }
    }

    uint col = tile_n * 4u * WIDTH + lane * 4u;
    uint c_base = z * p.c_batch;
    [[unroll]] for (uint r = 0u; r < 32u; r++) {
        uint row = tile_m * 32u + r;
        uint at = c_base + row * p.n + col;
        vec4 v = p.alpha * acc[r];
        if (C_VEC4) {
            if (row < p.m && col < p.n)
                c4[at >> 2] = vkq_words(ACCUMULATE ? v + p.beta * vkq_floats(c4[at >> 2]) : v);
        } else if (row < p.m) {
            [[unroll]] for (uint q = 0u; q < 4u; q++) {
                if (col + q < p.n)
                    c[at + q] = ACCUMULATE ? v[q] + p.beta * c[at + q] : v[q];
            }
        }
    }
}
