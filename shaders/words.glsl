// Floats stored two to a 64-bit word (a texel of four as two words): lavapipe loads and stores
// each element of a storage buffer with a scalar loop over the lanes, so two floats to a word
// halve that work. The kernel enables GL_EXT_shader_explicit_arithmetic_types_int64 before
// including this file (the cpu variant requires shaderInt64).
#ifndef VKQ_WORDS_GLSL
#define VKQ_WORDS_GLSL

uint64_t vkq_word(vec2 v) { return pack64(floatBitsToUint(v)); }

vec2 vkq_pair(uint64_t w) { return uintBitsToFloat(unpack32(w)); }

u64vec2 vkq_words(vec4 v) { return u64vec2(vkq_word(v.xy), vkq_word(v.zw)); }

vec4 vkq_floats(u64vec2 w) { return vec4(vkq_pair(w.x), vkq_pair(w.y)); }

#endif
