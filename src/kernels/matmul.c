/* vkq_matmul: the cpu variant runs matmul_cpu, which reads an fp32 operand in place when its
 * texels line up with the kernel's (see in_place_layout) and otherwise packs it into 32-wide
 * fp32 panels first; the gpu variant reads them in place through shared-memory tiles (matmul_gpu).
 * A 16-bit operand becomes fp32 as it is packed, or as its tile is loaded. vkq_matmul_pack
 * packs one operand for several products (vkq_matmul_packed), which then pack only the other. */
#include "kernels/registry.h"
#include "vkquill/kernels.h"

typedef struct pack_push {
    uint32_t rows, k, k_pad, row_stride, k_stride, src_batch, dst_batch;
} pack_push;
VKQ_STATIC_ASSERT_PUSH(pack_push);

typedef struct matmul_push {
    uint32_t m, n, k, a_batch, b_batch, c_batch;
    float alpha, beta;
    uint32_t k_true, a_stride, b_stride, a_first, b_first, a_last, b_last;
} matmul_push;
VKQ_STATIC_ASSERT_PUSH(matmul_push);

enum {
    PANEL = 32,    /* rows (of A) or columns (of B) per packed panel: matmul_cpu's tile */
    KSTEP = 4,     /* k steps per iteration of matmul_cpu's loop; panels are zero-padded to it */
    /* Texels after each packed panel: keeps the panels of a large power-of-two k from starting
     * at power-of-two strides, where they alias in the caches. */
    PANEL_GAP = 8,
    /* Every buffer range vkquill allocates starts at a multiple of this, which is at least any
     * device's minTexelBufferOffsetAlignment (Vulkan caps that limit at 256). */
    TEXEL_VIEW_ALIGNMENT = 256
};

/* How matmul_cpu reads an operand (its A_LAYOUT and B_LAYOUT): packed panels, or in place
 * through a view whose texels hold 4 rows at one k (ROWS) or 4 k steps of one row (K_MAJOR). */
enum { LAYOUT_PANELS = 0, LAYOUT_ROWS = 1, LAYOUT_K_MAJOR = 2 };

/* How matmul_pack reads an operand (its SOURCE specialization constant): fp32 or 16-bit. */
enum {
    PACK_ELEMENTS = 0,
    PACK_ROW_TEXELS = 1,
    PACK_K_TEXELS = 2,
    PACK_K_HALVES = 3,
    PACK_ROW_HALVES = 4
};

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

static vkq_status check_operand(const char *name, vkq_buf buf, vkq_dtype type, uint64_t stride,
                                uint32_t batch, uint64_t elements)
{
    uint64_t need = (uint64_t)(batch - 1) * stride + elements;
    uint64_t holds = buf.size / vkq_dtype_bytes(type);
    if (!buf.block)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "matmul: operand %s has no buffer", name);
    if (type > VKQ_BF16 || (type != VKQ_F32 && (buf.offset % 4 || buf.size % 4)))
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "matmul: operand %s must be f32, or f16/bf16 in whole 32-bit words", name);
    if (need > holds)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "matmul: operand %s needs %llu elements but its buffer holds %llu", name,
                        (unsigned long long)need, (unsigned long long)holds);
    if (need > UINT32_MAX || stride > UINT32_MAX)
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "matmul: operand %s exceeds 2^32 elements", name);
    return VKQ_OK;
}

static vkq_status plan_shape(const vkq_matmul_args *p, matmul_plan *plan)
{
    if (p->m == 0 || p->n == 0 || p->k == 0 || p->form > VKQ_MATMUL_TN)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "matmul: m, n and k must be positive and the form nn, nt or tn");
    plan->batch = p->batch ? p->batch : 1;
    plan->stride_a = p->stride_a ? p->stride_a : (uint64_t)p->m * p->k;
    plan->stride_b = p->stride_b ? p->stride_b : (uint64_t)p->k * p->n;
    plan->stride_c = p->stride_c ? p->stride_c : (uint64_t)p->m * p->n;
    return VKQ_OK;
}

static vkq_status check_a(const vkq_matmul_args *p, const matmul_plan *plan, vkq_buf a)
{
    return check_operand("A", a, p->type_a, plan->stride_a, plan->batch, (uint64_t)p->m * p->k);
}

static vkq_status check_b(const vkq_matmul_args *p, const matmul_plan *plan, vkq_buf b)
{
    return check_operand("B", b, p->type_b, plan->stride_b, plan->batch, (uint64_t)p->k * p->n);
}

