/* Element types of stored floats: fp32, and the 16-bit bf16 and f16 a frozen base may keep on
 * the device (two bytes a weight), with the conversions between them. */
#ifndef VKQUILL_DTYPE_H
#define VKQUILL_DTYPE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The values are the shaders' DTYPE specialization constants (shaders/halves.glsl). */
typedef enum vkq_dtype { VKQ_F32 = 0, VKQ_F16 = 1, VKQ_BF16 = 2 } vkq_dtype;

static inline uint64_t vkq_dtype_bytes(vkq_dtype t) { return t == VKQ_F32 ? 4 : 2; }
const char *vkq_dtype_name(vkq_dtype t); /* "f32", "f16", "bf16" */

/* A float's bits and back. */
static inline uint32_t vkq_f32_bits(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return bits;
}

static inline float vkq_f32_from_bits(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

float vkq_bf16_to_f32(uint16_t bits);
float vkq_f16_to_f32(uint16_t bits);
/* Round to nearest even; a NaN stays a NaN (quiet, sign kept). */
uint16_t vkq_f32_to_bf16(float value);
/* Round to nearest even; magnitudes from 65520 up become infinity; a NaN stays a NaN. */
uint16_t vkq_f32_to_f16(float value);

/* n floats into n elements of t (native byte order), and back. */
void vkq_dtype_from_f32(vkq_dtype t, const float *in, size_t n, void *out);
void vkq_dtype_to_f32(vkq_dtype t, const void *in, size_t n, float *out);

#endif
