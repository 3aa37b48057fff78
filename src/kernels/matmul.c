/* vkq_matmul: the cpu variant packs both operands into 32-wide panels and runs matmul_cpu;
 * the gpu variant reads them in place through shared-memory tiles (matmul_gpu). */
#include "kernels/registry.h"
#include "vkquill/kernels.h"

typedef struct pack_push {
    uint32_t rows, k, row_stride, k_stride, src_batch, dst_batch;
} pack_push;
VKQ_STATIC_ASSERT_PUSH(pack_push);

typedef struct matmul_push {
    uint32_t m, n, k, a_batch, b_batch, c_batch;
    float alpha, beta;
} matmul_push;
VKQ_STATIC_ASSERT_PUSH(matmul_push);

enum { PANEL = 32 };

const char *vkq_matmul_form_name(vkq_matmul_form form)
{
    switch (form) {
    case VKQ_MATMUL_NN: return "nn";
    case VKQ_MATMUL_NT: return "nt";
    case VKQ_MATMUL_TN: return "tn";
    }
    return "?";
}

typedef struct matmul_plan {
    uint32_t batch;
    uint64_t stride_a, stride_b, stride_c;
} matmul_plan;

static vkq_status check_operand(const char *name, vkq_buf buf, uint64_t stride, uint32_t batch,
                                uint64_t elements)
{
    uint64_t need = (uint64_t)(batch - 1) * stride + elements;
    if (!buf.block)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "matmul: operand %s has no buffer", name);
    if (need > buf.size / 4)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "matmul: operand %s needs %llu floats but its buffer holds %llu", name,
                        (unsigned long long)need, (unsigned long long)(buf.size / 4));
    if (need > UINT32_MAX || stride > UINT32_MAX)
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "matmul: operand %s exceeds 2^32 elements", name);
    return VKQ_OK;
}

static vkq_status plan_matmul(const vkq_matmul_args *p, vkq_buf a, vkq_buf b, vkq_buf c,
                              matmul_plan *plan)
{
    if (p->m == 0 || p->n == 0 || p->k == 0 || p->form > VKQ_MATMUL_TN)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "matmul: m, n and k must be positive and the form nn, nt or tn");
    plan->batch = p->batch ? p->batch : 1;
    plan->stride_a = p->stride_a ? p->stride_a : (uint64_t)p->m * p->k;
    plan->stride_b = p->stride_b ? p->stride_b : (uint64_t)p->k * p->n;
    plan->stride_c = p->stride_c ? p->stride_c : (uint64_t)p->m * p->n;
    VKQ_TRY(check_operand("A", a, plan->stride_a, plan->batch, (uint64_t)p->m * p->k));
    VKQ_TRY(check_operand("B", b, plan->stride_b, plan->batch, (uint64_t)p->k * p->n));
    VKQ_TRY(check_operand("C", c, plan->stride_c, plan->batch, (uint64_t)p->m * p->n));
    return VKQ_OK;
}

static uint32_t panels(uint32_t rows) { return (rows + PANEL - 1) / PANEL; }

/* Packs one operand; rows is its panel dimension, element (r, kk) at r*rs + kk*ks. */
static vkq_status pack(vkq_rec *rec, vkq_buf src, uint64_t src_batch, uint32_t batch,
                       uint32_t rows, uint32_t k, uint32_t rs, uint32_t ks, vkq_buf *out)
{
    uint64_t texels = (uint64_t)panels(rows) * k * 8;
    VKQ_TRY(vkq_rec_scratch(rec, texels * batch * 16, out));
    pack_push push = {rows, k, rs, ks, (uint32_t)src_batch, (uint32_t)texels};
    vkq_dispatch d = {.kernel = &vkq_kernel_matmul_pack,
                      .push = &push,
                      .push_bytes = sizeof push,
                      .groups = {(k * 8 + 63) / 64, panels(rows), batch}};
    d.slot[0] = (vkq_binding){src, VKQ_READ};
    d.slot[1] = (vkq_binding){*out, VKQ_WRITE};
    return vkq_rec_dispatch(rec, &d);
}

