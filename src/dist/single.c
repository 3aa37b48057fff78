/* One rank (include/vkquill/dist.h), for builds without MPI: every sum over the ranks is the
 * data itself. */
#include <stdio.h>
#include <stdlib.h>

#include "vkquill/dist.h"

vkq_status vkq_dist_start(void) { return VKQ_OK; }
void vkq_dist_stop(void) {}
int vkq_dist_rank(void) { return 0; }
int vkq_dist_size(void) { return 1; }
int vkq_dist_local_rank(void) { return 0; }
int vkq_dist_available(void) { return 0; }

vkq_status vkq_dist_sum(float *data, size_t count)
{
    (void)data, (void)count;
    return VKQ_OK;
}

vkq_status vkq_dist_sum_doubles(double *data, size_t count)
{
    (void)data, (void)count;
    return VKQ_OK;
}

vkq_status vkq_dist_sum_begin(float *data, size_t count, vkq_dist_pending *p)
{
    (void)data, (void)count;
    p->handle = NULL;
    return VKQ_OK;
}

vkq_status vkq_dist_sum_wait(vkq_dist_pending *p)
{
    (void)p;
    return VKQ_OK;
}

vkq_status vkq_dist_broadcast(void *data, size_t bytes, int root)
{
    (void)data, (void)bytes, (void)root;
    return VKQ_OK;
}

vkq_status vkq_dist_barrier(void) { return VKQ_OK; }

_Noreturn void vkq_dist_abort(const char *message, int code)
{
    fprintf(stderr, "vkquill: error: %s\n", message);
    exit(code);
}
