#version 450
// Packs a matrix operand into 32-wide panels for matmul_cpu:
// texel (p*k + kk)*8 + t holds elements (rows p*32 + 4t .. +3, column kk), zero past the edge.
// "rows" is the panel dimension (m of A or n of B); row_stride/k_stride give any transpose.
layout(local_size_x = 64) in;

layout(std430, binding = 0) readonly buffer Src { float src[]; };
layout(std430, binding = 1) writeonly buffer Dst { vec4 dst[]; };

layout(push_constant) uniform Push {
    uint rows;
    uint k;
    uint row_stride;
    uint k_stride;
    uint src_batch;  // elements
    uint dst_batch;  // texels
} p;

float element(uint base, uint row, uint kk)
{
    return row < p.rows ? src[base + row * p.row_stride + kk * p.k_stride] : 0.0;
}

void main()
{
    uint i = gl_GlobalInvocationID.x;
    if (i >= p.k * 8u)
        return;
    uint kk = i >> 3u, t = i & 7u;
    uint panel = gl_WorkGroupID.y, z = gl_WorkGroupID.z;
    uint base = z * p.src_batch;
    uint row = panel * 32u + t * 4u;
    dst[z * p.dst_batch + (panel * p.k + kk) * 8u + t] =
        vec4(element(base, row, kk), element(base, row + 1u, kk), element(base, row + 2u, kk),
             element(base, row + 3u, kk));
}
