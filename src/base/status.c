#include "base/status_internal.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_error[1024];

const char *vkq_last_error(void) { return last_error[0] ? last_error : "no error"; }

vkq_status vkq_fail(vkq_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

vkq_saved_error vkq_error_save(vkq_status status)
{
    vkq_saved_error e = {.status = status};
    snprintf(e.message, sizeof e.message, "%s", vkq_last_error());
    return e;
}

vkq_status vkq_error_restore(const vkq_saved_error *e)
{
    return e->status == VKQ_OK ? VKQ_OK : vkq_fail(e->status, "%s", e->message);
}

const char *vkq_status_name(vkq_status s)
{
    switch (s) {
    case VKQ_OK: return "ok";
    case VKQ_ERR_NO_LOADER: return "no Vulkan loader";
    case VKQ_ERR_NO_DEVICE: return "no Vulkan device";
    case VKQ_ERR_VULKAN: return "Vulkan error";
    case VKQ_ERR_OUT_OF_MEMORY: return "out of memory";
    case VKQ_ERR_DEVICE_LOST: return "device lost";
    case VKQ_ERR_VALIDATION: return "validation error";
    case VKQ_ERR_INVALID_ARGUMENT: return "invalid argument";
    case VKQ_ERR_IO: return "I/O error";
    case VKQ_ERR_FORMAT: return "malformed input";
    case VKQ_ERR_UNSUPPORTED: return "unsupported";
    case VKQ_ERR_CHECK_FAILED: return "check failed";
    }
    return "unknown status";
}
