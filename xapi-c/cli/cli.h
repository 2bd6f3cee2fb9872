/* The xe command line served inside xapi (xe-cli.md): POST /cli takes the
 * connection over, reads the command line from the body, runs the command
 * against the API's own handlers and the database (no HTTP round trip), and
 * drives the thin client with protocol commands (proto.h). This header is
 * the seam between the files of cli/: the per-request context, the output
 * printer, the command table and the helpers commands share. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/strbuf.h"
#include "proto.h"
#include "xapi-c/error.h"
#include "xapi-c/http.h"

/* Serves one POST /cli request: takes over the connection (resp->hijacked)
 * unless the request is refused with a plain HTTP answer. Blocks for the
 * whole command. */
void cli_http(const struct http_request *req, struct http_response *resp);

/* One word of the command line after tokenising: name=value. */
struct cli_arg {
    char *name;
    char *value;
};

/* Splits a /cli request body into the command name (ret_cmd) and its
 * arguments (ret, ret_n), all newly allocated; -1 on a syntax error (no
 * command, a command containing '=', a switch without its value), with
 * nothing allocated. Binary input is safe: a word ends at a NUL. */
int cli_tokenise(const char *body, size_t len, char **ret_cmd, struct cli_arg **ret, size_t *ret_n);
/* Frees what cli_tokenise made. */
void cli_args_free(struct cli_arg *a, size_t n);

struct cli_cmd;

/* What a running command sees. */
struct cli_ctx {
    struct cli_conn *conn;
    struct cli_arg *args; /* in command-line order, connection words removed */
    size_t n_args;
    const struct cli_cmd *cmd;
    bool minimal;
    struct strbuf min; /* --minimal: the items collected so far */
    size_t n_min;
    char session[64]; /* the command's session ("" before login) */
    bool local;       /* arrived on the Unix socket */
    const char *peer;
};

/* ---- arguments ---- */

/* The value of the first argument called name, or NULL. */
const char *cli_arg(const struct cli_ctx *ctx, const char *name);
/* A boolean argument (true t yes y 1 / false f no n 0, any case); def when
 * absent or not a boolean. */
bool cli_arg_bool(const struct cli_ctx *ctx, const char *name, bool def);
/* True if name is one of the parameters stripped from every command. */
bool cli_is_stdparam(const char *name);

/* ---- output (print.c) ---- */

/* A record being built: keys and values in printing order. */
struct cli_record {
    char **keys, **vals;
    size_t n, cap;
};
void cli_record_add(struct cli_record *r, const char *key, const char *val);
void cli_record_done(struct cli_record *r);
/* Prints a record in the aligned layout, or under --minimal collects its
 * first value. */
