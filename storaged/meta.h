/* The SR's own metadata, kept on its media as one JSON file
 * (<root>/.xenia-sr.json): the SR's uuid, type and names, every VDI with its
 * names, sizes, place in the snapshot chain and flags, and the journal of
 * the one chain operation in progress, if any. The file is the truth about
 * the SR: storaged keeps no other record of what the media hold, so a fresh
 * storaged (or another host) reads everything back from it. Writes are
 * atomic (temporary file, fsync, rename, fsync of the folder).
 *
 * Encoding and decoding are pure; sr_meta_load and sr_meta_save do the
 * file I/O and block on the disk. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/hashmap.h"
#include "lib/util.h"

#define SR_META_FILE ".xenia-sr.json"
#define SR_META_FORMAT "xenia-sr/1"

struct vdi_meta {
    char uuid[UUID_STR_LEN];
    char *name_label;
    char *name_description;
    int64_t virtual_size;
    char parent[UUID_STR_LEN]; /* "" for none */
    bool is_a_snapshot;
    char snapshot_of[UUID_STR_LEN]; /* "" for none */
    char snapshot_time[DATETIME_LEN];
    bool sharable;
    bool read_only;
    bool managed;   /* false for hidden chain nodes ("base copy") */
    char *file;     /* the image's file name, relative to the SR's root */
    char format[8]; /* "qcow2", "raw" or "iso" */
};

/* The chain operation under way, written before it touches a file and
 * dropped by the write that commits it, so that whoever loads the SR next
 * can undo or finish it (storaged/recover.c). op is "" when there is none. */
struct sr_journal {
    char op[16];                /* "snapshot", "clone", "delete", "coalesce" */
    char vdi[UUID_STR_LEN];     /* the VDI operated on */
    char base[UUID_STR_LEN];    /* snapshot/clone: the new hidden base; coalesce: the parent */
    char created[UUID_STR_LEN]; /* snapshot/clone: the new VDI */
};

struct sr_meta {
    char uuid[UUID_STR_LEN];
    char type[16];
    char *name_label;
    char *name_description;
    char *content_type;
    bool shared;
    struct vdi_meta *vdis;
    size_t n_vdis;
    size_t cap_vdis;
    /* uuid -> position in vdis + 1, so that finding a VDI is O(1) and a
     * scan of n VDIs O(n). Kept by sr_meta_add and sr_meta_remove, which are
     * the only ways to change vdis; keys point into vdis. */
    struct hashmap index;
    struct sr_journal journal;
};

/* Sets m up empty (names "", content_type "user"). */
void sr_meta_init(struct sr_meta *m);
/* Frees what m holds; m may be initialised again. */
void sr_meta_done(struct sr_meta *m);

/* Parses text into *ret (which the caller then owns and sr_meta_done's).
 * Returns 0, or -EBADMSG with a message for the caller in *ret_err (may be
 * NULL) when text is not a valid metadata document: bad JSON, a missing or
 * mistyped field, a bad uuid, a repeated VDI, a parent that is not in the
 * SR, a chain with a cycle, or a file name with a '/'. */
int sr_meta_from_json(const char *text, struct sr_meta *ret, char **ret_err);
/* The document for m: a new string for the caller. */
char *sr_meta_to_json(const struct sr_meta *m);

/* Reads <root>/.xenia-sr.json. Returns 0, -ENOENT when there is none,
 * -EBADMSG (and a message in *ret_err) when it is unreadable, or another
 * negative errno. */
int sr_meta_load(const char *root, struct sr_meta *ret, char **ret_err);
/* Writes m to <root>/.xenia-sr.json atomically. 0 or a negative errno. */
int sr_meta_save(const char *root, const struct sr_meta *m);
/* sr_meta_save in two halves, so that other files written meanwhile share
 * the disk's flush: begin writes m to <root>/.xenia-sr.json.tmp (nothing
 * is durable, the document in place is unchanged); end fsyncs it, renames
 * it over the document and fsyncs the folder. Each returns 0 or a
 * negative errno (and then removes the temporary file). */
int sr_meta_save_begin(const char *root, const struct sr_meta *m);
int sr_meta_save_end(const char *root);

/* The VDI with that uuid (borrowed, valid until m changes), or NULL. O(1). */
struct vdi_meta *sr_meta_find(const struct sr_meta *m, const char *uuid);
/* Appends a VDI with uuid, empty names and defaults, and returns it
 * (borrowed, valid until m changes). The caller checks the uuid is new. */
struct vdi_meta *sr_meta_add(struct sr_meta *m, const char *uuid);
/* Removes the VDI with that uuid, keeping the others' order; no-op if
 * absent. O(n). */
void sr_meta_remove(struct sr_meta *m, const char *uuid);
/* Frees what v holds. */
void vdi_meta_done(struct vdi_meta *v);

/* Sets *s to a copy of value, freeing the old string. */
void meta_set_str(char **s, const char *value);

/* True if name can be the file of a VDI: not empty, no '/', not "." or "..",
 * not hidden (leading '.'), not a temporary (".tmp" ending). */
bool meta_file_name_ok(const char *name);
