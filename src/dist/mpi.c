/* The ranks of an MPI job (include/vkquill/dist.h). MPI is joined only when mpirun started the
 * process, so a plain `vkquill train` starts no MPI run-time at all. */
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/status_internal.h"
#include "vkquill/dist.h"

static int joined, rank, size = 1, local_rank;

static int started_by_mpirun(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i]))
            return 1;
    return 0;
}

static vkq_status mpi_status(int code, const char *what)
{
    if (code == MPI_SUCCESS)
        return VKQ_OK;
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(code, text, &length);
    return vkq_fail(VKQ_ERR_IO, "%s failed on rank %d: %.*s", what, rank, length, text);
}

static int rank_on_this_machine(void)
{
    const char *ompi = getenv("OMPI_COMM_WORLD_LOCAL_RANK");
    if (ompi)
        return atoi(ompi);
    MPI_Comm local;
    int r = 0;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &local) ==
        MPI_SUCCESS) {
        MPI_Comm_rank(local, &r);
        MPI_Comm_free(&local);
    }
    return r;
}

vkq_status vkq_dist_start(void)
{
    if (joined || !started_by_mpirun())
        return VKQ_OK;
    VKQ_TRY(mpi_status(MPI_Init(NULL, NULL), "MPI_Init"));
    joined = 1;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    local_rank = rank_on_this_machine();
    return VKQ_OK;
}

void vkq_dist_stop(void)
{
    if (joined)
        MPI_Finalize();
    joined = 0;
    rank = local_rank = 0;
    size = 1;
}

int vkq_dist_rank(void) { return rank; }
int vkq_dist_size(void) { return size; }
int vkq_dist_local_rank(void) { return local_rank; }
int vkq_dist_available(void) { return 1; }

/* MPI counts are ints: longer arrays go in pieces. */
enum { PIECE = INT_MAX / 8 };

static vkq_status sum_pieces(void *data, size_t count, size_t elem, MPI_Datatype type)
{
    for (size_t at = 0; joined && at < count; at += PIECE) {
        size_t n = count - at < PIECE ? count - at : PIECE;
        VKQ_TRY(mpi_status(MPI_Allreduce(MPI_IN_PLACE, (char *)data + at * elem, (int)n, type,
                                         MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce"));
    }
    return VKQ_OK;
}

vkq_status vkq_dist_sum(float *data, size_t count)
{
    return sum_pieces(data, count, sizeof *data, MPI_FLOAT);
}

vkq_status vkq_dist_sum_doubles(double *data, size_t count)
{
    return sum_pieces(data, count, sizeof *data, MPI_DOUBLE);
}

vkq_status vkq_dist_sum_begin(float *data, size_t count, vkq_dist_pending *p)
{
    p->handle = NULL;
    if (!joined)
        return VKQ_OK;
    if (count > PIECE)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "a background sum takes at most %d floats",
                        PIECE);
    MPI_Request *request = malloc(sizeof *request);
    if (!request)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_status s = mpi_status(MPI_Iallreduce(MPI_IN_PLACE, data, (int)count, MPI_FLOAT, MPI_SUM,
                                             MPI_COMM_WORLD, request), "MPI_Iallreduce");
    if (s != VKQ_OK) {
        free(request);
        return s;
    }
    p->handle = request;
    return VKQ_OK;
}

vkq_status vkq_dist_sum_wait(vkq_dist_pending *p)
{
    MPI_Request *request = p->handle;
    if (!request)
        return VKQ_OK;
    p->handle = NULL;
    int code = MPI_Wait(request, MPI_STATUS_IGNORE);
    free(request);
    return mpi_status(code, "MPI_Iallreduce");
}

vkq_status vkq_dist_broadcast(void *data, size_t bytes, int root)
{
    for (size_t at = 0; joined && at < bytes; at += PIECE) {
        size_t n = bytes - at < PIECE ? bytes - at : PIECE;
        VKQ_TRY(mpi_status(MPI_Bcast((char *)data + at, (int)n, MPI_BYTE, root, MPI_COMM_WORLD),
                           "MPI_Bcast"));
    }
    return VKQ_OK;
}

vkq_status vkq_dist_barrier(void)
{
    return joined ? mpi_status(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier") : VKQ_OK;
}

_Noreturn void vkq_dist_abort(const char *message, int code)
{
    if (size > 1)
        fprintf(stderr, "vkquill: error: rank %d: %s\n", rank, message);
    else
        fprintf(stderr, "vkquill: error: %s\n", message);
    fflush(stderr);
    if (joined)
        MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}