static vkq_status plan_matmul(const vkq_matmul_args *p, vkq_buf a, vkq_buf b, vkq_buf c,
                              matmul_plan *plan)
{
    VKQ_TRY(plan_shape(p, plan));
    VKQ_TRY(check_a(p, plan, a));
    VKQ_TRY(check_b(p, plan, b));
    VKQ_TRY(check_operand("C", c, VKQ_F32, plan->stride_c, plan->batch, (uint64_t)p->m * p->n));
    return VKQ_OK;
}

static uint32_t panels(uint32_t rows) { return (rows + PANEL - 1) / PANEL; }
static uint32_t k_padded(uint32_t k) { return (k + KSTEP - 1) / KSTEP * KSTEP; }
static uint64_t panel_texels(uint32_t k) { return (uint64_t)k_padded(k) * (PANEL / 4) + PANEL_GAP; }
static uint64_t packed_texels(uint32_t rows, uint32_t k) { return panels(rows) * panel_texels(k); }

/* One operand as matmul_pack reads it: element (r, kk) of batch item z at
 * z*batch_stride + r*row_stride + kk*k_stride. */
typedef struct operand {
    vkq_buf buf;
    vkq_dtype type;
    uint64_t batch_stride;
    uint32_t batch, rows, k, row_stride, k_stride;
    uint32_t reuse; /* the product's other dimension (n for A, m for B): its panels' readers */
} operand;

static uint64_t operand_elements(const operand *o)
{
    return (uint64_t)(o->batch - 1) * o->batch_stride + (uint64_t)o->rows * o->k;
}

/* Four consecutive rows at one k lie in one texel (of 4 elements, as fp32 or as 16-bit pairs). */
static int rows_in_texels(const operand *o) { return o->row_stride == 1 && o->k_stride % 4 == 0; }

/* k is contiguous and each row starts on a multiple of `along_k` elements. */
static int k_in_texels(const operand *o, uint32_t along_k)
{
    return o->k_stride == 1 && o->row_stride % along_k == 0;
}

/* The layout in which matmul_cpu reads an fp32 operand in place, from its shape and strides
 * alone (its buffer must also start on a texel, as every tensor vkquill allocates with a
 * multiple of 4 floats does), or LAYOUT_PANELS. In place saves the packing dispatch, which
 * wins where the packed panels would serve few tiles or the operand is small; a large operand
 * read by many tiles runs faster from contiguous panels (measured on lavapipe: 2048 x 64 x 64
 * 1.5-2x faster in place, 1024^3 up to 1.4x slower). */
static uint32_t in_place_layout(const operand *o, uint64_t max_texels)
{
    enum { FEW_READERS = 256, SMALL = 65536 };
    uint64_t elements = operand_elements(o);
    if (o->type != VKQ_F32 || o->batch_stride % 4 || elements % 4 || elements / 4 > max_texels)
        return LAYOUT_PANELS;
    if (o->reuse > FEW_READERS && (uint64_t)o->rows * o->k > SMALL)
        return LAYOUT_PANELS;
    if (rows_in_texels(o))
        return LAYOUT_ROWS;
    if (k_in_texels(o, 4) && o->k % 4 == 0)
        return LAYOUT_K_MAJOR;
    return LAYOUT_PANELS;
}

/* A texel-view source when four consecutive elements (fp32), or eight along k or four along
 * the rows (16-bit), always lie in one aligned texel of the buffer; *view is then the range to
 * bind. */
static uint32_t pack_source(vkq_rec *rec, const operand *o, vkq_buf *view)
{
    uint64_t elements = operand_elements(o);
    uint64_t per_texel = o->type == VKQ_F32 ? 4 : 8;
    uint32_t along_k = o->type == VKQ_F32 ? 4 : 8; /* row_stride's multiple when k is contiguous */
    int rows_contiguous = rows_in_texels(o), k_contiguous = k_in_texels(o, along_k);
    if ((!rows_contiguous && !k_contiguous) || o->batch_stride % along_k ||
        elements % per_texel || o->buf.offset % TEXEL_VIEW_ALIGNMENT ||
        elements / per_texel > vkq_ctx_device(vkq_rec_ctx(rec))->max_texel_buffer_elements)
        return PACK_ELEMENTS;
    *view = vkq_buf_slice(o->buf, 0, elements * vkq_dtype_bytes(o->type));
    if (o->type != VKQ_F32)
        return rows_contiguous ? PACK_ROW_HALVES : PACK_K_HALVES;
    return rows_contiguous ? PACK_ROW_TEXELS : PACK_K_TEXELS;
}

