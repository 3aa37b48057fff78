// Floats stored as 16-bit halves, two to a 32-bit word (element i in word i / 2, the low half
// first), read as uint words and unpacked: this needs no 16-bit storage feature of the device.
// DTYPE constants: 0 f32, 1 f16, 2 bf16 (vkq_dtype).
#ifndef VKQ_HALVES_GLSL
#define VKQ_HALVES_GLSL

float vkq_unpack_half(uint word, uint dtype, uint i)
{
    bool high = (i & 1u) != 0u;
    if (dtype == 1u) {
        vec2 pair = unpackHalf2x16(word);
        return high ? pair.y : pair.x;
    }
    return uintBitsToFloat(high ? word & 0xffff0000u : word << 16);
}

#endif
