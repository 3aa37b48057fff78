#include "kernels/reference.h"

static uint64_t batch_stride(uint64_t given, uint64_t packed) { return given ? given : packed; }

float vkq_ref_element(vkq_dtype t, const void *x, uint64_t i)
{
    if (t == VKQ_F32)
        return ((const float *)x)[i];
    uint16_t half = ((const uint16_t *)x)[i];
    return t == VKQ_BF16 ? vkq_bf16_to_f32(half) : vkq_f16_to_f32(half);
}

void vkq_ref_matmul(const vkq_matmul_args *p, const void *a, const void *b, float *c)
{
    uint32_t batch = p->batch ? p->batch : 1;
    uint64_t sa = batch_stride(p->stride_a, (uint64_t)p->m * p->k);
    uint64_t sb = batch_stride(p->stride_b, (uint64_t)p->k * p->n);
    uint64_t sc = batch_stride(p->stride_c, (uint64_t)p->m * p->n);
    for (uint32_t z = 0; z < batch; z++) {
        float *cz = c + z * sc;
        for (uint32_t i = 0; i < p->m; i++)
            for (uint32_t j = 0; j < p->n; j++) {
                double acc = 0.0;
                for (uint32_t l = 0; l < p->k; l++) {
                    uint64_t ia = z * sa + (p->form == VKQ_MATMUL_TN ? (uint64_t)l * p->m + i
                                                                     : (uint64_t)i * p->k + l);
                    uint64_t ib = z * sb + (p->form == VKQ_MATMUL_NT ? (uint64_t)j * p->k + l
                                                                     : (uint64_t)l * p->n + j);
                    float av = vkq_ref_element(p->type_a, a, ia);
                    float bv = vkq_ref_element(p->type_b, b, ib);
                    acc += (double)av * bv;
                }
                float *out = &cz[(uint64_t)i * p->n + j];
                *out = (float)(p->alpha * acc + (p->beta != 0.0f ? p->beta * *out : 0.0f));
            }
    }
}
