// A texel of four floats as two 64-bit words, for storage-buffer stores: lavapipe stores each
// element with a scalar loop over the lanes, so two floats to a word halve that work. The
// kernel enables GL_EXT_shader_explicit_arithmetic_types_int64 before including this file (the
// cpu variant requires shaderInt64).
#ifndef VKQ_WORDS_GLSL
#define VKQ_WORDS_GLSL

u64vec2 vkq_words(vec4 v)
{
    return u64vec2(pack64(floatBitsToUint(v.xy)), pack64(floatBitsToUint(v.zw)));
}

vec4 vkq_floats(u64vec2 w)
{
    return vec4(uintBitsToFloat(unpack32(w.x)), uintBitsToFloat(unpack32(w.y)));
}

#endif
