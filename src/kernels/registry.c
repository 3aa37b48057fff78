#include "kernels/launch.h"
#include "vkquill/kernels.h"

#include "shader_blobs.h" /* generated: the SPIR-V of every shaders/<name>.comp */

#define VKQ_DEFINE_KERNEL(name) \
    const vkq_kernel_desc vkq_kernel_##name = {#name, vkq_spv_##name, sizeof vkq_spv_##name};
VKQ_KERNEL_LIST(VKQ_DEFINE_KERNEL)
#undef VKQ_DEFINE_KERNEL

#define VKQ_KERNEL_ADDRESS(name) &vkq_kernel_##name,
const vkq_kernel_desc *const vkq_all_kernels[] = {VKQ_KERNEL_LIST(VKQ_KERNEL_ADDRESS)};
#undef VKQ_KERNEL_ADDRESS
const unsigned vkq_kernel_count = sizeof vkq_all_kernels / sizeof vkq_all_kernels[0];

void vkq_grid_1d(uint64_t n, uint32_t local, uint32_t groups[3])
{
    uint64_t total = (n + local - 1) / local;
    groups[0] = total < 65535 ? (uint32_t)(total ? total : 1) : 65535;
    groups[1] = (uint32_t)((total + groups[0] - 1) / groups[0]);
    groups[2] = 1;
    if (groups[1] == 0)
        groups[1] = 1;
}

vkq_status vkq_need_floats(const char *op, const char *name, vkq_buf buf, uint64_t n)
{
    if (!buf.block)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: %s has no buffer", op, name);
    if (buf.size / 4 < n)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: %s needs %llu floats but holds %llu", op,
                        name, (unsigned long long)n, (unsigned long long)(buf.size / 4));
    if (n > UINT32_MAX)
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "%s: %s exceeds 2^32 elements", op, name);
    return VKQ_OK;
}

void vkq_scratch_target_of(const vkq_ctx *ctx, vkq_scratch_target *out)
{
    const vkq_device_info *d = vkq_ctx_device(ctx);
    *out = (vkq_scratch_target){vkq_ctx_variant(ctx), d->subgroup_size,
                                d->max_texel_buffer_elements, d->max_storage_buffer_range,
                                vkq_ctx_max_binding(ctx)};
}
