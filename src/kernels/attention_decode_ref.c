#include <math.h>
#include <stdlib.h>

#include "kernels/reference.h"

void vkq_ref_attention_decode(const float *q, const float *k_cache, const float *v_cache,
                              const int32_t *bases, const int32_t *lengths, float *out,
                              uint32_t n, uint32_t heads, uint32_t kv_heads, uint32_t head_dim)
{
    size_t kv_dim = (size_t)kv_heads * head_dim;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t h = 0; h < heads; h++) {
            const float *qh = q + ((size_t)i * heads + h) * head_dim;
            size_t kv = (size_t)(h / (heads / kv_heads)) * head_dim;
            double max = -INFINITY, sum = 0.0;
            double *scores = malloc((size_t)lengths[i] * sizeof *scores);
            for (int32_t s = 0; s < lengths[i]; s++) {
                const float *k = k_cache + (size_t)(bases[i] + s) * kv_dim + kv;
                double dot = 0.0;
                for (uint32_t j = 0; j < head_dim; j++)
                    dot += (double)qh[j] * k[j];
                scores[s] = dot / sqrt((double)head_dim);
                max = scores[s] > max ? scores[s] : max;
            }
            for (int32_t s = 0; s < lengths[i]; s++)
                sum += exp(scores[s] - max);
            float *o = out + ((size_t)i * heads + h) * head_dim;
            for (uint32_t j = 0; j < head_dim; j++) {
                double acc = 0.0;
                for (int32_t s = 0; s < lengths[i]; s++)
                    acc += exp(scores[s] - max) / sum *
                           v_cache[(size_t)(bases[i] + s) * kv_dim + kv + j];
                o[j] = (float)acc;
            }
            free(scores);
        }
}
