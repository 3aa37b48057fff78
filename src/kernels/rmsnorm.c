#include "kernels/launch.h"
#include "kernels/texels.h"
#include "vkquill/nn.h"

typedef struct rmsnorm_push {
    uint32_t rows, dim;
    float eps;
    uint32_t chunk, partial_rows;
} rmsnorm_push;
VKQ_STATIC_ASSERT_PUSH(rmsnorm_push);

typedef struct rmsnorm_cpu_push {
    uint32_t rows, dim;
    float eps;
    int32_t x_at, w_at, dy_at, dx_at;
    uint32_t partial_rows;
} rmsnorm_cpu_push;
VKQ_STATIC_ASSERT_PUSH(rmsnorm_cpu_push);

enum { FORWARD, INPUT_GRADIENT, WEIGHT_PARTIALS, WEIGHT_SUM }; /* rmsnorm.comp */
enum { CPU_FORWARD, CPU_BACKWARD, CPU_WEIGHT_SUM };             /* rmsnorm_cpu.comp */
enum { STREAM_X, STREAM_W, STREAM_DY, STREAM_DX };
enum { LOCAL = 64, CHUNK_ROWS = 64 };
enum { SLOTS = 6 }; /* x, w, rstd, dy, out, partials */

static vkq_status dispatch(vkq_rec *rec, uint32_t mode, const vkq_spans *spans,
                           const vkq_binding slots[SLOTS], const void *push, uint32_t push_bytes,
                           uint64_t invocations)
{
    vkq_dispatch d = {.kernel = spans ? &vkq_kernel_rmsnorm_cpu : &vkq_kernel_rmsnorm,
                      .spec = {mode, spans ? spans->bits : 0},
                      .spec_count = spans ? 2 : 1,
                      .push = push,
                      .push_bytes = push_bytes};
    for (int i = 0; i < SLOTS; i++)
        d.slot[i] = slots[i];
    if (spans)
        vkq_spans_bind(spans, &d);
    vkq_grid_1d(invocations, LOCAL, d.groups);
    return vkq_rec_dispatch(rec, &d);
}

/* Rows of partial weight gradients: one per subgroup (cpu) or per chunk of rows (gpu). */
static uint32_t partial_row_count(int cpu, uint32_t subgroup, uint32_t rows)
{
    uint32_t groups = (rows + LOCAL - 1) / LOCAL;
    return cpu ? groups * (LOCAL / subgroup) : (rows + CHUNK_ROWS - 1) / CHUNK_ROWS;
}

/* The cpu kernel reads rows as whole texels, so it needs a dim that is a multiple of 4. */
static int plan_cpu(vkq_rec *rec, const vkq_buf *streams, uint32_t count, uint32_t rows,
                    uint32_t dim, vkq_spans *spans)
{
    uint64_t n = (uint64_t)rows * dim;
    uint64_t floats[4] = {n, dim, n, n}; /* x, w, dy, dx */
    return dim % 4 == 0 && vkq_spans_plan(rec, streams, floats, count, spans);
}

vkq_status vkq_rmsnorm_forward(vkq_rec *rec, vkq_buf x, vkq_buf w, vkq_buf y, vkq_buf rstd,
                               uint32_t rows, uint32_t dim, float eps)
{
    uint64_t n = (uint64_t)rows * dim;
    VKQ_TRY(vkq_need_floats("rmsnorm", "x", x, n));
    VKQ_TRY(vkq_need_floats("rmsnorm", "w", w, dim));
    VKQ_TRY(vkq_need_floats("rmsnorm", "y", y, n));
    VKQ_TRY(vkq_need_floats("rmsnorm", "rstd", rstd, rows));
    /* dy and the partials are unused in the forward; x stands in so every declared binding is
     * valid. */
    vkq_binding slots[SLOTS] = {{x, VKQ_READ}, {w, VKQ_READ},  {rstd, VKQ_WRITE},
                                {x, VKQ_READ}, {y, VKQ_WRITE}, {x, VKQ_READ}};
    vkq_buf streams[2] = {x, w};
    vkq_spans spans;
    if (plan_cpu(rec, streams, 2, rows, dim, &spans)) {
        rmsnorm_cpu_push push = {rows, dim, eps, spans.at[STREAM_X], spans.at[STREAM_W], 0, 0, 0};
        return dispatch(rec, CPU_FORWARD, &spans, slots, &push, sizeof push, rows);
    }
    rmsnorm_push push = {rows, dim, eps, 0, 0};
    return dispatch(rec, FORWARD, NULL, slots, &push, sizeof push, rows);
}

