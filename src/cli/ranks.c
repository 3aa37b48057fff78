#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "vkquill/dist.h"
#include "vkquill/runtime.h"

vkq_status cli_rank_context(vkq_ctx **ctx)
{
    vkq_ctx_options options = VKQ_CTX_OPTIONS_DEFAULT;
    uint32_t count = 0;
    char index[16];
    /* Without a device list the context names the problem. */
    if (vkq_dist_size() > 1 && !getenv("VKQ_DEVICE") &&
        vkq_enumerate_devices(NULL, 0, &count) == VKQ_OK && count) {
        snprintf(index, sizeof index, "%u", (unsigned)vkq_dist_local_rank() % count);
        options.device = index;
    }
    return vkq_ctx_create(&options, ctx);
}
