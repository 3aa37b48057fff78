#version 450
// Matrix product for CPU drivers such as lavapipe, where one subgroup of 8 invocations is one
// 8-wide SIMD group. A workgroup is one subgroup and computes a 32x32 tile of C: lane l owns
// columns 4l..4l+3 of all 32 rows (32 vec4 accumulators). Both operands come pre-packed into
// 32-wide panels (matmul_pack) and are read through RGBA32F texel buffers, which lavapipe
// vectorises; the A values of the other lanes arrive by subgroupShuffle with constant lanes.
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x = 8) in;

layout(binding = 6) uniform samplerBuffer a_panels;
layout(binding = 7) uniform samplerBuffer b_panels;
layout(std430, binding = 0) buffer C { float c[]; };

layout(push_constant) uniform Push {
    uint m;
    uint n;
    uint k;
    uint a_batch;  // texels between batch items of the packed A
    uint b_batch;
    uint c_batch;  // elements
    float alpha;
    float beta;
} p;

void main()
{
    const uint lane = gl_LocalInvocationID.x;
    const uint tile_m = gl_WorkGroupID.x, tile_n = gl_WorkGroupID.y, z = gl_WorkGroupID.z;
    int a_at = int(z * p.a_batch + tile_m * p.k * 8u + lane);
    int b_at = int(z * p.b_batch + tile_n * p.k * 8u + lane);

    vec4 acc[32];
    [[unroll]] for (int r = 0; r < 32; r++)
        acc[r] = vec4(0.0);

    for (uint kk = 0u; kk < p.k; kk++) {
        vec4 av = texelFetch(a_panels, a_at);
        vec4 bv = texelFetch(b_panels, b_at);
        a_at += 8;
        b_at += 8;
        [[unroll]] for (uint j = 0u; j < 8u; j++) {
            vec4 a4 = subgroupShuffle(av, j);
            acc[4u * j + 0u] += a4.x * bv;
            acc[4u * j + 1u] += a4.y * bv;
            acc[4u * j + 2u] += a4.z * bv;
            acc[4u * j + 3u] += a4.w * bv;
        }
    }

    uint col = tile_n * 32u + lane * 4u;
    uint c_base = z * p.c_batch;
    [[unroll]] for (uint r = 0u; r < 32u; r++) {
        uint row = tile_m * 32u + r;
        if (row >= p.m)
            break;
        [[unroll]] for (uint q = 0u; q < 4u; q++) {
            if (col + q < p.n) {
                uint at = c_base + row * p.n + col + q;
                float v = p.alpha * acc[r][q];
                c[at] = p.beta != 0.0 ? v + p.beta * c[at] : v;
            }
        }
    }
}
