#version 450
// Matrix product for GPUs: a 16x16 workgroup computes a 64x64 tile of C through shared-memory
// tiles of A and B, 4x4 outputs per invocation. FORM picks the operand layouts:
// 0 C = A.B, 1 C = A.B^T, 2 C = A^T.B (A is m x k, or k x m for form 2; B likewise).
// TYPE_A and TYPE_B are the operands' element types (halves.glsl): a 16-bit operand is
// converted to fp32 as it is loaded into its tile.
#extension GL_GOOGLE_include_directive : require
#include "halves.glsl"

layout(local_size_x = 16, local_size_y = 16) in;
layout(constant_id = 0) const uint FORM = 0u;
layout(constant_id = 1) const uint TYPE_A = 0u;
layout(constant_id = 2) const uint TYPE_B = 0u;

layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 0) readonly buffer AWords { uint a_words[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 1) readonly buffer BWords { uint b_words[]; };
layout(std430, binding = 2) buffer C { float c[]; };

layout(push_constant) uniform Push {
    uint m;
    uint n;
    uint k;
    uint a_batch;
    uint b_batch;
    uint c_batch;
    float alpha;
    float beta;
} p;

const uint TILE = 64u, DEPTH = 16u;
shared float a_tile[DEPTH][TILE + 1u];
shared float b_tile[DEPTH][TILE + 1u];

float load_a(uint base, uint row, uint kk)
{
    if (row >= p.m || kk >= p.k)
        return 0.0;
    uint i = FORM == 2u ? base + kk * p.m + row : base + row * p.k + kk;
    return TYPE_A == 0u ? a[i] : vkq_unpack_half(a_words[i >> 1], TYPE_A, i);
}

float load_b(uint base, uint kk, uint col)
{
    if (col >= p.n || kk >= p.k)
        return 0.0;
    uint i = FORM == 1u ? base + col * p.k + kk : base + kk * p.n + col;
    return TYPE_B == 0u ? b[i] : vkq_unpack_half(b_words[i >> 1], TYPE_B, i);
}

void main()
{
    const uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
    const uint tid = ty * 16u + tx;
    const uint row0 = gl_WorkGroupID.y * TILE, col0 = gl_WorkGroupID.x * TILE;
    const uint z = gl_WorkGroupID.z;
    const uint a_base = z * p.a_batch, b_base = z * p.b_batch;

    float acc[4][4];
    for (uint i = 0u; i < 4u; i++)
        for (uint j = 0u; j < 4u; j++)
            acc[i][j] = 0.0;

    for (uint k0 = 0u; k0 < p.k; k0 += DEPTH) {
        // 256 invocations load 1024 elements of each tile; consecutive invocations follow
        // the operand's contiguous direction.
        for (uint e = tid; e < TILE * DEPTH; e += 256u) {
            uint along_k = e % DEPTH, across_k = e / DEPTH;
            uint along_row = e % TILE, across_row = e / TILE;
            if (FORM == 2u)
                a_tile[across_row][along_row] = load_a(a_base, row0 + along_row, k0 + across_row);
            else
                a_tile[along_k][across_k] = load_a(a_base, row0 + across_k, k0 + along_k);
            if (FORM == 1u)
                b_tile[along_k][across_k] = load_b(b_base, k0 + along_k, col0 + across_k);
            else
                b_tile[across_row][along_row] = load_b(b_base, k0 + across_row, col0 + along_row);
        }
        barrier();
        for (uint kk = 0u; kk < DEPTH; kk++) {
            float av[4], bv[4];
            for (uint i = 0u; i < 4u; i++) {
                av[i] = a_tile[kk][ty + 16u * i];
                bv[i] = b_tile[kk][tx + 16u * i];
            }
            for (uint i = 0u; i < 4u; i++)
                for (uint j = 0u; j < 4u; j++)
                    acc[i][j] += av[i] * bv[j];
        }
        barrier();
    }

    for (uint i = 0u; i < 4u; i++) {
        uint row = row0 + ty + 16u * i;
        for (uint j = 0u; j < 4u; j++) {
            uint col = col0 + tx + 16u * j;
            if (row < p.m && col < p.n) {
                uint at = z * p.c_batch + row * p.n + col;
                float v = p.alpha * acc[i][j];
                c[at] = p.beta != 0.0 ? v + p.beta * c[at] : v;
            }
        }
    }
}
