/* What sdk-check.c and the accessor checks that sdkgen writes for it
 * (gen_check.c) share: counting and printing results. */
#pragma once

#include <stdbool.h>

#include <xen/api/xen_common.h>

#include "xen_internal.h"

typedef bool (*check_get_fn)(xen_session *s, void *result, void *self);
typedef bool (*check_set_fn)(xen_session *s, void *self, char *value);
typedef bool (*check_add_fn)(xen_session *s, void *self, char *key, char *value);
typedef bool (*check_remove_fn)(xen_session *s, void *self, char *key);

/* Each returns the number of failures it found (0 or 1) and prints one
 * line: "ok <what>" or "FAIL <what>: <why>". */
void check_passed(const char *what);
int check_failed(xen_session *s, const char *what);
int check_setter_failed(xen_session *s, const char *what);
/* A call to a removed message: it must have failed with MESSAGE_REMOVED. */
int check_removed(xen_session *s, const char *what, bool ok);
int check_same(const char *what, const struct xen_type *ta, const void *a,
               const struct xen_type *tb, const void *b);
int check_set_string(xen_session *s, const char *what, check_set_fn set, check_get_fn get,
                     void *self, const char *old);
int check_map(xen_session *s, const char *what, check_add_fn add, check_remove_fn remove,
              check_get_fn get, void *self);
int check_set(xen_session *s, const char *what, check_remove_fn add, check_remove_fn remove,
              check_get_fn get, void *self);

struct xen_vm_record;
struct xen_host_record;
struct xen_pool_record;
struct xen_network_record;
int check_accessors_vm(xen_session *s, void *self, const struct xen_vm_record *rec);
int check_accessors_host(xen_session *s, void *self, const struct xen_host_record *rec);
int check_accessors_pool(xen_session *s, void *self, const struct xen_pool_record *rec);
int check_accessors_network(xen_session *s, void *self, const struct xen_network_record *rec);
