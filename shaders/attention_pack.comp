#version 450
// Packs a [n][heads][head_dim] tensor, times `scale`, into the panels the cpu-shaped attention
// kernels read (attention_cpu.glsl): per (head, tile of 32 tokens, d < padded_dim), 8 texels,
// texel l holding tokens 4l..4l+3 at d; zero past n and past head_dim. A workgroup per (d,
// tile, head), an invocation per texel: the grid spells out the texel's coordinates, as
// divisions would run one lane at a time on lavapipe.
layout(local_size_x = 8) in;

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 5) writeonly buffer Panels { vec4 panels[]; };

layout(push_constant) uniform Push {
    uint n;
    uint heads;
    uint head_dim;
    uint padded_dim;
    float scale;
} p;

void main()
{
    uint lane = gl_LocalInvocationID.x, d = gl_WorkGroupID.x, tile = gl_WorkGroupID.y;
    uint head = gl_WorkGroupID.z;
    vec4 texel = vec4(0.0);
    for (uint j = 0u; j < 4u; j++) {
        uint token = tile * 32u + 4u * lane + j;
        if (token < p.n && d < p.head_dim)
            texel[j] = x[(token * p.heads + head) * p.head_dim + d] * p.scale;
    }
    panels[((head * gl_NumWorkGroups.y + tile) * p.padded_dim + d) * 8u + lane] = texel;
}
