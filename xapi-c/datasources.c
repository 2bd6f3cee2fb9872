/* Data source readings and their records (see datasources.h). */
#include "datasources.h"

#include <stdio.h>
#include <stdlib.h>

#include "lib/util.h"

void ds_list_add(struct ds_list *l, const char *name, const char *description, const char *units,
                 double min, double max, double value)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    struct ds *d = &l->v[l->n++];
    snprintf(d->name, sizeof(d->name), "%s", name);
    snprintf(d->description, sizeof(d->description), "%s", description);
    d->units = units;
    d->min = min;
    d->max = max;
    d->value = value;
}

void ds_list_done(struct ds_list *l)
{
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

const struct ds *ds_list_find(const struct ds_list *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (streq(l->v[i].name, name))
            return &l->v[i];
    return NULL;
}

void ds_write_records(struct out *o, const struct ds_list *l)
{
    out_array_begin(o);
    for (size_t i = 0; i < l->n; i++) {
        const struct ds *d = &l->v[i];
        out_struct_begin(o);
        out_member(o, "name_label");
        out_string(o, d->name);
        out_member(o, "name_description");
        out_string(o, d->description);
        out_member(o, "enabled");
        out_bool(o, true);
        out_member(o, "standard");
        out_bool(o, true);
        out_member(o, "units");
        out_string(o, d->units);
        out_member(o, "min");
        out_double(o, d->min);
        out_member(o, "max");
        out_double(o, d->max);
        out_member(o, "value");
        out_double(o, d->value);
        out_struct_end(o);
    }
    out_array_end(o);
}

struct api_error *ds_unknown(const char *name)
{
    return api_failf(INTERNAL_ERROR, "Rrd.Invalid_data_source(\"%s\")", name);
}
