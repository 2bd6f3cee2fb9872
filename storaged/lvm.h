/* The pure half of the lvm driver: how an lvm SR lays itself out on a
 * block device with lvm2, the command lines storaged runs for each
 * operation, and the parsing of what lvm2's report tools print with
 * --reportformat json. The layout, in XCP's names where XCP has them:
 *  - the device is one PV holding the VG "VG_XenStorage-<sr_uuid>";
 *  - the LV "MGT" (64 MiB) holds an ext4 file system with the SR's
 *    metadata file (storaged/meta.h), the same document as other SRs;
 *  - the thin pool "xenia-pool" takes the rest of the VG;
 *  - each VDI is a thin LV "LV-<vdi_uuid>" in the pool, a raw image QEMU
 *    reads as a block device; a snapshot or clone is a thin snapshot of
 *    it (lvcreate -s), which shares the pool's blocks with its origin but
 *    depends on no other LV, so lvm VDIs form no chains to merge.
 * Nothing here runs a tool or touches a disk: storaged/lvmsr.c runs the
 * commands, and the QEMU system tests exercise it (the unit and
 * integration tests run where there is no device-mapper). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/util.h"
#include "storaged/meta.h"

#define LVM_VG_PREFIX "VG_XenStorage-"
#define LVM_LV_PREFIX "LV-"
#define LVM_MGT_LV "MGT"
#define LVM_POOL_LV "xenia-pool"
#define LVM_MGT_SIZE "64m"
/* The tag of every VDI LV storaged made or took in: recovery removes only
 * LVs that bear it, so an LV someone made by hand for vdi_introduce is
 * never taken for the leftover of an interrupted operation. */
#define LVM_TAG "xenia-vdi"

/* "VG_XenStorage-<sr_uuid>": a new string. */
char *lvm_vg_name(const char *sr_uuid);
/* The SR uuid a VG name stands for, in out; false for other VGs. */
bool lvm_vg_uuid(const char *vg_name, char out[UUID_STR_LEN]);
/* "LV-<vdi_uuid>": a new string. */
char *lvm_lv_name(const char *vdi_uuid);
/* The VDI uuid an LV name stands for, in out; false for LVs that are not
 * VDIs (MGT, the pool, its hidden parts, anything else). */
bool lvm_lv_uuid(const char *lv_name, char out[UUID_STR_LEN]);
/* /dev/<vg>/<lv>, the block device of an active LV: a new string. */
char *lvm_lv_path(const char *vg, const char *lv);

/* A command line: argv[0..n-1] are new strings, argv[n] is NULL. */
struct lvm_cmd {
    char *argv[24];
    size_t n;
};
/* Frees what cmd holds. */
void lvm_cmd_done(struct lvm_cmd *cmd);

enum lvm_op {
    LVM_PVCREATE,    /* dev */
    LVM_VGCREATE,    /* vg, dev */
    LVM_MGT_CREATE,  /* vg */
    LVM_POOL_CREATE, /* vg */
    LVM_THIN_CREATE, /* vg, lv, size */
    LVM_SNAPSHOT,    /* vg, lv (origin), new_lv */
    LVM_EXTEND,      /* vg, lv, size */
    LVM_REMOVE,      /* vg, lv */
    LVM_ACTIVATE,    /* vg, lv (NULL: the whole VG) */
    LVM_DEACTIVATE,  /* vg, lv (NULL: the whole VG) */
    LVM_VGREMOVE,    /* vg */
    LVM_PVREMOVE,    /* dev */
    LVM_REPORT_LVS,  /* vg */
    LVM_REPORT_VGS,  /* vg */
    LVM_REPORT_PVS,  /* dev */
    LVM_ADDTAG,      /* vg, lv: adds LVM_TAG */
};

struct lvm_args {
    const char *dev;
    const char *vg;
    const char *lv;
    const char *new_lv;
    int64_t size; /* bytes */
    /* The SR's device: lvm scans no other (--devices), which spares it a
     * scan of every block device of the host at each call. NULL: lvm
     * looks at every device. */
    const char *devices;
};

/* The command line for op with args (see enum lvm_op for which it uses).
 * Returns 0, or -EINVAL if an argument op needs is missing or a size is
 * not positive. Names go in as separate arguments, never through a
 * shell. */
int lvm_cmd_build(enum lvm_op op, const struct lvm_args *args, struct lvm_cmd *ret);