/* dx, and in the same pass one partial row of dw for every subgroup of the grid. */
static vkq_status backward_cpu(vkq_rec *rec, const vkq_spans *spans,
                               const vkq_binding slots[SLOTS], uint32_t rows, uint32_t dim,
                               uint32_t partial_rows)
{
    rmsnorm_cpu_push push = {rows,
                             dim,
                             0.0f,
                             spans->at[STREAM_X],
                             spans->at[STREAM_W],
                             spans->at[STREAM_DY],
                             spans->at[STREAM_DX],
                             partial_rows};
    return dispatch(rec, CPU_BACKWARD, spans, slots, &push, sizeof push, rows);
}

/* dx, then the partial rows of dw over chunks of CHUNK_ROWS rows. */
static vkq_status backward_gpu(vkq_rec *rec, const vkq_binding slots[SLOTS], uint32_t rows,
                               uint32_t dim, uint32_t partial_rows)
{
    rmsnorm_push push = {rows, dim, 0.0f, CHUNK_ROWS, partial_rows};
    vkq_binding input_slots[SLOTS], weight_slots[SLOTS];
    for (int i = 0; i < SLOTS; i++)
        input_slots[i] = weight_slots[i] = slots[i];
    input_slots[5] = slots[0];  /* each pass leaves one binding unused: x stands in */
    weight_slots[4] = slots[0];
    VKQ_TRY(dispatch(rec, INPUT_GRADIENT, NULL, input_slots, &push, sizeof push, rows));
    return dispatch(rec, WEIGHT_PARTIALS, NULL, weight_slots, &push, sizeof push,
                    (uint64_t)partial_rows * dim);
}

/* dw += the partial rows, summed in order. */
static vkq_status sum_partials(vkq_rec *rec, const vkq_binding slots[SLOTS], vkq_buf partials,
                               uint32_t partial_rows, uint32_t dim)
{
    uint64_t floats = (uint64_t)partial_rows * dim;
    vkq_spans spans;
    if (dim % 4 == 0 && vkq_spans_plan(rec, &partials, &floats, 1, &spans)) {
        rmsnorm_cpu_push push = {0, dim, 0.0f, spans.at[0], 0, 0, 0, partial_rows};
        return dispatch(rec, CPU_WEIGHT_SUM, &spans, slots, &push, sizeof push, dim / 4);
    }
    rmsnorm_push push = {0, dim, 0.0f, 0, partial_rows};
    return dispatch(rec, WEIGHT_SUM, NULL, slots, &push, sizeof push, dim);
}

vkq_status vkq_rmsnorm_backward(vkq_rec *rec, vkq_buf dy, vkq_buf x, vkq_buf w, vkq_buf rstd,
                                vkq_buf dx, vkq_buf dw, uint32_t rows, uint32_t dim)
{
    uint64_t n = (uint64_t)rows * dim;
    VKQ_TRY(vkq_need_floats("rmsnorm backward", "dy", dy, n));
    VKQ_TRY(vkq_need_floats("rmsnorm backward", "x", x, n));
    VKQ_TRY(vkq_need_floats("rmsnorm backward", "w", w, dim));
    VKQ_TRY(vkq_need_floats("rmsnorm backward", "rstd", rstd, rows));
    VKQ_TRY(vkq_need_floats("rmsnorm backward", "dx", dx, n));
    VKQ_TRY(vkq_need_floats("rmsnorm backward", "dw", dw, dim));
    if (n == 0)
        return VKQ_OK;
    vkq_buf streams[4] = {x, w, dy, dx};
    vkq_spans spans;
    int cpu = plan_cpu(rec, streams, 4, rows, dim, &spans);
    uint32_t subgroup = vkq_ctx_device(vkq_rec_ctx(rec))->subgroup_size;
    uint32_t partial_rows = partial_row_count(cpu, subgroup, rows);
    vkq_buf partials;
    VKQ_TRY(vkq_rec_scratch(rec, (uint64_t)partial_rows * dim * sizeof(float), &partials));
    vkq_binding slots[SLOTS] = {{x, VKQ_READ},  {w, VKQ_READ},          {rstd, VKQ_READ},
                                {dy, VKQ_READ}, {dx, VKQ_READ_WRITE}, {partials, VKQ_WRITE}};
    if (cpu)
        VKQ_TRY(backward_cpu(rec, &spans, slots, rows, dim, partial_rows));
    else
        VKQ_TRY(backward_gpu(rec, slots, rows, dim, partial_rows));
    slots[4] = (vkq_binding){dw, VKQ_READ_WRITE};
    slots[5] = (vkq_binding){partials, VKQ_READ};
    vkq_status st = sum_partials(rec, slots, partials, partial_rows, dim);
    vkq_rec_scratch_release(rec, partials);
    return st;
}

uint64_t vkq_rmsnorm_backward_scratch(const vkq_scratch_target *t, uint32_t rows, uint32_t dim)
{
    int cpu = t->variant == VKQ_VARIANT_CPU && dim % 4 == 0;
    return (uint64_t)partial_row_count(cpu, t->subgroup_size, rows) * dim * sizeof(float);
}
