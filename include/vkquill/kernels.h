/* Kernel launchers: each records one operation (one or a few dispatches) into a recorder.
 * Sizes are in elements (of fp32 unless an argument names another type); buffers must hold
 * what the shapes ask for. */
#ifndef VKQUILL_KERNELS_H
#define VKQUILL_KERNELS_H

#include "vkquill/dtype.h"
#include "vkquill/runtime.h"

typedef enum vkq_matmul_form {
    VKQ_MATMUL_NN, /* C[m,n] = A[m,k] . B[k,n]   */
    VKQ_MATMUL_NT, /* C[m,n] = A[m,k] . B[n,k]^T */
    VKQ_MATMUL_TN  /* C[m,n] = A[k,m]^T . B[k,n] */
} vkq_matmul_form;

typedef struct vkq_matmul_args {
    vkq_matmul_form form;
    uint32_t m, n, k;
    uint32_t batch;                       /* 0 or 1: a single product */
    uint64_t stride_a, stride_b, stride_c; /* elements between batch items; 0: tightly packed */
    float alpha, beta;                    /* C = alpha * product + beta * C; beta 0 ignores C */
    vkq_dtype type_a, type_b; /* the operands' element types (C is fp32); fp32 accumulation */
} vkq_matmul_args;

vkq_status vkq_matmul(vkq_rec *rec, const vkq_matmul_args *args, vkq_buf a, vkq_buf b, vkq_buf c);

/* One operand packed once for several products that read it in the same layout (the same rows
 * and k of A, or of B, the same transpose, batch and dtype): the cpu variant packs every operand
 * into panels before it multiplies, so a matrix that several products read is otherwise packed
 * again for each. Made by vkq_matmul_pack; panels are recorder scratch (empty where the products
 * read the operand in place), held until vkq_matmul_unpack. */
typedef enum vkq_matmul_side { VKQ_MATMUL_A, VKQ_MATMUL_B } vkq_matmul_side;
typedef struct vkq_packed {
    vkq_buf source, panels;
    vkq_matmul_side side;
    vkq_dtype type;
    uint32_t rows, k, row_stride, k_stride, batch;
    uint64_t batch_stride;
} vkq_packed;

/* Packs the operand `side` of the products args describes (their first one). */
vkq_status vkq_matmul_pack(vkq_rec *rec, const vkq_matmul_args *args, vkq_matmul_side side,
                           vkq_buf operand, vkq_packed *out);
void vkq_matmul_unpack(vkq_rec *rec, vkq_packed *p);
/* vkq_matmul with one operand pre-packed (its side) and the other, `other`, as given. */
vkq_status vkq_matmul_packed(vkq_rec *rec, const vkq_matmul_args *args, const vkq_packed *packed,
                             vkq_buf other, vkq_buf c);
const char *vkq_matmul_form_name(vkq_matmul_form form);

/* Element-wise, n elements. */
vkq_status vkq_add(vkq_rec *rec, vkq_buf a, vkq_buf b, vkq_buf out, uint32_t n);   /* out = a + b */
vkq_status vkq_scale(vkq_rec *rec, vkq_buf x, vkq_buf out, float s, uint32_t n);  /* out = s x */
vkq_status vkq_axpy(vkq_rec *rec, float alpha, vkq_buf x, vkq_buf y, uint32_t n); /* y += alpha x */
vkq_status vkq_copy(vkq_rec *rec, vkq_buf src, vkq_buf dst, uint32_t n);
vkq_status vkq_fill(vkq_rec *rec, vkq_buf dst, float value, uint32_t n);

/* Reductions of n elements into out[0]. */
vkq_status vkq_sum(vkq_rec *rec, vkq_buf x, uint32_t n, vkq_buf out);
vkq_status vkq_sumsq(vkq_rec *rec, vkq_buf x, uint32_t n, vkq_buf out);

/* The scratch a launch takes from its recorder (and gives back when it ends), for memory plans
 * made without a device: what it depends on of the device. */
typedef struct vkq_scratch_target {
    vkq_variant variant;
    uint32_t subgroup_size;
    uint32_t max_texel_buffer_elements;
    uint64_t max_storage_buffer_range;
    uint64_t max_binding; /* vkq_ctx_max_binding: the largest piece of a flat block */
} vkq_scratch_target;

void vkq_scratch_target_of(const vkq_ctx *ctx, vkq_scratch_target *out);
/* Bytes of a product's packed operands A and B (both 0 when it reads them in place). */
void vkq_matmul_scratch(const vkq_scratch_target *t, const vkq_matmul_args *args,
                        uint64_t bytes[2]);
/* Bytes of the partial sums of vkq_sum / vkq_sumsq over n floats of an aligned buffer. */
uint64_t vkq_reduce_scratch(const vkq_scratch_target *t, uint32_t n);

#endif
