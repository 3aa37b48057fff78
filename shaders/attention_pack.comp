#version 450
// Packs up to three [n][heads][head_dim] tensors in one dispatch (q, k and v for the forward, or
// dout alone) into the panels the cpu-shaped attention kernels read (attention_cpu.glsl): per
// (head, tile of 32 tokens, d < padded_dim), 8 texels, texel l holding tokens 4l..4l+3 at d;
// zero past n and past head_dim. Tensor 0 has `first_heads` heads and is multiplied by `scale`,
// tensors 1 and 2 have `other_heads`. A workgroup per (tile, head of one tensor) walks d, an
// invocation per texel: few workgroups, as lavapipe pays for each one, and every division is
// per workgroup, as divisions run one lane at a time on lavapipe.
layout(local_size_x = 8) in;

layout(std430, binding = 0) readonly buffer X0 { float x0[]; };
layout(std430, binding = 1) readonly buffer X1 { float x1[]; };
layout(std430, binding = 2) readonly buffer X2 { float x2[]; };
layout(std430, binding = 3) writeonly buffer P0 { vec4 p0[]; };
layout(std430, binding = 4) writeonly buffer P1 { vec4 p1[]; };
layout(std430, binding = 5) writeonly buffer P2 { vec4 p2[]; };

layout(push_constant) uniform Push {
    uint n;
    uint first_heads;
    uint other_heads;
    uint head_dim;
    uint padded_dim;
    float scale;
} p;

float load(uint tensor, uint at)
{
    if (tensor == 0u)
        return x0[at] * p.scale;
    return tensor == 1u ? x1[at] : x2[at];
}

void store(uint tensor, uint at, vec4 texel)
{
    if (tensor == 0u)
        p0[at] = texel;
    else if (tensor == 1u)
        p1[at] = texel;
    else
        p2[at] = texel;
}

void main()
{
    uint lane = gl_LocalInvocationID.x, tile = gl_WorkGroupID.x, tiles = gl_NumWorkGroups.x;
    uint tensor = 0u, head = gl_WorkGroupID.y, heads = p.first_heads;
    if (head >= p.first_heads) {
        tensor = 1u + (head - p.first_heads) / p.other_heads;
        head = (head - p.first_heads) % p.other_heads;
        heads = p.other_heads;
    }
    uvec4 token = tile * 32u + 4u * lane + uvec4(0u, 1u, 2u, 3u);
    uvec4 row = (token * heads + head) * p.head_dim;
    bvec4 real = lessThan(token, uvec4(p.n));
    uint at = (head * tiles + tile) * p.padded_dim * 8u + lane;
    for (uint d = 0u; d < p.padded_dim; d++, at += 8u) {
        vec4 texel = vec4(0.0);
        if (d < p.head_dim)
            for (uint j = 0u; j < 4u; j++)
                if (real[j])
                    texel[j] = load(tensor, row[j] + d);
        store(tensor, at, texel);
    }
}
