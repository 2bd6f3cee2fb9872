/* The SDK against a live host: the generic accessors of VM, host, pool and
 * network (get_all, get_record, get_by_uuid, get_by_name_label,
 * get_all_records, every getter, every setter of an RW field, map and set
 * updates), VM.start and clean_shutdown on the sim backend, an Async call
 * followed through its task, and errors reported on the session.
 *
 *   sdk-check <url> <password> <not-implemented message of VM, or "-">
 *
 * Prints one line per check and a summary; exits 1 if any check failed.
 * tests/integration/test_sdk.py runs it. */
#include "sdk-check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <xen/api/xen_all.h>

#include "curl-transport.h"

static int passed, failed;

void check_passed(const char *what)
{
    printf("ok %s\n", what);
    passed++;
}

static int fail(const char *what, const char *why)
{
    printf("FAIL %s: %s\n", what, why);
    failed++;
    return 1;
}

static void errors_text(const xen_session *s, char *buf, size_t size)
{
    buf[0] = '\0';
    for (int i = 0; i < s->error_description_count; i++) {
        size_t n = strlen(buf);
        snprintf(buf + n, size - n, "%s%s", i ? " " : "", s->error_description[i]);
    }
}

int check_failed(xen_session *s, const char *what)
{
    char buf[1024];
    errors_text(s, buf, sizeof(buf));
    xen_session_clear_error(s);
    return fail(what, buf);
}

int check_setter_failed(xen_session *s, const char *what)
{
    return check_failed(s, what);
}

int check_removed(xen_session *s, const char *what, bool ok)
{
    if (ok || s->error_description_count < 1 ||
        strcmp(s->error_description[0], "MESSAGE_REMOVED") != 0)
        return ok ? fail(what, "a removed message succeeded") : check_failed(s, what);
    xen_session_clear_error(s);
    check_passed(what);
    return 0;
}

int check_same(const char *what, const struct xen_type *ta, const void *a,
               const struct xen_type *tb, const void *b)
{
    char *x = xen_value_xml_(ta, a), *y = xen_value_xml_(tb, b);
    int r = 0;
    if (!x || !y || strcmp(x, y) != 0) {
        char buf[2048];
        snprintf(buf, sizeof(buf), "getter %.900s, record %.900s", x ? x : "?", y ? y : "?");
        r = fail(what, buf);
    } else {
        check_passed(what);
    }
    free(x);
    free(y);
    return r;
}

int check_set_string(xen_session *s, const char *what, check_set_fn set, check_get_fn get,
                     void *self, const char *old)
{
    char value[] = "sdk-check <&> \xc3\xa9";
    char *back = NULL;
    if (!set(s, self, value) || !get(s, &back, self))
        return check_failed(s, what);
    int r = strcmp(back, value) == 0 ? 0 : fail(what, back);
    free(back);
    char *restore = strdup(old ? old : "");
    if (!set(s, self, restore))
        r = check_failed(s, what);
    free(restore);
    if (!r)
        check_passed(what);
    return r;
}

static bool map_has(const xen_string_string_map *m, const char *k, const char *v)
{
    for (size_t i = 0; m && i < m->size; i++)
        if (strcmp(m->contents[i].key, k) == 0 && (!v || strcmp(m->contents[i].val, v) == 0))
            return true;
    return false;
}

int check_map(xen_session *s, const char *what, check_add_fn add, check_remove_fn remove,
              check_get_fn get, void *self)
{
    char key[] = "sdk_check", value[] = "1";
    xen_string_string_map *m = NULL;
    if (!add(s, self, key, value) || !get(s, &m, self))
        return check_failed(s, what);
    bool added = map_has(m, key, value);
    xen_string_string_map_free(m);
    m = NULL;
    if (!remove(s, self, key) || !get(s, &m, self))
        return check_failed(s, what);
    bool removed = !map_has(m, key, NULL);
    xen_string_string_map_free(m);
    if (!added || !removed)
        return fail(what, added ? "remove_from left the key" : "add_to did not add the key");
    check_passed(what);
    return 0;
}

