/* The set of interfaces whose addresses networkd manages, kept in a file
 * (see addrown.h). */
#include "networkd/addrown.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/util.h"
#include "networkd/config.h"

#define ADDR_OWNER_FORMAT "xenia-networkd-addresses"

void addr_owner_load(struct addr_owner *o, const char *path, char **ret_why)
{
    json_object *in = json_object_from_file(path), *ifaces = NULL;

    o->path = xstrdup(path);
    o->map = json_object_new_object();
    if (!in) {
        if (access(path, F_OK) == 0)
            *ret_why = xasprintf("%s: not readable JSON (%s): no address is flushed", path,
                                 json_util_get_last_err());
        return;
    }
    if (!json_object_object_get_ex(in, "interfaces", &ifaces) ||
        !json_object_is_type(ifaces, json_type_object)) {
        *ret_why = xasprintf("%s: no interfaces object: no address is flushed", path);
        json_object_put(in);
        return;
    }
    json_object_object_foreach(ifaces, name, fams)
    {
        json_object *e = json_object_new_object();
        for (int f = 4; f <= 6; f += 2) {
            json_object *v = NULL;
            if (json_object_is_type(fams, json_type_object) &&
                json_object_object_get_ex(fams, f == 4 ? "4" : "6", &v) &&
                json_object_get_boolean(v))
                json_object_object_add(e, f == 4 ? "4" : "6", json_object_new_boolean(true));
        }
        if (cfg_ifname_valid(name) && json_object_object_length(e))
            json_object_object_add(o->map, name, e);
        else
            json_object_put(e);
    }
    json_object_put(in);
}

void addr_owner_done(struct addr_owner *o)
{
    free(o->path);
    json_object_put(o->map);
    o->path = NULL;
    o->map = NULL;
}

bool addr_owner_has(const struct addr_owner *o, const char *iface, int family)
{
    json_object *e = NULL, *v = NULL;
    return json_object_object_get_ex(o->map, iface, &e) &&
           json_object_object_get_ex(e, family == 4 ? "4" : "6", &v) && json_object_get_boolean(v);
}

static int save(struct addr_owner *o, json_object *map)
{
    json_object *doc = json_object_new_object();
    json_object_object_add(doc, "format", json_object_new_string(ADDR_OWNER_FORMAT));
    json_object_object_add(doc, "interfaces", json_object_get(map));
    int r = cfg_save(o->path, doc);
    json_object_put(doc);
    return r;
}

/* Replaces the set by next (taken) once it is on disk. */
static int commit(struct addr_owner *o, json_object *next)
{
    int r = save(o, next);
    if (r < 0) {
        json_object_put(next);
        return r;
    }
    json_object_put(o->map);
    o->map = next;
    return 0;
}

static json_object *copy_map(const struct addr_owner *o)
{
    json_object *c = NULL;
    json_object_deep_copy(o->map, &c, NULL);
    return c;
}

int addr_owner_set(struct addr_owner *o, const char *iface, int family, bool owned)
{
    if (addr_owner_has(o, iface, family) == owned)
        return 0;
    json_object *next = copy_map(o), *e = NULL;
    const char *key = family == 4 ? "4" : "6";
    if (!json_object_object_get_ex(next, iface, &e)) {
        e = json_object_new_object();
        json_object_object_add(next, iface, e);
    }
    if (owned)
        json_object_object_add(e, key, json_object_new_boolean(true));
    else {
        json_object_object_del(e, key);
        if (!json_object_object_length(e))
            json_object_object_del(next, iface);
    }
    return commit(o, next);
}

int addr_owner_prune(struct addr_owner *o, bool (*keep)(const char *iface, void *userdata),
                     void *userdata)
{
    json_object *next = json_object_new_object();
    bool changed = false;
    json_object_object_foreach(o->map, name, e)
    {
        if (keep(name, userdata))
            json_object_object_add(next, name, json_object_get(e));
        else
            changed = true;
    }
    if (!changed) {
        json_object_put(next);
        return 0;
    }
    return commit(o, next);
}
