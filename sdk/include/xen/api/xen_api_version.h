/* The XenAPI versions this SDK knows, oldest first, as XenServer's C SDK
 * numbers them. */
#ifndef XEN_API_VERSION_H
#define XEN_API_VERSION_H

#include <stdint.h>

typedef enum xen_api_version {
    xen_api_version_1_1 = 0,
    xen_api_version_1_2 = 1,
    xen_api_version_1_3 = 2,
    xen_api_version_1_4 = 3,
    xen_api_version_1_5 = 4,
    xen_api_version_1_6 = 5,
    xen_api_version_1_7 = 6,
    xen_api_version_1_8 = 7,
    xen_api_version_1_9 = 8,
    xen_api_version_1_10 = 9,
    xen_api_version_2_0 = 10,
    xen_api_version_2_1 = 11,
    xen_api_version_2_2 = 12,
    xen_api_version_2_3 = 13,
    xen_api_version_2_4 = 14,
    xen_api_version_2_5 = 15,
    xen_api_version_2_6 = 16,
    xen_api_version_2_7 = 17,
    xen_api_version_2_8 = 18,
    xen_api_version_2_9 = 19,
    xen_api_version_2_10 = 20,
    xen_api_version_2_11 = 21,
    xen_api_version_2_12 = 22,
    xen_api_version_2_13 = 23,
    xen_api_version_2_14 = 24,
    xen_api_version_2_15 = 25,
    xen_api_version_2_20 = 26,
    xen_api_version_2_21 = 27,
    xen_api_version_2_23 = 28,
    xen_api_latest_version = 28,
    xen_api_unknown_version = 99,
} xen_api_version;

/* "2.21"; "Unknown" for a value not above. The string is static. */
extern const char *xen_api_version_to_string(xen_api_version version);
/* The version with these numbers, or xen_api_unknown_version. */
extern xen_api_version xen_api_version_from_int(int64_t major_version, int64_t minor_version);

#endif
