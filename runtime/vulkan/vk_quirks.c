/* Driver quirks: features the backend would use but must not on a given
 * vendor/driver. An entry is added when a driver is found to miscompile
 * or mis-execute a feature, with the driver versions affected; the
 * environment variable VKT_VULKAN_DISABLE (comma-separated feature names:
 * "storage16", "subgroup") turns features off in the field without a
 * rebuild. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_backend.h"

typedef struct vk_quirk {
    uint32_t vendor_id;          /* 0: any vendor */
    VkDriverId driver_id;        /* 0: any driver of the vendor */
    uint32_t below_version;      /* driverVersion below this is affected; 0: all */
    uint32_t disable;            /* VK_FEATURE_* */
    const char *why;
} vk_quirk;

/* No driver is known bad for the features used so far. */
static const vk_quirk quirks[] = {
    {0, 0, 0, 0, NULL},
};

static const struct {
    const char *name;
    uint32_t bit;
} feature_names[] = {
    {"storage16", VK_FEATURE_STORAGE16},
    {"subgroup", VK_FEATURE_SUBGROUP},
};

#define FEATURE_COUNT (sizeof feature_names / sizeof feature_names[0])

/* The features named in the comma-separated list; unknown names are
 * ignored. */
static uint32_t from_environment(void)
{
    const char *list = getenv("VKT_VULKAN_DISABLE");
    uint32_t mask = 0;
    while (list && *list) {
        size_t n = strcspn(list, ",");
        for (size_t i = 0; i < FEATURE_COUNT; i++)
            if (strlen(feature_names[i].name) == n && strncmp(list, feature_names[i].name, n) == 0)
                mask |= feature_names[i].bit;
        list += n + (list[n] == ',');
    }
    return mask;
}

void vk_feature_names(uint32_t mask, char *out, size_t n)
{
    size_t used = 0;
    if (n)
        out[0] = '\0';
    for (size_t i = 0; i < FEATURE_COUNT && used < n; i++)
        if (mask & feature_names[i].bit) {
            int w = snprintf(out + used, n - used, "%s%s", used ? " " : "", feature_names[i].name);
            used += w > 0 ? (size_t)w : 0;
        }
}

uint32_t vk_quirks_disabled(const VkPhysicalDeviceProperties *props, VkDriverId driver, const char **why)
{
    *why = NULL;
    uint32_t mask = from_environment();
    if (mask)
        *why = "VKT_VULKAN_DISABLE";
    for (size_t i = 0; i < sizeof quirks / sizeof quirks[0]; i++) {
        const vk_quirk *q = &quirks[i];
        if (!q->disable || (q->vendor_id && q->vendor_id != props->vendorID) ||
            (q->driver_id && q->driver_id != driver) ||
            (q->below_version && props->driverVersion >= q->below_version))
            continue;
        mask |= q->disable;
        *why = q->why;
    }
    return mask;
}
