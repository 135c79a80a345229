/* Checks shared by every entry point that takes vkt_update_tensor lists. */
#ifndef VKT_UPD_TENSORS_H
#define VKT_UPD_TENSORS_H

#include <stdint.h>

#include <vktrain/update.h>

/* Name (upd_name_valid), rank and dimensions; *numel gets the element
 * count. `what` and `index` name the tensor in the error message. */
vkt_status upd_tensor_check(const vkt_update_tensor *t, const char *what, int index, uint32_t *numel);

/* order[0..count) = 0..count-1 sorted by tensor name (bytewise);
 * VKT_ERR_INVALID_ARG on a duplicate name. */
vkt_status upd_sort_by_name(const vkt_update_tensor *t, int count, int *order);

/* libsodium must be initialised before any of its calls. */
vkt_status upd_sodium_init(void);

#endif
