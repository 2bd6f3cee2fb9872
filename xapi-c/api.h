/* What a message handler sees: the call being served, its decoded
 * arguments, and where its result goes; and how handlers are registered.
 * Generic messages (getters, setters, get_record, create, ...) are served by
 * generic.c from the data model; each class with custom messages has a file
 * in api/ that registers its handlers at start. A message of the model with
 * no handler answers MESSAGE_NOT_IMPLEMENTED. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "model.h"
#include "out.h"
#include "xv.h"

enum method_kind {
    MK_CUSTOM,
    MK_GET_RECORD,
    MK_GET_BY_UUID,
    MK_GET_BY_NAME_LABEL,
    MK_GET_ALL,
    MK_GET_ALL_RECORDS,
    MK_GET_ALL_RECORDS_WHERE,
    MK_GET_ALL_WHERE,
    MK_CREATE,
    MK_DESTROY,
    MK_GET_FIELD,
    MK_SET_FIELD,
    MK_ADD_TO_MAP,
    MK_REMOVE_FROM_MAP,
    MK_ADD_TO_SET,
    MK_REMOVE_FROM_SET,
};

struct call;
struct changeset;
typedef struct api_error *(*api_handler_fn)(struct call *c);

/* One callable method: a custom message of the model or a generic one. */
struct method {
    char *wire; /* "VM.get_name_label" */
    enum method_kind kind;
    int cls;
    int field;                       /* MK_*_FIELD, map and set ops */
    int msg;                         /* MK_CUSTOM: model message id; else -1 */
    const struct param_desc *params; /* including the session when it takes one */
    int n_params, n_required;
    const struct type *result;
    bool async;
    bool takes_session;
    enum lifecycle state;
    api_handler_fn fn; /* NULL: not implemented */
};

/* A session as the API layer knows it. */
struct session_info {
    char ref[64];
    char *user;
    char *originator;
    bool local_superuser;
    bool is_pool; /* logged in with the pool secret (host to host) */
};

struct call {
    const struct method *m;
    const char *wire_name; /* as called, e.g. "Async.VM.start" */
    /* Canonical text of each declared parameter, session included (args[0]
     * is the session ref when the method takes one). Records for create
     * are in rec. */
    char **args;
    int n_args;
    char **rec;      /* MK_CREATE: canonical value per field of the class */
    bool *rec_given; /* which fields the record named */
    struct session_info session;
    const char *task;        /* the task this call runs under (Async), or NULL */
    struct out *out;         /* where the result goes */
    const char *originator;  /* from the HTTP header, or NULL */
    bool local;              /* arrived on the host's Unix socket */
    const char *client_addr; /* the peer, for logs and auth */
};

/* Registers the handler of a custom message; called from each api/ file's
 * *_register() at start. */
void api_register(enum msg_id msg, api_handler_fn fn);
/* Replaces the generic create or destroy of a class with a handler. */
void api_register_generic(int cls, enum method_kind kind, api_handler_fn fn);

/* Argument accessors for handlers: i is the index in the declared
 * parameter list (0 is the session). */
const char *arg_str(const struct call *c, int i);
int64_t arg_int(const struct call *c, int i);
double arg_float(const struct call *c, int i);
bool arg_bool(const struct call *c, int i);

/* Generic implementations, reusable by custom handlers (message.get_record
 * and the like are the generic ones under a custom name). */
struct api_error *generic_call(struct call *c, enum method_kind kind, int cls, int field);
struct row;
/* Writes the record of row as a struct of every field; the db lock must be
 * held. */
void api_write_record(struct out *o, const struct row *row);
/* Fails HANDLE_INVALID [class, ref] unless ref names an object of cls;
 * otherwise returns its row. The db lock must be held. */
struct api_error *api_lookup(int cls, const char *ref, const struct row **ret_row);
/* A new object reference, "OpaqueRef:<uuid>". */
void api_new_ref(char out[64]);
/* Values for a new object of cls, for changeset_create: every stored field
 * at its default and a new uuid; the new ref goes to ret_ref. */
char **api_new_row(int cls, char ret_ref[64]);
/* Frees the values of a row that was not handed to a changeset (NULL:
 * nothing). */
void api_free_row(int cls, char **vals);
/* Applies cs (db_wrlock held) and frees it: NULL, or INTERNAL_ERROR. */
struct api_error *api_apply(struct changeset *cs);
/* Replaces value i of a row's values with a copy of v. */
void api_set_val(char **vals, int i, const char *v);
/* Copies the fields a create record gave (RW and RO/constructor) into vals. */
void api_rec_to_vals(const struct call *c, char **vals);

/* Marks the server as stopping: calls that wait (event.from, event.next)
 * return at once with what they have, so the server can stop. */
void api_stop(void);
bool api_stopping(void);

/* Builds the method table (model_init must have run); registers every
 * api/ handler. */
void api_init(void);
const struct method *api_find_method(const char *wire);
/* Every synchronous wire name, sorted, for system.listMethods. */
const char *const *api_method_names(size_t *ret_n);
