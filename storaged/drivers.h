/* The SR types storaged knows: what each one's SM record says (for sm_list,
 * in the words of XCP's own drivers where XCP has the type), which
 * device_config keys it needs, and whether it is implemented here. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>

struct sd_driver {
    const char *type;
    const char *name_label;
    const char *name_description;
    const char *const *capabilities;  /* NULL-terminated */
    const char *const *configuration; /* key, description, ..., NULL */
    const char *content_type;
    bool implemented; /* false: known type, refused with a clear error */
};

/* The driver for type, or NULL for an unknown type. Static data. */
const struct sd_driver *sd_driver_find(const char *type);
/* True if the driver advertises capability cap. */
bool sd_driver_can(const struct sd_driver *d, const char *cap);
/* The sm_list answer: one SM record per implemented driver (new). */
json_object *sd_drivers_to_json(void);