/* Invocations of matmul_pack a panel: one a texel, or one a 4x4 or 4x8 block it transposes. */
static uint32_t pack_invocations(uint32_t source, uint32_t k)
{
    uint32_t texels = k_padded(k) * (PANEL / 4);
    if (source == PACK_K_TEXELS)
        return texels / 4;
    if (source == PACK_K_HALVES)
        return (k_padded(k) + 7) / 8 * (PANEL / 4);
    return texels;
}

static vkq_status pack(vkq_rec *rec, const operand *o, vkq_buf *out)
{
    uint64_t texels = packed_texels(o->rows, o->k);
    VKQ_TRY(vkq_rec_scratch(rec, texels * o->batch * 16, out)); /* as vkq_matmul_scratch */
    pack_push push = {o->rows, o->k, k_padded(o->k), o->row_stride, o->k_stride,
                      (uint32_t)o->batch_stride, (uint32_t)texels};
    vkq_buf view = *out;
    uint32_t source = pack_source(rec, o, &view);
    uint32_t invocations = pack_invocations(source, o->k);
    vkq_dispatch d = {.kernel = &vkq_kernel_matmul_pack,
                      .spec = {source, PANEL_GAP, (uint32_t)o->type},
                      .spec_count = 3,
                      .push = &push,
                      .push_bytes = sizeof push,
                      .groups = {(invocations + 63) / 64, panels(o->rows), o->batch}};
    /* The shader names every source, so each gets a binding; the packed output stands in for
     * the texel views a source does not read. */
    int halves = source == PACK_K_HALVES || source == PACK_ROW_HALVES;
    d.slot[0] = (vkq_binding){o->buf, VKQ_READ};
    d.slot[6] = (vkq_binding){halves ? *out : view, VKQ_READ};
    d.slot[7] = (vkq_binding){halves ? view : *out, VKQ_READ_WORDS};
    d.slot[1] = (vkq_binding){*out, VKQ_WRITE};
    return vkq_rec_dispatch(rec, &d);
}

static int texels_fit(uint64_t limit, uint64_t ta, uint64_t tb)
{
    return ta <= limit && tb <= limit && ta <= UINT32_MAX / 2 && tb <= UINT32_MAX / 2;
}

/* The packed operands are texel views for matmul_cpu and storage buffers for matmul_pack. */
static uint64_t packed_limit(uint64_t max_texel_buffer_elements, uint64_t max_storage_range)
{
    uint64_t limit = max_texel_buffer_elements;
    return max_storage_range / 16 < limit ? max_storage_range / 16 : limit;
}

static int fits_texel_buffers(vkq_rec *rec, const vkq_matmul_args *p, uint32_t batch)
{
    const vkq_device_info *d = vkq_ctx_device(vkq_rec_ctx(rec));
    return texels_fit(packed_limit(d->max_texel_buffer_elements, d->max_storage_buffer_range),
                      packed_texels(p->m, p->k) * batch, packed_texels(p->n, p->k) * batch);
}

/* Operand `side` of a product as matmul_pack reads it. */
static operand operand_of(const vkq_matmul_args *p, const matmul_plan *plan,
                          vkq_matmul_side side, vkq_buf buf)
{
    if (side == VKQ_MATMUL_A) {
        int t = p->form == VKQ_MATMUL_TN;
        return (operand){buf, p->type_a, plan->stride_a, plan->batch, p->m, p->k, t ? 1 : p->k,
                         t ? p->m : 1, p->n};
    }
    int t = p->form == VKQ_MATMUL_NT;
    return (operand){buf, p->type_b, plan->stride_b, plan->batch, p->n, p->k, t ? p->k : 1,
                     t ? 1 : p->n, p->m};
}

void vkq_matmul_scratch(const vkq_scratch_target *t, const vkq_matmul_args *args,
                        uint64_t bytes[2])
{
    bytes[0] = bytes[1] = 0;
    matmul_plan plan = {0};
    if (t->variant != VKQ_VARIANT_CPU || plan_shape(args, &plan) != VKQ_OK)
        return;
    uint64_t ta = packed_texels(args->m, args->k) * plan.batch;
    uint64_t tb = packed_texels(args->n, args->k) * plan.batch;
    if (!texels_fit(packed_limit(t->max_texel_buffer_elements, t->max_storage_buffer_range), ta,
                    tb))
        return;
    /* buffers start on a texel, as every tensor vkquill allocates does (see buffer_layout) */
    operand oa = operand_of(args, &plan, VKQ_MATMUL_A, (vkq_buf){0});
    operand ob = operand_of(args, &plan, VKQ_MATMUL_B, (vkq_buf){0});
    bytes[0] = in_place_layout(&oa, t->max_texel_buffer_elements) ? 0 : ta * 16;
    bytes[1] = in_place_layout(&ob, t->max_texel_buffer_elements) ? 0 : tb * 16;
}