void cli_print_record(struct cli_ctx *ctx, const struct cli_record *r);
/* A list item: a line of stdout, collected under --minimal. */
void cli_print_item(struct cli_ctx *ctx, const char *text);
/* A message line of stdout, dropped under --minimal. */
void cli_print_message(struct cli_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A line of stderr. */
void cli_print_stderr(struct cli_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prints "Error: <message>" on stderr; returns 1 (the exit status). */
int cli_fail(struct cli_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints a XenAPI error in xe's multi-line form and frees it; returns 1. */
int cli_fail_api(struct cli_ctx *ctx, struct api_error *e);
/* Renders a XenAPI error as xe prints it, into out (lines ending in \n). */
void cli_render_api_error(const struct api_error *e, struct strbuf *out);
/* Sends what --minimal collected as one line. */
void cli_flush_minimal(struct cli_ctx *ctx);

/* ---- API calls (call.c) ---- */

/* Calls an API method by wire name ("VM.clone") as the command's session,
 * on this thread, with arguments in canonical text after the session
 * (n of them; missing optional ones take their defaults). The result, as
 * JSON text, goes to ret_json (newly allocated) when it is not NULL. */
struct api_error *cli_call(struct cli_ctx *ctx, const char *wire, const char *const *args, size_t n,
                           char **ret_json);
/* True if the command line asked for a progress bar (--progress). */
bool cli_wants_progress(const struct cli_ctx *ctx);
/* A long operation (VM.start, VM.clone, VDI.copy, SR.scan ...): as
 * cli_call, but with --progress it runs as a task, as Async.* does, and its
 * progress is drawn on stderr ("\r NN% <spinner> ###") until it ends; the
 * task is destroyed afterwards. Blocks for the whole operation. */
struct api_error *cli_call_long(struct cli_ctx *ctx, const char *wire, const char *const *args,
                                size_t n, char **ret_json);
/* As cli_call, for a method returning a string or a ref: the string goes to
 * ret (newly allocated). */
struct api_error *cli_call_str(struct cli_ctx *ctx, const char *wire, const char *const *args,
                               size_t n, char **ret);
/* As cli_call_long, for a method returning a string or a ref. */
struct api_error *cli_call_long_str(struct cli_ctx *ctx, const char *wire, const char *const *args,
                                    size_t n, char **ret);

/* One field of a record for cli_call_create: its index in the class and
 * its canonical text. */
struct cli_fv {
    int field;
    const char *value;
};
/* Calls <Class>.create with a record of the given fields (the others take
 * their defaults); the new ref goes to ret_ref (newly allocated). */
struct api_error *cli_call_create(struct cli_ctx *ctx, int cls, const struct cli_fv *fv, size_t n,
                                  char **ret_ref);

/* ---- commands ---- */

typedef int (*cli_fn)(struct cli_ctx *ctx);

#define CMD_STANDARD 0x01 /* listed by plain `xe help` */
#define CMD_HIDDEN 0x02   /* never listed */
#define CMD_NO_LOGIN 0x04 /* runs without a session (help) */
#define CMD_VM_SEL 0x08   /* takes VM selectors */
#define CMD_HOST_SEL 0x10 /* takes host selectors */

struct cli_cmd {
    const char *name;
    const char *const *reqd; /* NULL-terminated, or NULL */
    const char *const *opt;
    const char *help;
    unsigned flags;
    cli_fn fn;
    int view; /* generic commands: the class view (records.c), else -1 */
    /* The API message the command runs, if it needs one in particular: a
     * message without a handler answers MESSAGE_NOT_IMPLEMENTED. NULL for
     * commands built on several messages or on the database. */
    const char *message;
};

/* Builds the command table (generic commands of every class view plus the
 * custom ones); called once at start, after api_init(). */
void cli_init(void);
const struct cli_cmd *cli_find(const char *name);
/* Every command, for help and completion. */
const struct cli_cmd *const *cli_commands(size_t *ret_n);
/* `help` (commands.c): the one command that needs no session. */
int cli_cmd_help(struct cli_ctx *ctx);
/* The custom commands (ops.c), NULL-name terminated. */
extern const struct cli_cmd cli_custom_cmds[];
/* The storage commands (storage_ops.c), NULL-name terminated. */
extern const struct cli_cmd cli_storage_cmds[];
/* The network commands (network_ops.c), NULL-name terminated. */
extern const struct cli_cmd cli_network_cmds[];
/* The snapshot commands (snapshot_ops.c), NULL-name terminated. */
extern const struct cli_cmd cli_snapshot_cmds[];
/* vm-export, vm-import, vdi-export, vdi-import (transfer_ops.c). */
extern const struct cli_cmd cli_transfer_cmds[];
/* The diagnostic-* commands and host-get-*-diagnostics (diagnostic*.c). */
extern const struct cli_cmd cli_diagnostic_cmds[];

/* ---- helpers of the custom commands (cmdutil.c, ops.c, storage_ops.c) ---- */

/* The canonical map of every argument <prefix>:<key>=<value>, and with
 * legacy set, <prefix>-<key>=<value> too (newly allocated). */
char *cli_read_map(const struct cli_ctx *ctx, const char *prefix, bool legacy);
/* The ref of the object of class cls that argument name's uuid names
 * (newly allocated); NULL after printing UUID_INVALID. */
char *cli_ref_arg(struct cli_ctx *ctx, int cls, const char *name);
/* Prints the uuid of a new object of class cls (a list item); returns 0. */
int cli_print_new(struct cli_ctx *ctx, int cls, const char *ref);
/* Creates an object of class cls from fv (cli_call_create) and prints its
 * uuid as XCP's *-create commands do; the command's exit code. */
int cli_create_print(struct cli_ctx *ctx, int cls, const struct cli_fv *fv, size_t n);

/* Prints the answer of a get_data_sources message (JSON text of its
 * records) as XCP's *-data-source-list does: one record per source. */
void cli_print_data_sources(struct cli_ctx *ctx, const char *json);
/* The value of enum enum_name that text names, any case (borrowed); NULL
 * after printing XCP's "Expected one of ..." error. */
const char *cli_enum_arg(struct cli_ctx *ctx, const char *enum_name, const char *text);
/* Destroys VMs as XCP's uninstall commands do (xe-cli.md 4.1): each VM
 * with the disks it owns and its suspend image, listed first and confirmed
 * unless --force (vm-uninstall passes the snapshots too). Returns the exit
 * status. */
int cli_uninstall(struct cli_ctx *ctx, char *const *vms, size_t n);
/* vm-disk-list / vm-cd-list of one VM (storage_ops.c): each VBD of the
 * type and its VDI. */
int cli_disk_list(struct cli_ctx *ctx, const char *vm, bool cd);

/* ---- records and selection (records.c) ---- */

/* Appends the generic commands of every class view to the table. */
void cli_records_commands(struct cli_cmd **cmds, size_t *n, size_t *cap);
/* The class view called name ("vm", "template", "host"), or -1. */
int cli_view_by_name(const char *name);
/* Selects the objects of a class view as a selector command does
 * (xe-cli.md 1.4): the shortcut parameter (vm=, host=), then every other
 * argument that is not in ignore (NULL-terminated) is a field filter. With
 * allow_dom0 the VM default filter on the control domain is left out. On
 * success ret_refs holds newly allocated refs (free each and the array);
 * otherwise the error is printed and 1 returned. */
int cli_select(struct cli_ctx *ctx, int view, const char *const *ignore, bool allow_dom0,
               char ***ret_refs, size_t *ret_n);
/* event-wait's check: 1 if an object of the view matches every argument
 * but class= (f=v, or f=/=v for "not v"), 0 if none does, -1 after
 * printing the error for a name that is not a field. */
int cli_event_match(struct cli_ctx *ctx, int view);
/* Parses a size with an optional binary suffix (xe-cli.md 1.1: b, k/kb/kib,
 * m, g, t, any case); 0 or -EINVAL/-ERANGE. */
int cli_parse_size(const char *s, int64_t *ret);
/* Prints the record of object ref as `<view>-list` does, with the columns
 * cols unless params= names others; -ENOENT if it is gone. */
int cli_print_object(struct cli_ctx *ctx, const char *view, const char *ref,
                     const char *const *cols, const char *params);
/* As cli_print_object with the columns cols, but the expensive fields
 * among them are computed (as XCP's diagnostic commands print them)
 * rather than shown as "<expensive field>"; -ENOENT if it is gone. */
int cli_print_fields(struct cli_ctx *ctx, const char *view, const char *ref,
                     const char *const *cols);
/* The uuid of an object (newly allocated), or NULL. */
char *cli_uuid_of(int cls, const char *ref);
/* The ref of the object of class cls with this uuid (newly allocated), or
 * NULL. */
char *cli_ref_of(int cls, const char *uuid);
/* The text of field f of an object (newly allocated canonical text), or
 * NULL. */
char *cli_field_of(int cls, const char *ref, int field);
