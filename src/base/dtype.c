/* fp32 and the 16-bit float formats: conversions, rounding to nearest even. */
#include "vkquill/dtype.h"

#include <math.h>
#include <string.h>

const char *vkq_dtype_name(vkq_dtype t)
{
    return t == VKQ_F16 ? "f16" : t == VKQ_BF16 ? "bf16" : "f32";
}

float vkq_bf16_to_f32(uint16_t bits) { return vkq_f32_from_bits((uint32_t)bits << 16); }

float vkq_f16_to_f32(uint16_t bits)
{
    uint32_t sign = (uint32_t)(bits & 0x8000) << 16;
    uint32_t exponent = bits >> 10 & 0x1F, mantissa = bits & 0x3FF;
    if (exponent == 0x1F)
        return vkq_f32_from_bits(sign | 0x7F800000u | mantissa << 13);
    if (exponent == 0) {
        float magnitude = ldexpf((float)mantissa, -24); /* exact: 0 or a subnormal */
        return sign ? -magnitude : magnitude;
    }
    return vkq_f32_from_bits(sign | (exponent + 112) << 23 | mantissa << 13);
}

/* value >> shift, rounded to nearest, ties to even; shift in [1, 31]. */
static uint32_t shift_round_even(uint32_t value, unsigned shift)
{
    uint32_t kept = value >> shift, rest = value & ((1u << shift) - 1), half = 1u << (shift - 1);
    return kept + (rest > half || (rest == half && (kept & 1)));
}

uint16_t vkq_f32_to_bf16(float value)
{
    uint32_t bits = vkq_f32_bits(value);
    if ((bits & 0x7FFFFFFFu) > 0x7F800000u)
        return (uint16_t)(bits >> 16 | 0x0040); /* the quiet bit keeps a NaN from becoming inf */
    return (uint16_t)shift_round_even(bits, 16); /* a carry into the exponent is correct */
}

uint16_t vkq_f32_to_f16(float value)
{
    uint32_t bits = vkq_f32_bits(value);
    uint16_t sign = (uint16_t)(bits >> 16 & 0x8000);
    uint32_t magnitude = bits & 0x7FFFFFFFu;
    if (magnitude > 0x7F800000u)
        return sign | 0x7E00 | (uint16_t)(magnitude >> 13 & 0x3FF);
    if (magnitude >= 0x477FF000u) /* 65520 and up round to infinity */
        return sign | 0x7C00;
    if (magnitude >= 0x38800000u) /* 2^-14 and up: normal; rebias the exponent by 127 - 15 */
        return sign | (uint16_t)shift_round_even(magnitude - (112u << 23), 13);
    uint32_t exponent = magnitude >> 23;
    if (exponent < 102) /* below 2^-25: rounds to zero */
        return sign;
    /* a subnormal half counts units of 2^-24: the mantissa with its hidden bit, shifted */
    uint32_t mantissa = (magnitude & 0x7FFFFFu) | 0x800000u;
    return sign | (uint16_t)shift_round_even(mantissa, 126 - exponent);
}

void vkq_dtype_from_f32(vkq_dtype t, const float *in, size_t n, void *out)
{
    if (t == VKQ_F32) {
        memcpy(out, in, n * sizeof *in);
        return;
    }
    uint16_t *halves = out;
    for (size_t i = 0; i < n; i++)
        halves[i] = t == VKQ_BF16 ? vkq_f32_to_bf16(in[i]) : vkq_f32_to_f16(in[i]);
}

void vkq_dtype_to_f32(vkq_dtype t, const void *in, size_t n, float *out)
{
    if (t == VKQ_F32) {
        memcpy(out, in, n * sizeof *out);
        return;
    }
    const uint16_t *halves = in;
    for (size_t i = 0; i < n; i++)
        out[i] = t == VKQ_BF16 ? vkq_bf16_to_f32(halves[i]) : vkq_f16_to_f32(halves[i]);
}
