#include <stddef.h>

#include "kernels/reference.h"

void vkq_ref_bias_forward(float *y, const float *b, uint32_t rows, uint32_t dim)
{
    for (uint32_t r = 0; r < rows; r++)
        for (uint32_t j = 0; j < dim; j++)
            y[(size_t)r * dim + j] += b[j];
}

void vkq_ref_bias_backward(const float *dy, float *db, uint32_t rows, uint32_t dim)
{
    for (uint32_t j = 0; j < dim; j++) {
        double acc = 0.0;
        for (uint32_t r = 0; r < rows; r++)
            acc += dy[(size_t)r * dim + j];
        db[j] = (float)(db[j] + acc);
    }
}
