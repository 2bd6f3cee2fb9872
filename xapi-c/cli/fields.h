/* The per-class field tables of the xe CLI (xe-cli.md section 6) as data:
 * for each class view, the fields `<class>-list`, `-param-list` and
 * `-param-get` show, in XCP's order, with XCP's names, their getter (a
 * field of the record, the name of the object a reference names, a field of
 * a linked object such as VM_metrics, an API message, or a small function),
 * the key annotation and the hidden/expensive/deprecated flags. records.c
 * reads these tables; classes without one get a table derived from the data
 * model at start. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "lib/strbuf.h"
#include "xapi-c/db.h"
#include "xapi-c/model.h"

enum cf_get {
    CG_FIELD, /* the row's own field, rendered by its type */
    CG_NAME,  /* the name-label of the object the ref field names */
    CG_VIA,   /* field tfield of the tcls object the ref field names */
    CG_CALL,  /* an API message on the object (expensive fields) */
    CG_FN,    /* a function of the row */
};

enum cf_tag { TAG_RO, TAG_RW, TAG_SRO, TAG_SRW, TAG_MRO, TAG_MRW };

#define CF_HID 0x001     /* never printed; param-get only */
#define CF_EXP 0x002     /* "<expensive field>" in *-list */
#define CF_DEP 0x004     /* " [DEPRECATED]" after the key */
#define CF_COMMA 0x008   /* a set joined with ", " (legacy fields) */
#define CF_VALUES 0x010  /* a map shown by its values only (current-operations) */
#define CF_QUOTE 0x020   /* the value between single quotes */
#define CF_REFTEXT 0x040 /* a string set of refs, each shown as its uuid */
#define CF_NOTSET 0x080  /* an empty string shows "<not set>" */
#define CF_KIB 0x100     /* a float result divided by 1024 */
#define CF_NOOBJ 0x200   /* the message takes no object */
#define CF_INT 0x400     /* a float result shown as an integer */
#define CF_ALL 0x800     /* FROM_HOSTS: true only if every host's is */
#define CF_PERCPU 0x1000 /* the message once per VCPU, "%d" in arg its number */

struct cli_field_def;
/* A CG_FN getter: renders the field of row r into out. The db read lock is
 * held. */
typedef void (*cf_fn)(const struct cli_field_def *d, const struct row *r, struct strbuf *out);

struct cli_field_def {
    const char *name;
    enum cf_get get;
    int field;        /* in the view's class: the field, or the ref field; -1 if none */
    int tcls, tfield; /* CG_VIA, CG_FN from hosts: the other class and its field */
    const char *none; /* CG_VIA: text when the object is missing; CG_CALL: on error */
    int msg;          /* CG_CALL: the message */
    const char *arg;  /* CG_CALL: a string argument, "%s" replaced by field argfield */
    int argfield;
    int set_msg; /* the setter of a derived RW field, or -1 */
    cf_fn fn;
    enum cf_tag tag;
    unsigned flags;
};

struct cli_field_table {
    int cls;
    const struct cli_field_def *defs;
    size_t n;
};

/* Renders a canonical value of type t as xe shows it (flags: CF_COMMA,
 * CF_VALUES, CF_QUOTE, CF_REFTEXT, CF_NOTSET) into out. The db read lock
 * must be held (references are shown as uuids). */
void cli_render(const struct type *t, const char *canon, unsigned flags, struct strbuf *out);

/* The table of the CLI class view called name ("vm" serves template and
 * snapshot too), or NULL when the view's fields derive from the model. */
const struct cli_field_table *cli_field_table(const char *view);

/* The CLI text of an enum value (xe's spelling: "halted", "Destroy",
 * "User"), borrowed; the value itself when xe shows it as is. */
const char *cli_enum_show(const struct enum_desc *en, const char *value);
/* The enum value a user's text names (either spelling, any case), or NULL. */
const char *cli_enum_parse(const struct enum_desc *en, const char *text);
