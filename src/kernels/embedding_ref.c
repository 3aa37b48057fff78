#include <stddef.h>

#include "kernels/reference.h"

void vkq_ref_embedding_forward(vkq_dtype type, const void *table, const int32_t *tokens,
                               float *out, uint32_t n, uint32_t dim, uint32_t vocab)
{
    for (uint32_t t = 0; t < n; t++) {
        int valid = tokens[t] >= 0 && (uint32_t)tokens[t] < vocab;
        for (uint32_t j = 0; j < dim; j++)
            out[(size_t)t * dim + j] =
                valid ? vkq_ref_element(type, table, (uint64_t)tokens[t] * dim + j) : 0.0f;
    }
}

void vkq_ref_embedding_backward(const float *dout, const int32_t *tokens, float *dtable,
                                uint32_t n, uint32_t dim)
{
    for (uint32_t t = 0; t < n; t++)
        for (uint32_t j = 0; j < dim; j++)
            dtable[(size_t)tokens[t] * dim + j] += dout[(size_t)t * dim + j];
}
