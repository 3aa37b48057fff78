#include "vk/cpu_vectors.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vk/context.h"

#define WIDTH_VARIABLE "LP_NATIVE_VECTOR_WIDTH"

/* The newest Mesa whose lavapipe ran the cpu kernels faster at 512 bits than at its default
 * 256 on an AVX-512 CPU (22.3; on 25.0 the matrix product ran 4 times slower at 512 bits). */
enum { NEWEST_MESA_FASTER_AT_512 = 22 };
enum { PROBE_TIMEOUT_MS = 20000 };

typedef enum vector_choice {
    CHOSEN_BY_USER,
    CHOSEN_FOR_AVX512,
    LEFT_FOR_MESA,
    LEFT_UNKNOWN_MESA,
    LEFT_TO_DRIVER
} vector_choice;

static vector_choice choice = LEFT_TO_DRIVER;
static int lavapipe_mesa;

static int cpu_has_avx512(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

static int mesa_major_of(VkPhysicalDevice pd)
{
    VkPhysicalDeviceProperties p;
    vkGetPhysicalDeviceProperties(pd, &p);
    VkPhysicalDeviceDriverProperties drv;
    int major = 0;
    if (p.apiVersion < VK_API_VERSION_1_1 || !vkq_driver_properties(pd, p.apiVersion, &drv) ||
        drv.driverID != VK_DRIVER_ID_MESA_LLVMPIPE ||
        sscanf(drv.driverInfo, "Mesa %d", &major) != 1 || major < 0 || major > 255)
        return 0;
    return major;
}

/* The Mesa major version of the first lavapipe device, or 0 where there is none. */
static int find_lavapipe_mesa(void)
{
    if (vkq_open_vulkan() != VKQ_OK)
        return 0;
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
                             .apiVersion = VK_API_VERSION_1_2};
    VkInstanceCreateInfo info = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
                                 .pApplicationInfo = &app};
    VkInstance instance;
    if (vkCreateInstance(&info, NULL, &instance) != VK_SUCCESS)
        return 0;
    vkq_load_instance(instance);
    VkPhysicalDevice devices[16];
    uint32_t count = 16;
    int major = 0;
    if (vkEnumeratePhysicalDevices(instance, &count, devices) >= 0)
        for (uint32_t i = 0; i < count && !major; i++)
            major = mesa_major_of(devices[i]);
    vkDestroyInstance(instance, NULL);
    return major;
}

/* find_lavapipe_mesa, run in a child process: llvmpipe reads the width once, when it first
 * starts in a process, so this one must not start it before the choice is made. */
static int probe_lavapipe_mesa(void)
{
    int fds[2];
    if (pipe(fds) != 0)
        return 0;
    fflush(stdout);
    fflush(stderr);
    pid_t child = fork();
    if (child == 0) {
        close(fds[0]);
        unsigned char major = (unsigned char)find_lavapipe_mesa();
        _exit(write(fds[1], &major, 1) == 1 ? 0 : 1);
    }
    close(fds[1]);
    unsigned char major = 0;
    if (child > 0) {
        /* a child that hangs (a fork taken while another thread held a lock) is given up on */
        struct pollfd ready = {.fd = fds[0], .events = POLLIN};
        if (poll(&ready, 1, PROBE_TIMEOUT_MS) != 1 || read(fds[0], &major, 1) != 1) {
            major = 0;
            kill(child, SIGKILL);
        }
        waitpid(child, NULL, 0);
    }
    close(fds[0]);
    return major;
}

void vkq_choose_cpu_vectors(void)
{
    const char *set = getenv(WIDTH_VARIABLE);
    if (set && *set) {
        choice = CHOSEN_BY_USER;
        return;
    }
    if (!cpu_has_avx512())
        return;
    lavapipe_mesa = probe_lavapipe_mesa();
    choice = lavapipe_mesa ? LEFT_FOR_MESA : LEFT_UNKNOWN_MESA;
    int faster = lavapipe_mesa && lavapipe_mesa <= NEWEST_MESA_FASTER_AT_512;
    if (faster && setenv(WIDTH_VARIABLE, "512", 1) == 0)
        choice = CHOSEN_FOR_AVX512;
}

void vkq_cpu_vectors_reason(char *out, size_t size)
{
    switch (choice) {
    case CHOSEN_BY_USER:
        snprintf(out, size, "%.16s bits, as " WIDTH_VARIABLE " asks", getenv(WIDTH_VARIABLE));
        return;
    case CHOSEN_FOR_AVX512:
        snprintf(out, size,
                 "512 bits, chosen because the CPU has AVX-512 and lavapipe is Mesa %d ("
                 WIDTH_VARIABLE "=256 keeps lavapipe's default)",
                 lavapipe_mesa);
        return;
    case LEFT_FOR_MESA:
        snprintf(out, size,
                 "lavapipe's default: the CPU has AVX-512, but 512 bits ran slower on Mesa newer "
                 "than %d and this is Mesa %d (" WIDTH_VARIABLE "=512 asks for it)",
                 NEWEST_MESA_FASTER_AT_512, lavapipe_mesa);
        return;
    case LEFT_UNKNOWN_MESA:
        snprintf(out, size,
                 "lavapipe's default: the CPU has AVX-512, but lavapipe's Mesa version could "
                 "not be told before it started (" WIDTH_VARIABLE "=512 asks for 512 bits)");
        return;
    case LEFT_TO_DRIVER:
        snprintf(out, size, "lavapipe's default, as the CPU has no AVX-512 (" WIDTH_VARIABLE
                            "=512 asks for 512 bits)");
        return;
    }
}
