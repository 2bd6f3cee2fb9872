/* Small json-c helpers networkd's files share: reading members of what
 * may not be an object, and iterating over what may be NULL. */
#pragma once

#include <json-c/json.h>
#include <stddef.h>

/* o itself if it is a JSON object, else an empty object that lives as long
 * as the process (never modify it): json_object_object_foreach crashes on
 * NULL, and a missing section must simply have no entries. */
json_object *ju_obj(json_object *o);
/* The member name of o (borrowed), or NULL if o is not an object or has
 * no such member. */
json_object *ju_member(json_object *o, const char *name);
/* The string of member name (borrowed), or NULL. */
const char *ju_str(json_object *o, const char *name);
/* The length of o if it is an array, else 0 (json-c asserts otherwise). */
size_t ju_len(json_object *o);
