/* Data-parallel training across processes: ranks, sums over every rank, broadcast, barrier
 * and taking the whole job down. Built over MPI where it was found (CMake option VKQ_MPI);
 * otherwise, and whenever a process was not started by mpirun, there is one rank and every
 * collective is the identity. The state is the process's, as MPI's own is. */
#ifndef VKQUILL_DIST_H
#define VKQUILL_DIST_H

#include <stddef.h>

#include "vkquill/runtime.h"

/* Joins the job when the process was started by mpirun (one rank otherwise). Call once,
 * before any other vkq_dist function; vkq_dist_stop leaves it. */
vkq_status vkq_dist_start(void);
void vkq_dist_stop(void);

int vkq_dist_rank(void);
int vkq_dist_size(void);
/* The rank among the ranks on this machine: it picks this rank's device. */
int vkq_dist_local_rank(void);
/* Whether this build can run across processes (MPI), whatever the current world size. */
int vkq_dist_available(void);

/* Replaces data[0..count) on every rank with its sum over all ranks. */
vkq_status vkq_dist_sum(float *data, size_t count);
vkq_status vkq_dist_sum_doubles(double *data, size_t count);

/* The same sum in the background: data must stay untouched until vkq_dist_sum_wait. */
typedef struct vkq_dist_pending {
    void *handle;
} vkq_dist_pending;
vkq_status vkq_dist_sum_begin(float *data, size_t count, vkq_dist_pending *p);
vkq_status vkq_dist_sum_wait(vkq_dist_pending *p);

/* Copies root's bytes to every rank. */
vkq_status vkq_dist_broadcast(void *data, size_t bytes, int root);
vkq_status vkq_dist_barrier(void);
/* Prints "vkquill: rank R: message" and ends every rank of the job with status code. With one
 * rank it only prints and exits. */
_Noreturn void vkq_dist_abort(const char *message, int code);

/* Sums a device buffer of floats over every rank, in buckets of bucket_bytes: a bucket's
 * download runs while the previous bucket's sum is under way. */
vkq_status vkq_dist_sum_device(vkq_ctx *ctx, vkq_buf buf, size_t count, size_t bucket_bytes);

enum { VKQ_DIST_BUCKET_BYTES = 16 << 20 };

#endif
