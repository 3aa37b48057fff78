#include "kernels/reference.h"

static uint64_t batch_stride(uint64_t given, uint64_t packed) { return given ? given : packed; }

void vkq_ref_matmul(const vkq_matmul_args *p, const float *a, const float *b, float *c)
{
    uint32_t batch = p->batch ? p->batch : 1;
    uint64_t sa = batch_stride(p->stride_a, (uint64_t)p->m * p->k);
    uint64_t sb = batch_stride(p->stride_b, (uint64_t)p->k * p->n);
    uint64_t sc = batch_stride(p->stride_c, (uint64_t)p->m * p->n);
    for (uint32_t z = 0; z < batch; z++) {
        const float *az = a + z * sa, *bz = b + z * sb;
        float *cz = c + z * sc;
        for (uint32_t i = 0; i < p->m; i++)
            for (uint32_t j = 0; j < p->n; j++) {
                double acc = 0.0;
                for (uint32_t l = 0; l < p->k; l++) {
                    float av = p->form == VKQ_MATMUL_TN ? az[(uint64_t)l * p->m + i]
                                                        : az[(uint64_t)i * p->k + l];
                    float bv = p->form == VKQ_MATMUL_NT ? bz[(uint64_t)j * p->k + l]
                                                        : bz[(uint64_t)l * p->n + j];
                    acc += (double)av * bv;
                }
                float *out = &cz[(uint64_t)i * p->n + j];
                *out = (float)(p->alpha * acc + (p->beta != 0.0f ? p->beta * *out : 0.0f));
            }
    }
}