/* A pre-packed operand serves a product that reads the same matrix in the same layout. */
static int serves(const vkq_packed *pre, const operand *o)
{
    return pre->panels.block && pre->source.block == o->buf.block &&
           pre->source.offset == o->buf.offset && pre->type == o->type &&
           pre->rows == o->rows && pre->k == o->k && pre->row_stride == o->row_stride &&
           pre->k_stride == o->k_stride && pre->batch == o->batch &&
           (pre->batch == 1 || pre->batch_stride == o->batch_stride);
}

/* How matmul_cpu reads one operand: its layout, the view or panels it binds, and for an in-place
 * view the texels between k steps (ROWS) or rows (K_MAJOR) and between batch items. */
typedef struct operand_read {
    uint32_t layout, stride, batch_texels, first, last;
    vkq_buf view;
    int packed_here; /* panels packed for this product alone, released after it */
} operand_read;

static uint32_t buffer_layout(vkq_rec *rec, const operand *o)
{
    if (o->buf.offset % 16)
        return LAYOUT_PANELS;
    return in_place_layout(o, vkq_ctx_device(vkq_rec_ctx(rec))->max_texel_buffer_elements);
}

/* pre: this operand packed beforehand, or NULL. */
static vkq_status read_operand(vkq_rec *rec, const operand *o, const vkq_packed *pre,
                               operand_read *r)
{
    *r = (operand_read){.layout = pre ? LAYOUT_PANELS : buffer_layout(rec, o)};
    if (r->layout == LAYOUT_PANELS) {
        r->batch_texels = (uint32_t)packed_texels(o->rows, o->k);
        if (pre) {
            r->view = pre->panels;
            return VKQ_OK;
        }
        r->packed_here = 1;
        return pack(rec, o, &r->view);
    }
    /* the view starts on the alignment boundary at or before the operand */
    uint64_t texels = operand_elements(o) / 4, lead = o->buf.offset % TEXEL_VIEW_ALIGNMENT;
    r->view = (vkq_buf){o->buf.block, o->buf.offset - lead, lead + texels * 16};
    r->first = (uint32_t)(lead / 16);
    r->last = (uint32_t)(r->first + texels - 1);
    r->batch_texels = (uint32_t)(o->batch_stride / 4);
    r->stride = (r->layout == LAYOUT_ROWS ? o->k_stride : o->row_stride) / 4;
    return VKQ_OK;
}

