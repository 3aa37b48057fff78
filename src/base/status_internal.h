#ifndef VKQ_BASE_STATUS_INTERNAL_H
#define VKQ_BASE_STATUS_INTERNAL_H

#include "vkquill/status.h"

/* Record a formatted message as this thread's last error and return status. */
vkq_status vkq_fail(vkq_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define VKQ_TRY(expr)                          \
    do {                                       \
        vkq_status try_status_ = (expr);       \
        if (try_status_ != VKQ_OK)             \
            return try_status_;                \
    } while (0)

#endif