static int fits_texel_buffers(vkq_rec *rec, const vkq_matmul_args *p, uint32_t batch)
{
    uint64_t limit = vkq_ctx_device(vkq_rec_ctx(rec))->max_texel_buffer_elements;
    uint64_t ta = (uint64_t)panels(p->m) * p->k * 8 * batch;
    uint64_t tb = (uint64_t)panels(p->n) * p->k * 8 * batch;
    return ta <= limit && tb <= limit && ta <= UINT32_MAX / 2 && tb <= UINT32_MAX / 2;
}

static vkq_status matmul_cpu(vkq_rec *rec, const vkq_matmul_args *p, const matmul_plan *plan,
                             vkq_buf a, vkq_buf b, vkq_buf c)
{
    int ta = p->form == VKQ_MATMUL_TN, tb = p->form == VKQ_MATMUL_NT;
    vkq_buf pa, pb;
    VKQ_TRY(pack(rec, a, plan->stride_a, plan->batch, p->m, p->k, ta ? 1 : p->k, ta ? p->m : 1,
                 &pa));
    VKQ_TRY(pack(rec, b, plan->stride_b, plan->batch, p->n, p->k, tb ? p->k : 1, tb ? 1 : p->n,
                 &pb));
    matmul_push push = {p->m,
                        p->n,
                        p->k,
                        panels(p->m) * p->k * 8,
                        panels(p->n) * p->k * 8,
                        (uint32_t)plan->stride_c,
                        p->alpha,
                        p->beta};
    vkq_dispatch d = {.kernel = &vkq_kernel_matmul_cpu,
                      .push = &push,
                      .push_bytes = sizeof push,
                      .groups = {panels(p->m), panels(p->n), plan->batch}};
    d.slot[0] = (vkq_binding){c, p->beta != 0.0f ? VKQ_READ_WRITE : VKQ_WRITE};
    d.slot[6] = (vkq_binding){pa, VKQ_READ};
    d.slot[7] = (vkq_binding){pb, VKQ_READ};
    return vkq_rec_dispatch(rec, &d);
}

static vkq_status matmul_gpu(vkq_rec *rec, const vkq_matmul_args *p, const matmul_plan *plan,
                             vkq_buf a, vkq_buf b, vkq_buf c)
{
    matmul_push push = {p->m,
                        p->n,
                        p->k,
                        (uint32_t)plan->stride_a,
                        (uint32_t)plan->stride_b,
                        (uint32_t)plan->stride_c,
                        p->alpha,
                        p->beta};
    vkq_dispatch d = {.kernel = &vkq_kernel_matmul_gpu,
                      .spec = {(uint32_t)p->form},
                      .spec_count = 1,
                      .push = &push,
                      .push_bytes = sizeof push,
                      .groups = {(p->n + 63) / 64, (p->m + 63) / 64, plan->batch}};
    d.slot[0] = (vkq_binding){a, VKQ_READ};
    d.slot[1] = (vkq_binding){b, VKQ_READ};
    d.slot[2] = (vkq_binding){c, p->beta != 0.0f ? VKQ_READ_WRITE : VKQ_WRITE};
    return vkq_rec_dispatch(rec, &d);
}

vkq_status vkq_matmul(vkq_rec *rec, const vkq_matmul_args *args, vkq_buf a, vkq_buf b, vkq_buf c)
{
    matmul_plan plan;
    VKQ_TRY(plan_matmul(args, a, b, c, &plan));
    if (vkq_ctx_variant(vkq_rec_ctx(rec)) == VKQ_VARIANT_CPU &&
        fits_texel_buffers(rec, args, plan.batch))
        return matmul_cpu(rec, args, &plan, a, b, c);
    return matmul_gpu(rec, args, &plan, a, b, c);
}