/* pre: an operand packed beforehand (with panels), or NULL. */
static vkq_status matmul_cpu(vkq_rec *rec, const vkq_matmul_args *p, const matmul_plan *plan,
                             vkq_buf a, vkq_buf b, vkq_buf c, const vkq_packed *pre)
{
    operand oa = operand_of(p, plan, VKQ_MATMUL_A, a), ob = operand_of(p, plan, VKQ_MATMUL_B, b);
    int a_ready = pre && pre->side == VKQ_MATMUL_A, b_ready = pre && pre->side == VKQ_MATMUL_B;
    operand_read ra = {0}, rb = {0};
    vkq_status s = read_operand(rec, &oa, a_ready ? pre : NULL, &ra);
    if (s == VKQ_OK)
        s = read_operand(rec, &ob, b_ready ? pre : NULL, &rb);
    matmul_push push = {p->m,    p->n,       k_padded(p->k), ra.batch_texels, rb.batch_texels,
                        (uint32_t)plan->stride_c, p->alpha, p->beta, p->k, ra.stride,
                        rb.stride, ra.first, rb.first, ra.last, rb.last};
    uint32_t c_vec4 = p->n % 4 == 0 && plan->stride_c % 4 == 0;
    /* A workgroup is one subgroup; its lanes cover width / 8 panels of B. */
    uint32_t width = vkq_ctx_device(vkq_rec_ctx(rec))->subgroup_size, b_tiles = width / 8;
    vkq_dispatch d = {.kernel = &vkq_kernel_matmul_cpu,
                      .spec = {c_vec4, PANEL_GAP, p->beta != 0.0f, width, ra.layout, rb.layout},
                      .spec_count = 6,
                      .push = &push,
                      .push_bytes = sizeof push,
                      .groups = {panels(p->m), (panels(p->n) + b_tiles - 1) / b_tiles,
                                 plan->batch}};
    d.slot[0] = (vkq_binding){c, p->beta != 0.0f ? VKQ_READ_WRITE : VKQ_WRITE};
    d.slot[6] = (vkq_binding){ra.view, VKQ_READ};
    d.slot[7] = (vkq_binding){rb.view, VKQ_READ};
    if (s == VKQ_OK)
        s = vkq_rec_dispatch(rec, &d);
    if (ra.packed_here && ra.view.block)
        vkq_rec_scratch_release(rec, ra.view);
    if (rb.packed_here && rb.view.block)
        vkq_rec_scratch_release(rec, rb.view);
    return s;
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
                        p->beta,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0};
    vkq_dispatch d = {.kernel = &vkq_kernel_matmul_gpu,
                      .spec = {(uint32_t)p->form, (uint32_t)p->type_a, (uint32_t)p->type_b},
                      .spec_count = 3,
                      .push = &push,
                      .push_bytes = sizeof push,
                      .groups = {(p->n + 63) / 64, (p->m + 63) / 64, plan->batch}};
    d.slot[0] = (vkq_binding){a, VKQ_READ};
    d.slot[1] = (vkq_binding){b, VKQ_READ};
    d.slot[2] = (vkq_binding){c, p->beta != 0.0f ? VKQ_READ_WRITE : VKQ_WRITE};
    return vkq_rec_dispatch(rec, &d);
}

static int runs_cpu(vkq_rec *rec, const vkq_matmul_args *args, const matmul_plan *plan)
{
    return vkq_ctx_variant(vkq_rec_ctx(rec)) == VKQ_VARIANT_CPU &&
           fits_texel_buffers(rec, args, plan->batch);
}

vkq_status vkq_matmul(vkq_rec *rec, const vkq_matmul_args *args, vkq_buf a, vkq_buf b, vkq_buf c)
{
    matmul_plan plan = {0};
    VKQ_TRY(plan_matmul(args, a, b, c, &plan));
    if (runs_cpu(rec, args, &plan))
        return matmul_cpu(rec, args, &plan, a, b, c, NULL);
    return matmul_gpu(rec, args, &plan, a, b, c);
}

vkq_status vkq_matmul_pack(vkq_rec *rec, const vkq_matmul_args *args, vkq_matmul_side side,
                           vkq_buf operand_buf, vkq_packed *out)
{
    matmul_plan plan = {0};
    VKQ_TRY(plan_shape(args, &plan));
    if (side == VKQ_MATMUL_A)
        VKQ_TRY(check_a(args, &plan, operand_buf));
    else
        VKQ_TRY(check_b(args, &plan, operand_buf));
    operand o = operand_of(args, &plan, side, operand_buf);
    *out = (vkq_packed){operand_buf, {0}, side, o.type, o.rows, o.k, o.row_stride, o.k_stride,
                        o.batch, o.batch_stride};
    if (!runs_cpu(rec, args, &plan) || buffer_layout(rec, &o) != LAYOUT_PANELS)
        return VKQ_OK;
    return pack(rec, &o, &out->panels);
}

void vkq_matmul_unpack(vkq_rec *rec, vkq_packed *p)
{
    if (p->panels.block)
        vkq_rec_scratch_release(rec, p->panels);
    p->panels = (vkq_buf){0};
}

vkq_status vkq_matmul_packed(vkq_rec *rec, const vkq_matmul_args *args, const vkq_packed *packed,
                             vkq_buf other, vkq_buf c)
{
    int a_packed = packed->side == VKQ_MATMUL_A;
    vkq_buf a = a_packed ? packed->source : other, b = a_packed ? other : packed->source;
    matmul_plan plan = {0};
    VKQ_TRY(plan_matmul(args, a, b, c, &plan));
    if (!runs_cpu(rec, args, &plan))
        return matmul_gpu(rec, args, &plan, a, b, c);
    operand o = operand_of(args, &plan, packed->side, packed->source);
    if (packed->panels.block && !serves(packed, &o))
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "matmul: the pre-packed operand %s does not match the product's",
                        a_packed ? "A" : "B");
    return matmul_cpu(rec, args, &plan, a, b, c, packed->panels.block ? packed : NULL);
}
