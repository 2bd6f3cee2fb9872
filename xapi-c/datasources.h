/* Data sources as XCP's rrdd describes them (the data_source records of
 * VM.get_data_sources and host.get_data_sources): a list of readings with
 * their names, units and ranges, written as the API's records, and the
 * error rrdd answers for a source that does not exist. Xenia keeps no
 * archives: each answer is a reading taken now. */
#pragma once

#include <stddef.h>

#include "xapi-c/error.h"
#include "xapi-c/out.h"

struct ds {
    char name[32];
    char description[64];
    const char *units; /* static */
    double min, max, value;
};

struct ds_list {
    struct ds *v;
    size_t n, cap;
};

/* Appends a reading; units must be static. */
void ds_list_add(struct ds_list *l, const char *name, const char *description, const char *units,
                 double min, double max, double value);
void ds_list_done(struct ds_list *l);
/* The reading named name (borrowed), or NULL. */
const struct ds *ds_list_find(const struct ds_list *l, const char *name);
/* Writes the list as a set of data_source records. */
void ds_write_records(struct out *o, const struct ds_list *l);
/* What rrdd answers for a source that is not there. */
struct api_error *ds_unknown(const char *name);
