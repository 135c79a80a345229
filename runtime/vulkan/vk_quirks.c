/* Driver quirks: features the backend would use but must not on a given
 * vendor/driver. An entry is added when a driver is found to miscompile
 * or mis-execute a feature, with the driver versions affected; the
 * environment variable VKT_VULKAN_DISABLE (comma-separated feature names:
 * "storage16") turns features off in the field without a rebuild. */
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
};

static uint32_t from_environment(void)
{
    const char *list = getenv("VKT_VULKAN_DISABLE");
    uint32_t mask = 0;
    if (!list)
        return 0;
    for (size_t i = 0; i < sizeof feature_names / sizeof feature_names[0]; i++) {
        const char *hit = strstr(list, feature_names[i].name);
        size_t n = strlen(feature_names[i].name);
        if (hit && (hit == list || hit[-1] == ',') && (hit[n] == '\0' || hit[n] == ','))
            mask |= feature_names[i].bit;
    }
    return mask;
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
