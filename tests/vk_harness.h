/* Kernel-level CPU-vs-Vulkan parity: run one launch on both backends with
 * identical argument contents and compare every argument afterwards.
 * The Vulkan backend runs with the Khronos validation layer; any message
 * fails the comparison. Arguments are placed at unaligned offsets inside
 * their buffers, so the argument-offset table is exercised too. */
#ifndef VKT_VK_HARNESS_H
#define VKT_VK_HARNESS_H

#include <stdbool.h>
#include <stddef.h>

#include "runtime/backend.h"

typedef struct vkh_arg {
    size_t count;      /* elements (4 bytes each); 0: argument absent */
    bool is_int;       /* compare bit-exactly as int32 */
    const void *init;  /* initial contents (count elements); NULL: zeros */
} vkh_arg;

/* The shared Vulkan backend (validation on), created on first use;
 * NULL (with a message printed) when no Vulkan device exists. */
rt_backend *vkh_vulkan(void);
rt_backend *vkh_cpu(void);

/* Returns the worst |vk - cpu| / (atol + rtol |cpu|) over every float
 * argument (ints must match exactly, else INFINITY), printing the first
 * mismatches under `label`. */
double vkh_compare(rt_kernel k, const rt_params *p, int nargs, const vkh_arg *args, double rtol, double atol,
                   const char *label);

/* As vkh_compare, with arguments bound in place: shares[a] = k + 1 makes
 * argument a the very view of argument k < a (its count and init are
 * k's); 0 gives it its own buffer. */
double vkh_compare_shared(rt_kernel k, const rt_params *p, int nargs, const vkh_arg *args, const int *shares,
                          double rtol, double atol, const char *label);

/* Fails the current cmocka test if the validation layer said anything. */
void vkh_assert_no_validation_messages(void);

/* Random floats in [lo, hi) (caller frees) and ints in [0, bound). */
float *vkh_rand(size_t n, unsigned seed, float lo, float hi);
int *vkh_rand_int(size_t n, unsigned seed, int bound);

#endif
