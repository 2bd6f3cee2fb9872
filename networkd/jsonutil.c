/* json-c helpers of networkd (see jsonutil.h). */
#include "networkd/jsonutil.h"

#include <pthread.h>

static json_object *empty;
static pthread_once_t empty_once = PTHREAD_ONCE_INIT;

static void make_empty(void)
{
    empty = json_object_new_object();
}

json_object *ju_obj(json_object *o)
{
    if (o && json_object_is_type(o, json_type_object))
        return o;
    pthread_once(&empty_once, make_empty);
    return empty;
}

json_object *ju_member(json_object *o, const char *name)
{
    json_object *v = NULL;
    if (o && json_object_is_type(o, json_type_object))
        json_object_object_get_ex(o, name, &v);
    return v;
}

const char *ju_str(json_object *o, const char *name)
{
    json_object *v = ju_member(o, name);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

size_t ju_len(json_object *o)
{
    return o && json_object_is_type(o, json_type_array) ? json_object_array_length(o) : 0;
}
