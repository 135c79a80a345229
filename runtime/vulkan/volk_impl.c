/* volk's implementation, compiled once into the library (Debian ships it
 * as a header-only source in libvulkan-volk-dev). */
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wunused-parameter"
#endif
#include <volk.c>