static bool set_has(const xen_string_set *set, const char *v)
{
    for (size_t i = 0; set && i < set->size; i++)
        if (strcmp(set->contents[i], v) == 0)
            return true;
    return false;
}

int check_set(xen_session *s, const char *what, check_remove_fn add, check_remove_fn remove,
              check_get_fn get, void *self)
{
    char value[] = "sdk-check";
    xen_string_set *set = NULL;
    if (!add(s, self, value) || !get(s, &set, self))
        return check_failed(s, what);
    bool added = set_has(set, value);
    xen_string_set_free(set);
    set = NULL;
    if (!remove(s, self, value) || !get(s, &set, self))
        return check_failed(s, what);
    bool removed = !set_has(set, value);
    xen_string_set_free(set);
    if (!added || !removed)
        return fail(what, added ? "remove left the member" : "add did not add the member");
    check_passed(what);
    return 0;
}

static bool has_ref(const char *const *refs, size_t n, const char *ref)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(refs[i], ref) == 0)
            return true;
    return false;
}

/* get_all holds ref, get_record's uuid leads back to ref with get_by_uuid,
 * get_all_records has it, and every accessor agrees with the record. */
#define CHECK_CLASS(cls, ref_arg)                                                                  \
    do {                                                                                           \
        xen_##cls ref = (xen_##cls)(ref_arg);                                                      \
        xen_##cls##_set *all = NULL;                                                               \
        xen_##cls##_record *rec = NULL;                                                            \
        xen_##cls by_uuid = NULL;                                                                  \
        xen_##cls##_xen_##cls##_record_map *recs = NULL;                                           \
        if (!xen_##cls##_get_all(s, &all))                                                         \
            check_failed(s, #cls ".get_all");                                                      \
        else if (!has_ref((const char *const *)all->contents, all->size, ref))                     \
            fail(#cls ".get_all", "the object is missing");                                        \
        else                                                                                       \
            check_passed(#cls ".get_all");                                                         \
        if (!xen_##cls##_get_record(s, &rec, ref)) {                                               \
            check_failed(s, #cls ".get_record");                                                   \
        } else {                                                                                   \
            if (!rec->handle || strcmp(rec->handle, ref) != 0)                                     \
                fail(#cls ".get_record", "the handle is not the ref");                             \
            else                                                                                   \
                check_passed(#cls ".get_record");                                                  \
            if (!xen_##cls##_get_by_uuid(s, &by_uuid, rec->uuid))                                  \
                check_failed(s, #cls ".get_by_uuid");                                              \
            else if (strcmp(by_uuid, ref) != 0)                                                    \
                fail(#cls ".get_by_uuid", by_uuid);                                                \
            else                                                                                   \
                check_passed(#cls ".get_by_uuid");                                                 \
            if (!xen_##cls##_get_all_records(s, &recs)) {                                          \
                check_failed(s, #cls ".get_all_records");                                          \
            } else {                                                                               \
                bool found = false;                                                                \
                for (size_t i = 0; i < recs->size; i++)                                            \
                    found = found || (strcmp(recs->contents[i].key, ref) == 0 &&                   \
                                      strcmp(recs->contents[i].val->uuid, rec->uuid) == 0);        \
                if (found)                                                                         \
                    check_passed(#cls ".get_all_records");                                         \
                else                                                                               \
                    fail(#cls ".get_all_records", "the object is missing");                        \
            }                                                                                      \
            check_accessors_##cls(s, ref, rec);                                                    \
        }                                                                                          \
        xen_##cls##_set_free(all);                                                                 \
        xen_##cls##_record_free(rec);                                                              \
        xen_##cls##_free(by_uuid);                                                                 \
        xen_##cls##_xen_##cls##_record_map_free(recs);                                             \
    } while (0)

static enum xen_vm_power_state power(xen_session *s, xen_vm vm)
{
    enum xen_vm_power_state p = XEN_VM_POWER_STATE_UNDEFINED;
    if (!xen_vm_get_power_state(s, &p, vm))
        check_failed(s, "VM.get_power_state");
    return p;
}

static void expect_power(xen_session *s, xen_vm vm, enum xen_vm_power_state want, const char *what)
{
    enum xen_vm_power_state p = power(s, vm);
    if (p == want)
        check_passed(what);
    else
        fail(what, xen_vm_power_state_to_string(p));
}

/* Waits (bounded: 600 polls, 0.1 s apart) for a task to leave pending. */
static enum xen_task_status_type wait_task(xen_session *s, xen_task task)
{
    enum xen_task_status_type st = XEN_TASK_STATUS_TYPE_UNDEFINED;
    for (int i = 0; i < 600; i++) {
        if (!xen_task_get_status(s, &st, task)) {
            check_failed(s, "task.get_status");
            return XEN_TASK_STATUS_TYPE_UNDEFINED;
        }
        if (st != XEN_TASK_STATUS_TYPE_PENDING)
            return st;
        nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
    }
    return st;
}

static xen_vm create_vm(xen_session *s)
{
    xen_vm_record *r = xen_vm_record_alloc();
    xen_vm vm = NULL;
    r->name_label = strdup("sdk-check-vm");
    r->name_description = strdup("made by sdk-check");
    r->user_version = 1;
    r->memory_static_max = 1 << 30;
    r->memory_dynamic_max = 1 << 30;
    r->memory_dynamic_min = 1 << 29;
    r->memory_static_min = 1 << 28;
    r->vcpus_max = 2;
    r->vcpus_at_startup = 1;
    r->actions_after_shutdown = XEN_ON_NORMAL_EXIT_DESTROY;
    r->actions_after_reboot = XEN_ON_NORMAL_EXIT_RESTART;
    r->actions_after_crash = XEN_ON_CRASH_BEHAVIOUR_RESTART;
    r->pv_bootloader = strdup("pygrub");
    r->domain_type = XEN_DOMAIN_TYPE_PV;
    if (!xen_vm_create(s, &vm, r))
        check_failed(s, "VM.create");
    else
        check_passed("VM.create");
    xen_vm_record_free(r);
    return vm;
}

static void check_errors(xen_session *s, const char *not_implemented)
{
    char bogus[] = "OpaqueRef:00000000-0000-0000-0000-000000000000";
    xen_vm_record *r = NULL;
    bool ok = xen_vm_get_record(s, &r, bogus);
    if (ok || s->ok || s->error_description_count != 3 ||
        strcmp(s->error_description[0], "HANDLE_INVALID") != 0 ||
        strcmp(s->error_description[1], "VM") != 0 || strcmp(s->error_description[2], bogus) != 0 ||
        r != NULL) {
        char buf[1024];
        errors_text(s, buf, sizeof(buf));
        fail("HANDLE_INVALID on the session", buf);
    } else {
        check_passed("HANDLE_INVALID on the session");
    }
    /* The error sticks: the next call does nothing until it is cleared. */
    xen_vm_set *all = NULL;
    if (xen_vm_get_all(s, &all) || all != NULL ||
        strcmp(s->error_description[0], "HANDLE_INVALID") != 0)
        fail("error sticks", "a call ran on a failed session");
    else
        check_passed("error sticks");
    xen_session_clear_error(s);
    if (!xen_vm_get_all(s, &all))
        check_failed(s, "clear_error");
    else
        check_passed("clear_error");
    xen_vm_set_free(all);

    if (strcmp(not_implemented, "VM.assert_agile") == 0) {
        xen_vm_set *vms = NULL;
        if (xen_vm_get_all(s, &vms) && vms->size > 0) {
            if (xen_vm_assert_agile(s, vms->contents[0]) ||
                strcmp(s->error_description[0], "MESSAGE_NOT_IMPLEMENTED") != 0) {
                char buf[1024];
                errors_text(s, buf, sizeof(buf));
                fail("MESSAGE_NOT_IMPLEMENTED", buf);
            } else {
                check_passed("MESSAGE_NOT_IMPLEMENTED");
            }
            xen_session_clear_error(s);
        }
        xen_vm_set_free(vms);
    }

    if (xen_vm_power_state_from_string(s, "Running") == XEN_VM_POWER_STATE_RUNNING &&
        xen_vm_power_state_from_string(s, "nonsense") == XEN_VM_POWER_STATE_UNDEFINED &&
        strcmp(xen_vm_power_state_to_string(XEN_VM_POWER_STATE_HALTED), "Halted") == 0)
        check_passed("enum strings");
    else
        fail("enum strings", "wrong mapping");
}

static void check_lifecycle(xen_session *s, xen_vm vm)
{
    if (!xen_vm_start(s, vm, false, false))
        check_failed(s, "VM.start");
    expect_power(s, vm, XEN_VM_POWER_STATE_RUNNING, "VM.start");
    if (!xen_vm_clean_shutdown(s, vm))
        check_failed(s, "VM.clean_shutdown");
    expect_power(s, vm, XEN_VM_POWER_STATE_HALTED, "VM.clean_shutdown");

    xen_task task = NULL;
    if (!xen_vm_start_async(s, &task, vm, false, false)) {
        check_failed(s, "Async.VM.start");
        return;
    }
    enum xen_task_status_type st = wait_task(s, task);
    if (st != XEN_TASK_STATUS_TYPE_SUCCESS)
        fail("Async.VM.start", xen_task_status_type_to_string(st));
    else
        check_passed("Async.VM.start task");
    expect_power(s, vm, XEN_VM_POWER_STATE_RUNNING, "Async.VM.start");
    if (!xen_task_destroy(s, task))
        check_failed(s, "task.destroy");
    xen_task_free(task);
    if (!xen_vm_hard_shutdown(s, vm))
        check_failed(s, "VM.hard_shutdown");
    expect_power(s, vm, XEN_VM_POWER_STATE_HALTED, "VM.hard_shutdown");
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s <url> <password> <not-implemented VM message or ->\n", argv[0]);
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    xen_init();
    struct curl_transport *t = curl_transport_new(argv[1], true);
    xen_session *s = xen_session_login_with_password(curl_transport_call, t, "root", argv[2],
                                                     xen_api_latest_version);
    if (!s || !s->ok) {
        if (s)
            check_failed(s, "login");
        printf("passed %d failed %d\n", passed, failed + 1);
        return 1;
    }
    check_passed("login");
    if (s->api_version == xen_api_unknown_version)
        fail("api_version", "unknown");
    else
        check_passed("api_version");

    xen_vm vm = create_vm(s);
    xen_network_record *nr = xen_network_record_alloc();
    xen_network net = NULL;
    nr->name_label = strdup("sdk-check-net");
    nr->mtu = 1500;
    if (!xen_network_create(s, &net, nr))
        check_failed(s, "network.create");
    xen_network_record_free(nr);
    xen_host_set *hosts = NULL;
    xen_pool_set *pools = NULL;
    if (!xen_host_get_all(s, &hosts) || hosts->size == 0)
        check_failed(s, "host.get_all");
    if (!xen_pool_get_all(s, &pools) || pools->size == 0)
        check_failed(s, "pool.get_all");

    if (vm) {
        xen_vm_set *named = NULL;
        char label[] = "sdk-check-vm";
        if (!xen_vm_get_by_name_label(s, &named, label))
            check_failed(s, "VM.get_by_name_label");
        else if (!has_ref((const char *const *)named->contents, named->size, vm))
            fail("VM.get_by_name_label", "the VM is missing");
        else
            check_passed("VM.get_by_name_label");
        xen_vm_set_free(named);
        CHECK_CLASS(vm, vm);
    }
    if (hosts && hosts->size > 0)
        CHECK_CLASS(host, hosts->contents[0]);
    if (pools && pools->size > 0)
        CHECK_CLASS(pool, pools->contents[0]);
    if (net)
        CHECK_CLASS(network, net);
    if (vm)
        check_lifecycle(s, vm);
    check_errors(s, argv[3]);

    if (vm && !xen_vm_destroy(s, vm))
        check_failed(s, "VM.destroy");
    if (net && !xen_network_destroy(s, net))
        check_failed(s, "network.destroy");
    xen_vm_free(vm);
    xen_network_free(net);
    xen_host_set_free(hosts);
    xen_pool_set_free(pools);
    xen_session_logout(s);
    curl_transport_free(t);
    xen_fini();
    curl_global_cleanup();
    printf("passed %d failed %d\n", passed, failed);
    return failed ? 1 : 0;
}
