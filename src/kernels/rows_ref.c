#include <string.h>

#include "kernels/reference.h"

static int row_in_range(int32_t row, uint32_t n) { return row >= 0 && (uint32_t)row < n; }

void vkq_ref_gather_rows(const float *src, const int32_t *rows, float *dst, uint32_t count,
                         uint32_t dim, uint32_t n)
{
    for (uint32_t i = 0; i < count; i++) {
        float *out = dst + (size_t)i * dim;
        if (row_in_range(rows[i], n))
            memcpy(out, src + (size_t)rows[i] * dim, dim * sizeof *out);
        else
            memset(out, 0, dim * sizeof *out);
    }
}

void vkq_ref_scatter_add_rows(const float *src, const int32_t *rows, float *dst, uint32_t count,
                              uint32_t dim, uint32_t n)
{
    for (uint32_t i = 0; i < count; i++)
        if (row_in_range(rows[i], n))
            for (uint32_t j = 0; j < dim; j++)
                dst[(size_t)rows[i] * dim + j] += src[(size_t)i * dim + j];
}

void vkq_ref_copy_rows(const float *src, const int32_t *rows, float *dst, uint32_t count,
                       uint32_t dim, uint32_t n)
{
    for (uint32_t i = 0; i < count; i++)
        if (row_in_range(rows[i], n))
            memcpy(dst + (size_t)rows[i] * dim, src + (size_t)i * dim, dim * sizeof *dst);
}

void vkq_ref_copy_columns(const float *src, uint32_t src_width, uint32_t src_at, float *dst,
                          uint32_t dst_width, uint32_t dst_at, uint32_t rows, uint32_t cols)
{
    for (uint32_t r = 0; r < rows; r++)
        memcpy(dst + (size_t)r * dst_width + dst_at, src + (size_t)r * src_width + src_at,
               cols * sizeof *dst);
}
