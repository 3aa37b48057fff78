#version 450
// Sum (SQUARE 0) or sum of squares (SQUARE 1) of n floats: workgroup g writes the partial
// sum of elements g*64 + t, stepping by the whole grid; a second one-workgroup pass adds the
// partials, so the result does not depend on timing.
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint SQUARE = 0u;

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Out { float partial[]; };

layout(push_constant) uniform Push {
    uint n;
} p;

shared float part[64];

void main()
{
    uint t = gl_LocalInvocationID.x;
    uint step = gl_NumWorkGroups.x * 64u;
    float s = 0.0;
    for (uint i = gl_WorkGroupID.x * 64u + t; i < p.n; i += step) {
        float v = x[i];
        s += SQUARE == 1u ? v * v : v;
    }
    part[t] = s;
    barrier();
    for (uint width = 32u; width > 0u; width >>= 1u) {
        if (t < width)
            part[t] += part[t + width];
        barrier();
    }
    if (t == 0u)
        partial[gl_WorkGroupID.x] = part[0];
}