struct lvm_lv {
    char *name;
    int64_t size;        /* bytes */
    char attr[16];       /* lv_attr, e.g. "Vwi-a-tz--" */
    char *pool;          /* pool_lv, "" when none */
    char *origin;        /* origin, "" when none */
    double data_percent; /* of the LV's size in use; -1 when lvm gives none */
    bool tagged;         /* lv_tags holds LVM_TAG */
};

struct lvm_vg {
    char *name;
    int64_t size; /* bytes */
    int64_t free; /* bytes */
};

/* Frees an array of n LVs from lvm_parse_lvs; NULL is fine. */
void lvm_lvs_free(struct lvm_lv *lvs, size_t n);
/* Frees what vg holds. */
void lvm_vg_done(struct lvm_vg *vg);

/* Parses the output of the LVM_REPORT_LVS command: *ret (a new array of
 * *ret_n) for the caller. Returns 0, or -EBADMSG with a message in
 * *ret_why (may be NULL) when text is not such a report: bad JSON, no
 * "report"/"lv" arrays, a missing field, or a size that is not a byte
 * count. lv_tags may be absent (no tags). */
int lvm_parse_lvs(const char *text, struct lvm_lv **ret, size_t *ret_n, char **ret_why);
/* Parses the output of LVM_REPORT_VGS for one VG into *ret, as above;
 * -ENOENT when the report lists no VG. */
int lvm_parse_vgs(const char *text, struct lvm_vg *ret, char **ret_why);

/* Parses the output of LVM_REPORT_PVS for one device: *ret_vg is the
 * name of the VG the PV belongs to ("" when it is in none), a new
 * string. Returns 0, -ENOENT when the report lists no PV, or -EBADMSG
 * (message in *ret_why, may be NULL) when text is not such a report. */
int lvm_parse_pvs(const char *text, char **ret_vg, char **ret_why);

/* The bytes a thin LV uses in its pool (size × data_percent), which is a
 * VDI's physical_utilisation; 0 when lvm gives no percentage. */
int64_t lvm_lv_used(const struct lvm_lv *lv);
/* True if lv_attr says the LV is active (its fifth character is 'a'). */
bool lvm_lv_active(const struct lvm_lv *lv);

/* Where an SR's space goes, from its VG and LV reports: the bytes of the
 * VG outside the pool (MGT, the pool's metadata) plus the pool's data in
 * use, which is the SR's physical_utilisation. */
int64_t lvm_sr_used(const struct lvm_vg *vg, const struct lvm_lv *lvs, size_t n);

/* The bytes of the thin pool's data not in use yet (what a new thin LV
 * can fill), from an LV report; -1 when the report has no pool. */
int64_t lvm_pool_free(const struct lvm_lv *lvs, size_t n);

/* The LV named name among lvs (borrowed), or NULL. */
const struct lvm_lv *lvm_find_lv(const struct lvm_lv *lvs, size_t n, const char *name);

/* What recovery of an lvm SR does, decided from its metadata and the LVs
 * lvs lists, with no journal: the metadata is the commit point of every
 * operation (a create or snapshot makes its LV first and commits after; a
 * delete commits first and removes its LV after), so
 *  - orphans: the VDI LVs ("LV-<uuid>") that bear LVM_TAG and that no VDI
 *    of m names, left by an operation interrupted before its commit or a
 *    delete after it: they are removed;
 *  - foreign: the LVs named like VDIs that no VDI of m names and that do
 *    not bear the tag: made by someone else (for vdi_introduce), left
 *    alone;
 *  - missing: the VDIs of m whose LV is gone: they are forgotten, as
 *    XCP's scan forgets them;
 *  - resized: the VDIs of m whose LV has another size than the metadata
 *    says (a resize interrupted after lvextend): their size is the LV's.
 * Each list is a new array of uuids; lvm_plan_done frees them. Pure. */
struct lvm_plan {
    char (*orphans)[UUID_STR_LEN];
    size_t n_orphans;
    char (*foreign)[UUID_STR_LEN];
    size_t n_foreign;
    char (*missing)[UUID_STR_LEN];
    size_t n_missing;
    char (*resized)[UUID_STR_LEN];
    int64_t *sizes; /* the LV's size for each of resized */
    size_t n_resized;
};
void lvm_plan_recover(const struct sr_meta *m, const struct lvm_lv *lvs, size_t n,
                      struct lvm_plan *ret);
void lvm_plan_done(struct lvm_plan *p);
