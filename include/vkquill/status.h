/* Status codes: every fallible vkquill function returns one. */
#ifndef VKQUILL_STATUS_H
#define VKQUILL_STATUS_H

typedef enum vkq_status {
    VKQ_OK = 0,
    VKQ_ERR_NO_LOADER,        /* libvulkan.so.1 could not be loaded */
    VKQ_ERR_NO_DEVICE,        /* no usable Vulkan device */
    VKQ_ERR_VULKAN,           /* a Vulkan call failed */
    VKQ_ERR_OUT_OF_MEMORY,    /* host or device memory exhausted */
    VKQ_ERR_DEVICE_LOST,
    VKQ_ERR_VALIDATION,       /* the validation layer reported a message */
    VKQ_ERR_INVALID_ARGUMENT,
    VKQ_ERR_IO,
    VKQ_ERR_FORMAT,           /* a file or document is malformed */
    VKQ_ERR_UNSUPPORTED,
    VKQ_ERR_CHECK_FAILED      /* a self-test check did not pass */
} vkq_status;

/* The message of the most recent failure on this thread (never NULL). */
const char *vkq_last_error(void);
const char *vkq_status_name(vkq_status s);

#endif
