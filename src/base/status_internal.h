#ifndef VKQ_BASE_STATUS_INTERNAL_H
#define VKQ_BASE_STATUS_INTERNAL_H

#include "vkquill/status.h"

/* Record a formatted message as this thread's last error and return status. */
vkq_status vkq_fail(vkq_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Keeps a failure's message across cleanup code that may itself record errors:
 *     vkq_saved_error e = vkq_error_save(s); destroy(x); return vkq_error_restore(&e); */
typedef struct vkq_saved_error {
    vkq_status status;
    char message[1024];
} vkq_saved_error;

vkq_saved_error vkq_error_save(vkq_status status);
vkq_status vkq_error_restore(const vkq_saved_error *e);

#define VKQ_TRY(expr)                          \
    do {                                       \
        vkq_status try_status_ = (expr);       \
        if (try_status_ != VKQ_OK)             \
            return try_status_;                \
    } while (0)

#endif
