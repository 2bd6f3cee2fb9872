/* Unit tests of domaind's sim backend (hypervisor/sim.c), driven through
 * the backend interface (hypervisor/backend.h) as the method handlers
 * drive it: creation, listing, pause and unpause, clean and hard shutdown
 * (and a guest that ignores the request), reboot with a new domid, the
 * suspend and resume round trip, the memory and vCPU limits, failures
 * injected after an operation's first step leaving the true state, events
 * a guest causes by itself, the state directory surviving a reopen (and
 * being locked, and refused when a file is malformed, and a change writing
 * its own domain's file alone), the lock never held while a step passes,
 * and events/watch: full answers, changes since a generation, destroyed
 * domains reported once, blocking until a change or the timeout, and
 * generations going on after a reopen, which answers an older since in
 * full; hot-plug: disks attached to and detached from a running or
 * paused domain, a guest refusing to release one until forced, cdrom
 * media changed, each kept across a reopen and a reboot. Steps take 0 or
 * 1 ms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hypervisor/backend.h"
#include "hypervisor/hostctl.h"
#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/util.h"

#define GIB ((int64_t)1 << 30)
#define MIB ((int64_t)1 << 20)
#define HOST_MEMORY (8 * GIB)
#define HOST_CPUS 4
/* What the sim keeps for dom0 on HOST_MEMORY: a tenth, less than 1 GiB. */
#define DOM0_RESERVE (HOST_MEMORY / 10)

struct fx {
    char dir[64];
    char path[128];
    int step_ms;
    struct backend *b;
};

static struct backend *open_sim(struct fx *f)
{
    struct sim_options o = {
        .state_path = f->path, .memory = HOST_MEMORY, .cpus = HOST_CPUS, .step_ms = f->step_ms};
    struct backend *b = NULL;
    assert_int_equal(sim_backend_new(&o, &b), 0);
    return b;
}

static int setup_steps(void **state, int step_ms)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/test-domaind-sim.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/sim-hypervisor", f->dir);
    f->step_ms = step_ms;
    f->b = open_sim(f);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_steps(state, 0);
}

static int setup_slow(void **state)
{
    return setup_steps(state, 1);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    _cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", f->dir);
    backend_free(f->b);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Closes the backend and opens it again from its state directory, as a
 * restart of domaind does. */
static void reopen(struct fx *f)
{
    backend_free(f->b);
    f->b = open_sim(f);
}

/* ---- helpers ---- */

static void new_uuid(char u[UUID_STR_LEN])
{
    uuid_generate_str(u);
}

static void expect_error(struct dm_error *e, enum dm_err code)
{
    assert_non_null(e);
    if (e->code != code)
        fail_msg("expected %s, got %s (%s)", dm_error_name(code), dm_error_name(e->code),
                 e->n_params ? e->params[0] : "");
    dm_error_free(e);
}

static void expect_ok(struct dm_error *e)
{
    if (e)
        fail_msg("unexpected %s (%s)", dm_error_name(e->code), e->n_params ? e->params[0] : "");
}

static struct dm_config config(const char *name, int64_t target, int vcpus_max)
{
    return (struct dm_config){
        .name = xstrdup(name),
        .type = DM_TYPE_PVH,
        .memory_max = 2 * target,
        .memory_target = target,
        .vcpus_max = vcpus_max,
        .vcpus = 1,
    };
}

static struct dm_error *try_create(struct backend *b, const char *uuid, int64_t target,
                                   int vcpus_max, bool paused, struct dm_domain *ret)
{
    struct dm_config c = config("vm", target, vcpus_max);
    struct dm_error *e = b->ops->create(b, uuid, &c, paused, ret);
    dm_config_done(&c);
    return e;
}

/* Creates a domain of target bytes that must succeed; returns its domid. */
static int create(struct backend *b, const char *uuid, int64_t target)
{
    struct dm_domain d;
    expect_ok(try_create(b, uuid, target, 1, false, &d));
    int domid = d.domid;
    dm_domain_done(&d);
    return domid;
}

/* The state of uuid, or DM_STATE_DESTROYED when it is not listed. */
static enum dm_state state_of(struct backend *b, const char *uuid, int *ret_domid,
                              enum dm_reason *ret_reason)
{
    struct dm_domain d;
    struct dm_error *e = b->ops->get(b, uuid, &d);
    if (e) {
        expect_error(e, DM_ERR_NO_SUCH_DOMAIN);
        return DM_STATE_DESTROYED;
    }
    enum dm_state s = d.state;
    if (ret_domid)
        *ret_domid = d.domid;
    if (ret_reason)
        *ret_reason = d.shutdown_reason;
    dm_domain_done(&d);
    return s;
}

static int64_t free_memory(struct backend *b)
{
    struct dm_host_info hi;
    expect_ok(b->ops->host_info(b, &hi));
    return hi.free_memory;
}

static size_t count_domains(struct backend *b)
{
    struct dm_domain_list l;
    expect_ok(b->ops->list(b, &l));
    size_t n = l.n;
    dm_domain_list_done(&l);
    return n;
}

/* The entry for uuid in a list, or NULL. */
static const struct dm_domain *find(const struct dm_domain_list *l, const char *uuid)
{
    for (size_t i = 0; i < l->n; i++)
        if (streq(l->v[i].uuid, uuid))
            return &l->v[i];
    return NULL;
}

static uint64_t generation_now(struct backend *b)
{
    return events_generation(&b->events);
}

/* ---- create, list, get ---- */

static void test_create_gives_running_domain_with_first_domid_1(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    struct dm_domain d;

    new_uuid(u);
    expect_ok(try_create(f->b, u, 512 * MIB, 2, false, &d));
    assert_int_equal(d.domid, 1);
    assert_string_equal(d.uuid, u);
    assert_int_equal(d.state, DM_STATE_RUNNING);
    assert_int_equal(d.shutdown_reason, DM_REASON_NONE);
    assert_int_equal(d.memory_actual, 512 * MIB);
    assert_int_equal(d.cfg.memory_target, 512 * MIB);
    assert_int_equal(d.cfg.vcpus_max, 2);
    assert_string_equal(d.cfg.name, "vm");
    assert_true(d.start_time > 1e9);
    dm_domain_done(&d);
}

static void test_create_start_paused_leaves_domain_paused(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    struct dm_domain d;

    new_uuid(u);
    expect_ok(try_create(f->b, u, 256 * MIB, 1, true, &d));
    assert_int_equal(d.state, DM_STATE_PAUSED);
    dm_domain_done(&d);
    assert_int_equal(state_of(f->b, u, NULL, NULL), DM_STATE_PAUSED);
}

static void test_create_of_existing_uuid_fails_domain_exists(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    struct dm_domain d;

    new_uuid(u);
    create(f->b, u, 256 * MIB);
    expect_error(try_create(f->b, u, 256 * MIB, 1, false, &d), DM_ERR_DOMAIN_EXISTS);
    assert_int_equal(count_domains(f->b), 1);
}

static void test_domids_increase_and_are_not_reused(void **state)
{
    struct fx *f = *state;
    char a[UUID_STR_LEN], b[UUID_STR_LEN], c[UUID_STR_LEN];

    new_uuid(a);
    new_uuid(b);
    new_uuid(c);
    assert_int_equal(create(f->b, a, 256 * MIB), 1);
    assert_int_equal(create(f->b, b, 256 * MIB), 2);
    expect_ok(f->b->ops->destroy(f->b, a));
    assert_int_equal(create(f->b, c, 256 * MIB), 3);
}

static void test_list_gives_every_domain_by_domid(void **state)
{
    struct fx *f = *state;
    char u[3][UUID_STR_LEN];
    struct dm_domain_list l;

    for (int i = 0; i < 3; i++) {
        new_uuid(u[i]);
        create(f->b, u[i], 128 * MIB);
    }
    expect_ok(f->b->ops->list(f->b, &l));
    assert_int_equal(l.n, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(l.v[i].domid, i + 1);
        assert_string_equal(l.v[i].uuid, u[i]);
    }
    dm_domain_list_done(&l);
}

static void test_get_of_unknown_uuid_fails_no_such_domain(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    struct dm_domain d;
    struct dm_error *e;

    new_uuid(u);
    e = f->b->ops->get(f->b, u, &d);
    assert_non_null(e);
    assert_int_equal(e->code, DM_ERR_NO_SUCH_DOMAIN);
    assert_int_equal(e->n_params, 1);
    assert_string_equal(e->params[0], u);
    dm_error_free(e);
}

static void test_create_keeps_the_whole_configuration(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    struct dm_config c = config("web", 256 * MIB, 2);
    struct dm_domain d;

    new_uuid(u);
    c.type = DM_TYPE_HVM;
    c.kernel = xstrdup("/boot/vmlinuz");
    c.cmdline = xstrdup("console=hvc0");
    c.platform = json_tokener_parse("{\"acpi\":\"1\"}");
    c.disks = json_tokener_parse("[{\"vdev\":\"xvda\",\"path\":\"/x.img\"}]");
    expect_ok(f->b->ops->create(f->b, u, &c, false, &d));
    dm_config_done(&c);
    dm_domain_done(&d);
    expect_ok(f->b->ops->get(f->b, u, &d));
    assert_string_equal(d.cfg.name, "web");
    assert_int_equal(d.cfg.type, DM_TYPE_HVM);
    assert_string_equal(d.cfg.kernel, "/boot/vmlinuz");
    assert_string_equal(d.cfg.cmdline, "console=hvc0");
    assert_null(d.cfg.ramdisk);
    assert_string_equal(json_object_to_json_string(d.cfg.platform), "{ \"acpi\": \"1\" }");
    assert_int_equal(json_object_array_length(d.cfg.disks), 1);
    dm_domain_done(&d);
}

/* ---- pause, unpause ---- */

static void test_pause_then_unpause_changes_state(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    struct dm_domain d;

    new_uuid(u);
    create(f->b, u, 256 * MIB);
    expect_ok(f->b->ops->pause(f->b, u, &d));
    assert_int_equal(d.state, DM_STATE_PAUSED);
    dm_domain_done(&d);
    expect_ok(f->b->ops->unpause(f->b, u, &d));
    assert_int_equal(d.state, DM_STATE_RUNNING);
    dm_domain_done(&d);
}

static void test_pause_of_paused_domain_fails_bad_state(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    struct dm_domain d;
    struct dm_error *e;

    new_uuid(u);
    expect_ok(try_create(f->b, u, 256 * MIB, 1, true, &d));
    dm_domain_done(&d);
    e = f->b->ops->pause(f->b, u, &d);
    assert_non_null(e);
    assert_int_equal(e->code, DM_ERR_BAD_STATE);
    assert_int_equal(e->n_params, 3);
    assert_string_equal(e->params[0], u);
    assert_string_equal(e->params[1], "running");
    assert_string_equal(e->params[2], "paused");
    dm_error_free(e);
}

static void test_unpause_of_running_domain_fails_bad_state(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    struct dm_domain d;

    new_uuid(u);
    create(f->b, u, 256 * MIB);
    expect_error(f->b->ops->unpause(f->b, u, &d), DM_ERR_BAD_STATE);
}

/* ---- shutdown ---- */

static void test_clean_shutdown_destroys_domain_with_reason_poweroff(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    struct dm_domain d;

    new_uuid(u);
    int domid = create(f->b, u, 256 * MIB);
    expect_ok(f->b->ops->shutdown(f->b, u, true, 5, &d));
    assert_int_equal(d.state, DM_STATE_DESTROYED);
    assert_int_equal(d.shutdown_reason, DM_REASON_POWEROFF);
    assert_int_equal(d.domid, domid);
    dm_domain_done(&d);
    assert_int_equal(state_of(f->b, u, NULL, NULL), DM_STATE_DESTROYED);
    assert_int_equal(free_memory(f->b), HOST_MEMORY - DOM0_RESERVE);
}

static void test_hard_shutdown_destroys_paused_domain(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    struct dm_domain d;

    new_uuid(u);
    expect_ok(try_create(f->b, u, 256 * MIB, 1, true, &d));
    dm_domain_done(&d);
    expect_ok(f->b->ops->shutdown(f->b, u, false, 5, &d));
    assert_int_equal(d.state, DM_STATE_DESTROYED);
    assert_int_equal(d.shutdown_reason, DM_REASON_NONE);
    dm_domain_done(&d);
    assert_int_equal(count_domains(f->b), 0);
}

static void test_clean_shutdown_of_paused_domain_fails_bad_state(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    struct dm_domain d;

    new_uuid(u);
    expect_ok(try_create(f->b, u, 256 * MIB, 1, true, &d));
    dm_domain_done(&d);
    expect_error(f->b->ops->shutdown(f->b, u, true, 5, &d), DM_ERR_BAD_STATE);
    assert_int_equal(state_of(f->b, u, NULL, NULL), DM_STATE_PAUSED);
}

static void test_clean_shutdown_of_ignoring_guest_times_out_leaving_it_running(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    struct dm_domain d;

    new_uuid(u);
    create(f->b, u, 256 * MIB);
    expect_ok(f->b->ops->sim_inject(f->b, u, "ignore", 1, -1));
    double t0 = now_monotonic();
    expect_error(f->b->ops->shutdown(f->b, u, true, 0.1, &d), DM_ERR_SHUTDOWN_TIMEOUT);
    assert_true(now_monotonic() - t0 >= 0.1);
    assert_int_equal(state_of(f->b, u, NULL, NULL), DM_STATE_RUNNING);
    /* A hard shutdown does not ask the guest. */
    expect_ok(f->b->ops->shutdown(f->b, u, false, 0.1, &d));
    dm_domain_done(&d);
}

static void test_clean_shutdown_of_already_shut_down_domain_destroys_it(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    struct dm_domain d;

    new_uuid(u);
    create(f->b, u, 256 * MIB);
    expect_ok(f->b->ops->sim_inject(f->b, u, "crash", -1, -1));
    expect_ok(f->b->ops->shutdown(f->b, u, true, 5, &d));
    assert_int_equal(d.state, DM_STATE_DESTROYED);
    assert_int_equal(d.shutdown_reason, DM_REASON_CRASH);
    dm_domain_done(&d);
}

struct inject_later {
    struct backend *b;
    const char *uuid;
    const char *event;
    int delay_ms;
};

static void *inject_later_thread(void *arg)
{
    struct inject_later *il = arg;
    usleep((useconds_t)il->delay_ms * 1000);
    expect_ok(il->b->ops->sim_inject(il->b, il->uuid, il->event, -1, -1));
    return NULL;
}

static void test_clean_shutdown_waits_for_guest_that_powers_off_late(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    struct dm_domain d;
    pthread_t t;

    new_uuid(u);
    create(f->b, u, 256 * MIB);
    expect_ok(f->b->ops->sim_inject(f->b, u, "ignore", 1, -1));
    struct inject_later il = {f->b, u, "poweroff", 50};
    pthread_create(&t, NULL, inject_later_thread, &il);
    double t0 = now_monotonic();
    expect_ok(f->b->ops->shutdown(f->b, u, true, 10, &d));
    assert_true(now_monotonic() - t0 < 5);
    pthread_join(t, NULL);
    assert_int_equal(d.state, DM_STATE_DESTROYED);
    assert_int_equal(d.shutdown_reason, DM_REASON_POWEROFF);
    dm_domain_done(&d);
}

static void *stop_later_thread(void *arg)
{
    struct backend *b = arg;
    usleep(50 * 1000);
    b->ops->stop(b);
    return NULL;
}

static void test_stop_ends_a_clean_shutdown_wait_at_once(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    struct dm_domain d;
    pthread_t t;

    new_uuid(u);
    create(f->b, u, 256 * MIB);
    expect_ok(f->b->ops->sim_inject(f->b, u, "ignore", 1, -1));
    pthread_create(&t, NULL, stop_later_thread, f->b);
    double t0 = now_monotonic();
    expect_error(f->b->ops->shutdown(f->b, u, true, 30, &d), DM_ERR_BACKEND_FAILURE);
    assert_true(now_monotonic() - t0 < 5);
    pthread_join(t, NULL);
    assert_int_equal(state_of(f->b, u, NULL, NULL), DM_STATE_RUNNING);
}

/* ---- reboot ---- */

static void test_reboot_gives_running_domain_with_new_domid(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    struct dm_domain d;

    new_uuid(u);
    int domid = create(f->b, u, 256 * MIB);
    for (int clean = 0; clean < 2; clean++) {
        expect_ok(f->b->ops->reboot(f->b, u, clean, 5, &d));
        assert_int_equal(d.state, DM_STATE_RUNNING);
        assert_true(d.domid > domid);
        assert_int_equal(d.shutdown_reason, DM_REASON_NONE);
        domid = d.domid;
        dm_domain_done(&d);
    }
    assert_int_equal(count_domains(f->b), 1);
    assert_int_equal(free_memory(f->b), HOST_MEMORY - DOM0_RESERVE - 256 * MIB);
}

static void test_clean_reboot_of_paused_domain_fails_bad_state(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    struct dm_domain d;

    new_uuid(u);
    expect_ok(try_create(f->b, u, 256 * MIB, 1, true, &d));
    dm_domain_done(&d);
    expect_error(f->b->ops->reboot(f->b, u, true, 5, &d), DM_ERR_BAD_STATE);
}

static void test_reboot_after_guest_reboot_rebuilds_domain(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    struct dm_domain d;

    new_uuid(u);
    int domid = create(f->b, u, 256 * MIB);
    expect_ok(f->b->ops->sim_inject(f->b, u, "reboot", -1, -1));
    expect_ok(f->b->ops->reboot(f->b, u, true, 5, &d));
    assert_int_equal(d.state, DM_STATE_RUNNING);
    assert_int_not_equal(d.domid, domid);
    dm_domain_done(&d);
}

/* ---- suspend, resume ---- */

static void test_suspend_and_resume_round_trip(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    _cleanup_free_ char *image = xasprintf("%s/image", f->dir);
    struct dm_config c = config("saved", 512 * MIB, 2);
    struct dm_domain d;

    new_uuid(u);
    c.kernel = xstrdup("/boot/vmlinuz");
    c.nics = json_tokener_parse("[{\"mac\":\"00:16:3e:00:00:01\"}]");
    expect_ok(f->b->ops->create(f->b, u, &c, false, &d));
    dm_config_done(&c);
    int domid = d.domid;
    dm_domain_done(&d);
    expect_ok(f->b->ops->set_memory_target(f->b, u, 300 * MIB, &d));
    dm_domain_done(&d);

    expect_ok(f->b->ops->suspend(f->b, u, image));
    assert_int_equal(state_of(f->b, u, NULL, NULL), DM_STATE_DESTROYED);
    assert_int_equal(access(image, R_OK), 0);
    assert_int_equal(free_memory(f->b), HOST_MEMORY - DOM0_RESERVE);

    expect_ok(f->b->ops->resume(f->b, u, image, false, &d));
    assert_int_equal(d.state, DM_STATE_RUNNING);
    assert_int_not_equal(d.domid, domid);
    assert_string_equal(d.cfg.name, "saved");
    assert_string_equal(d.cfg.kernel, "/boot/vmlinuz");
    assert_int_equal(d.cfg.memory_target, 300 * MIB);
    assert_int_equal(d.cfg.memory_max, 1024 * MIB);
    assert_int_equal(d.cfg.vcpus_max, 2);
    assert_int_equal(json_object_array_length(d.cfg.nics), 1);
    dm_domain_done(&d);
}

/* A suspend VDI exists before the save: the image goes into that file,
 * which keeps its inode and size (the SR's), and what follows the image
 * in it is not read. */
static void test_suspend_into_an_existing_file_writes_it_in_place(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    _cleanup_free_ char *image = xasprintf("%s/vdi.raw", f->dir);
    struct stat before, after;
    struct dm_domain d;

    int fd = open(image, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    char junk[4096];
    memset(junk, 'x', sizeof(junk));
    for (int i = 0; i < 64; i++)
        assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    close(fd);
    assert_int_equal(stat(image, &before), 0);
    new_uuid(u);
    create(f->b, u, 256 * MIB);

    expect_ok(f->b->ops->suspend(f->b, u, image));
    assert_int_equal(stat(image, &after), 0);
    assert_int_equal(after.st_ino, before.st_ino);
    assert_int_equal(after.st_size, before.st_size);
    expect_ok(f->b->ops->resume(f->b, u, image, false, &d));
    assert_int_equal(d.state, DM_STATE_RUNNING);
    assert_int_equal(d.cfg.memory_target, 256 * MIB);
    dm_domain_done(&d);
}

/* domain/stats: a simulated guest runs no code; its vCPUs are online up
 * to vcpus, and its memory is the balloon's. */
static void test_stats_give_memory_and_vcpus_of_a_live_domain(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    struct dm_domain d;
    struct dm_stats st;

    new_uuid(u);
    expect_ok(try_create(f->b, u, 256 * MIB, 2, false, &d));
    dm_domain_done(&d);
    expect_ok(f->b->ops->set_memory_target(f->b, u, 200 * MIB, &d));
    dm_domain_done(&d);
    expect_ok(f->b->ops->stats(f->b, u, &st));
    assert_int_equal(st.memory_target, 200 * MIB);
    assert_int_equal(st.memory_actual, 200 * MIB);
    assert_int_equal(st.n_vcpus, 2);
    assert_true(st.vcpus[0].online);
    assert_false(st.vcpus[1].online);
    assert_true(st.cpu_time == 0 && st.vcpus[0].cpu_time == 0);
    assert_true(st.time > 0);
    dm_stats_done(&st);

    expect_ok(f->b->ops->shutdown(f->b, u, false, 10, &d));
    dm_domain_done(&d);
    expect_error(f->b->ops->stats(f->b, u, &st), DM_ERR_NO_SUCH_DOMAIN);
}

static void test_resume_start_paused_leaves_domain_paused(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    _cleanup_free_ char *image = xasprintf("%s/image", f->dir);
    struct dm_domain d;

    new_uuid(u);
    create(f->b, u, 256 * MIB);
    expect_ok(f->b->ops->suspend(f->b, u, image));
    expect_ok(f->b->ops->resume(f->b, u, image, true, &d));
    assert_int_equal(d.state, DM_STATE_PAUSED);
    dm_domain_done(&d);
}

static void test_suspend_of_paused_domain_fails_bad_state(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    _cleanup_free_ char *image = xasprintf("%s/image", f->dir);
    struct dm_domain d;

    new_uuid(u);
    expect_ok(try_create(f->b, u, 256 * MIB, 1, true, &d));
    dm_domain_done(&d);
    expect_error(f->b->ops->suspend(f->b, u, image), DM_ERR_BAD_STATE);
    assert_int_equal(access(image, F_OK), -1);
}

static void test_suspend_to_unwritable_path_fails_leaving_domain_running(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    _cleanup_free_ char *image = xasprintf("%s/no-such-folder/image", f->dir);

    new_uuid(u);
    create(f->b, u, 256 * MIB);
    expect_error(f->b->ops->suspend(f->b, u, image), DM_ERR_BACKEND_FAILURE);
    assert_int_equal(state_of(f->b, u, NULL, NULL), DM_STATE_RUNNING);
}

static void test_resume_of_missing_image_fails_backend_failure(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    _cleanup_free_ char *image = xasprintf("%s/missing", f->dir);
    struct dm_domain d;

    new_uuid(u);
    expect_error(f->b->ops->resume(f->b, u, image, false, &d), DM_ERR_BACKEND_FAILURE);
    assert_int_equal(count_domains(f->b), 0);
}

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void test_resume_of_garbage_image_fails_backend_failure(void **state)
{
    struct fx *f = *state;
    static const char *const garbage[] = {
        "",
        "not json",
        "[1,2]",
        "{\"format\":\"xenia-sim-image\",\"version\":1}",
        "{\"format\":\"xenia-sim-image\",\"version\":1,\"domain\":{\"uuid\":\"x\"}}",
        "{\"format\":\"other\",\"version\":1,\"domain\":{}}",
    };
    char u[UUID_STR_LEN];
    _cleanup_free_ char *image = xasprintf("%s/garbage", f->dir);
    struct dm_domain d;

    new_uuid(u);
    for (size_t i = 0; i < ELEMENTSOF(garbage); i++) {
        write_text(image, garbage[i]);
        expect_error(f->b->ops->resume(f->b, u, image, false, &d), DM_ERR_BACKEND_FAILURE);
    }
    assert_int_equal(count_domains(f->b), 0);
}

static void test_resume_of_existing_uuid_fails_domain_exists(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN], v[UUID_STR_LEN];
    _cleanup_free_ char *image = xasprintf("%s/image", f->dir);
    struct dm_domain d;

    new_uuid(u);
    new_uuid(v);
    create(f->b, u, 256 * MIB);
    expect_ok(f->b->ops->suspend(f->b, u, image));
    create(f->b, v, 256 * MIB);
    expect_error(f->b->ops->resume(f->b, v, image, false, &d), DM_ERR_DOMAIN_EXISTS);
}

/* ---- memory and vCPUs ---- */

static void test_free_memory_is_host_memory_less_dom0_and_targets(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    struct dm_host_info hi;

    expect_ok(f->b->ops->host_info(f->b, &hi));
    assert_string_equal(hi.backend, "sim");
    assert_int_equal(hi.total_memory, HOST_MEMORY);
    assert_int_equal(hi.nr_cpus, HOST_CPUS);
    assert_int_equal(hi.free_memory, HOST_MEMORY - DOM0_RESERVE);
    new_uuid(u);
    create(f->b, u, 1 * GIB);
    assert_int_equal(free_memory(f->b), HOST_MEMORY - DOM0_RESERVE - 1 * GIB);
}

static void test_create_beyond_free_memory_fails_not_enough_memory(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    struct dm_domain d;
    struct dm_error *e;
    char needed[32], avail[32];

    new_uuid(u);
    create(f->b, u, 4 * GIB);
    new_uuid(u);
    e = try_create(f->b, u, 4 * GIB, 1, false, &d);
    assert_non_null(e);
    assert_int_equal(e->code, DM_ERR_NOT_ENOUGH_MEMORY);
    snprintf(needed, sizeof(needed), "%lld", (long long)(4 * GIB));
    snprintf(avail, sizeof(avail), "%lld", (long long)(HOST_MEMORY - DOM0_RESERVE - 4 * GIB));
    assert_string_equal(e->params[0], needed);
    assert_string_equal(e->params[1], avail);
    dm_error_free(e);
    assert_int_equal(count_domains(f->b), 1);
}

static void test_set_memory_target_changes_target_and_actual(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    struct dm_domain d;

    new_uuid(u);
    create(f->b, u, 512 * MIB);
    expect_ok(f->b->ops->set_memory_target(f->b, u, 768 * MIB, &d));
    assert_int_equal(d.cfg.memory_target, 768 * MIB);
    assert_int_equal(d.memory_actual, 768 * MIB);
    dm_domain_done(&d);
    assert_int_equal(free_memory(f->b), HOST_MEMORY - DOM0_RESERVE - 768 * MIB);
}

static void test_set_memory_target_beyond_free_fails_not_enough_memory(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN], v[UUID_STR_LEN];
    struct dm_config c = config("big", 3 * GIB, 1);
    struct dm_domain d;

    new_uuid(u);
    new_uuid(v);
    expect_ok(f->b->ops->create(f->b, u, &c, false, &d)); /* memory_max 6 GiB */
    dm_config_done(&c);
    dm_domain_done(&d);
    create(f->b, v, 3 * GIB);
    expect_error(f->b->ops->set_memory_target(f->b, u, 5 * GIB, &d), DM_ERR_NOT_ENOUGH_MEMORY);
    expect_ok(f->b->ops->get(f->b, u, &d));
    assert_int_equal(d.cfg.memory_target, 3 * GIB);
    dm_domain_done(&d);
}

static void test_set_memory_target_above_memory_max_fails_invalid_params(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    struct dm_domain d;

    new_uuid(u);
    create(f->b, u, 256 * MIB); /* memory_max 512 MiB */
    expect_error(f->b->ops->set_memory_target(f->b, u, 513 * MIB, &d), DM_ERR_INVALID_PARAMS);
}

static void test_create_with_more_vcpus_than_host_fails_too_many_vcpus(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    struct dm_domain d;
    struct dm_error *e;

    new_uuid(u);
    e = try_create(f->b, u, 256 * MIB, HOST_CPUS + 1, false, &d);
    assert_non_null(e);
    assert_int_equal(e->code, DM_ERR_TOO_MANY_VCPUS);
    assert_string_equal(e->params[0], "5");
    assert_string_equal(e->params[1], "4");
    dm_error_free(e);
    expect_ok(try_create(f->b, u, 256 * MIB, HOST_CPUS, false, &d));
    dm_domain_done(&d);
}

static void test_set_vcpus_within_and_beyond_vcpus_max(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    struct dm_domain d;

    new_uuid(u);
    expect_ok(try_create(f->b, u, 256 * MIB, 2, false, &d));
    dm_domain_done(&d);
    expect_ok(f->b->ops->set_vcpus(f->b, u, 2, &d));
    assert_int_equal(d.cfg.vcpus, 2);
    dm_domain_done(&d);
    expect_error(f->b->ops->set_vcpus(f->b, u, 3, &d), DM_ERR_TOO_MANY_VCPUS);
}

static void test_config_from_json_checks_ranges(void **state)
{
    static const char *const bad[] = {
        "{}",
        "{\"name\":\"a\",\"type\":\"xx\",\"memory_max\":2,\"memory_target\":1,\"vcpus_max\":1,"
        "\"vcpus\":1}",
        "{\"name\":\"a\",\"type\":\"pv\",\"memory_max\":1,\"memory_target\":2,\"vcpus_max\":1,"
        "\"vcpus\":1}",
        "{\"name\":\"a\",\"type\":\"pv\",\"memory_max\":2,\"memory_target\":1,\"vcpus_max\":1,"
        "\"vcpus\":2}",
        "{\"name\":\"a\",\"type\":\"pv\",\"memory_max\":2,\"memory_target\":0,\"vcpus_max\":1,"
        "\"vcpus\":1}",
        "{\"name\":\"a\",\"type\":\"pv\",\"memory_max\":2,\"memory_target\":1,\"vcpus_max\":1,"
        "\"vcpus\":1,\"platform\":[]}",
        "{\"name\":\"a\",\"type\":\"pv\",\"memory_max\":2,\"memory_target\":1,\"vcpus_max\":1,"
        "\"vcpus\":1,\"kernel\":5}",
    };
    struct dm_config c;

    (void)state;
    for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
        json_object *o = json_tokener_parse(bad[i]);
        expect_error(dm_config_from_json(o, &c), DM_ERR_INVALID_PARAMS);
        json_object_put(o);
    }
    json_object *o = json_tokener_parse("{\"name\":\"a\",\"type\":\"pv\",\"memory_max\":2,"
                                        "\"memory_target\":1,\"vcpus_max\":1,\"vcpus\":1,"
                                        "\"kernel\":null}");
    expect_ok(dm_config_from_json(o, &c));
    assert_null(c.kernel);
    dm_config_done(&c);
    json_object_put(o);
}

/* ---- injected failures ---- */

static void test_injected_create_failure_leaves_no_domain(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    struct dm_domain d;
    struct dm_error *e;

    new_uuid(u);
    expect_ok(f->b->ops->sim_fail(f->b, "domain/create", 1));
    uint64_t g = generation_now(f->b);
    e = try_create(f->b, u, 1 * GIB, 1, false, &d);
    assert_non_null(e);
    assert_int_equal(e->code, DM_ERR_SIM_INJECTED_FAILURE);
    assert_string_equal(e->params[0], "domain/create");
    dm_error_free(e);
    assert_int_equal(count_domains(f->b), 0);
    assert_int_equal(free_memory(f->b), HOST_MEMORY - DOM0_RESERVE);
    assert_int_equal(generation_now(f->b), g);
    /* Only the next call failed. */
    assert_int_equal(create(f->b, u, 1 * GIB), 1);
}

static void test_injected_shutdown_failure_leaves_domain_running(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    struct dm_domain d;

    new_uuid(u);
    create(f->b, u, 256 * MIB);
    expect_ok(f->b->ops->sim_fail(f->b, "domain/shutdown", 1));
    expect_error(f->b->ops->shutdown(f->b, u, true, 5, &d), DM_ERR_SIM_INJECTED_FAILURE);
    assert_int_equal(state_of(f->b, u, NULL, NULL), DM_STATE_RUNNING);
    expect_ok(f->b->ops->sim_fail(f->b, "domain/shutdown", 1));
    expect_error(f->b->ops->shutdown(f->b, u, false, 5, &d), DM_ERR_SIM_INJECTED_FAILURE);
    assert_int_equal(state_of(f->b, u, NULL, NULL), DM_STATE_RUNNING);
    expect_ok(f->b->ops->shutdown(f->b, u, true, 5, &d));
    dm_domain_done(&d);
}

static void test_injected_failures_hit_the_next_count_calls(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    struct dm_domain d;

    new_uuid(u);
    create(f->b, u, 256 * MIB);
    expect_ok(f->b->ops->sim_fail(f->b, "domain/pause", 2));
    expect_error(f->b->ops->pause(f->b, u, &d), DM_ERR_SIM_INJECTED_FAILURE);
    expect_error(f->b->ops->pause(f->b, u, &d), DM_ERR_SIM_INJECTED_FAILURE);
    assert_int_equal(state_of(f->b, u, NULL, NULL), DM_STATE_RUNNING);
    expect_ok(f->b->ops->pause(f->b, u, &d));
    dm_domain_done(&d);
}

static void test_injected_failures_of_other_operations_change_nothing(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    _cleanup_free_ char *image = xasprintf("%s/image", f->dir);
    struct dm_domain d;
    int domid, now;

    new_uuid(u);
    domid = create(f->b, u, 256 * MIB);
    expect_ok(f->b->ops->sim_fail(f->b, "domain/reboot", 1));
    expect_error(f->b->ops->reboot(f->b, u, false, 5, &d), DM_ERR_SIM_INJECTED_FAILURE);
    expect_ok(f->b->ops->sim_fail(f->b, "domain/destroy", 1));
    expect_error(f->b->ops->destroy(f->b, u), DM_ERR_SIM_INJECTED_FAILURE);
    expect_ok(f->b->ops->sim_fail(f->b, "domain/suspend", 1));
    expect_error(f->b->ops->suspend(f->b, u, image), DM_ERR_SIM_INJECTED_FAILURE);
    assert_int_equal(access(image, F_OK), -1);
    expect_ok(f->b->ops->sim_fail(f->b, "domain/set_memory_target", 1));
    expect_error(f->b->ops->set_memory_target(f->b, u, 300 * MIB, &d), DM_ERR_SIM_INJECTED_FAILURE);
    expect_ok(f->b->ops->sim_fail(f->b, "domain/set_vcpus", 1));
    expect_error(f->b->ops->set_vcpus(f->b, u, 1, &d), DM_ERR_SIM_INJECTED_FAILURE);
    assert_int_equal(state_of(f->b, u, &now, NULL), DM_STATE_RUNNING);
    assert_int_equal(now, domid);
    assert_int_equal(free_memory(f->b), HOST_MEMORY - DOM0_RESERVE - 256 * MIB);

    expect_ok(f->b->ops->suspend(f->b, u, image));
    expect_ok(f->b->ops->sim_fail(f->b, "domain/resume", 1));
    expect_error(f->b->ops->resume(f->b, u, image, false, &d), DM_ERR_SIM_INJECTED_FAILURE);
    assert_int_equal(count_domains(f->b), 0);
}

static void test_failure_before_first_step_does_not_use_up_injection(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    struct dm_domain d;

    new_uuid(u);
    expect_ok(try_create(f->b, u, 256 * MIB, 1, true, &d));
    dm_domain_done(&d);
    expect_ok(f->b->ops->sim_fail(f->b, "domain/pause", 1));
    expect_error(f->b->ops->pause(f->b, u, &d), DM_ERR_BAD_STATE);
    expect_ok(f->b->ops->unpause(f->b, u, &d));
    dm_domain_done(&d);
    expect_error(f->b->ops->pause(f->b, u, &d), DM_ERR_SIM_INJECTED_FAILURE);
}

static void test_sim_fail_of_unknown_method_fails_invalid_params(void **state)
{
    struct fx *f = *state;

    expect_error(f->b->ops->sim_fail(f->b, "domain/list", 1), DM_ERR_INVALID_PARAMS);
    expect_error(f->b->ops->sim_fail(f->b, "domain/pause", -1), DM_ERR_INVALID_PARAMS);
}

/* ---- guest events ---- */

static void test_guest_events_shut_domain_down_with_their_reason(void **state)
{
    static const struct {
        const char *event;
        enum dm_reason reason;
    } cases[] = {{"poweroff", DM_REASON_POWEROFF},
                 {"reboot", DM_REASON_REBOOT},
                 {"crash", DM_REASON_CRASH},
                 {"suspend", DM_REASON_SUSPEND},
                 {"halt", DM_REASON_HALT}};
    struct fx *f = *state;

    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        char u[UUID_STR_LEN];
        enum dm_reason reason;
        int domid, now;

        new_uuid(u);
        domid = create(f->b, u, 128 * MIB);
        expect_ok(f->b->ops->sim_inject(f->b, u, cases[i].event, -1, -1));
        /* The domain stays, shut down, until the toolstack destroys it. */
        assert_int_equal(state_of(f->b, u, &now, &reason), DM_STATE_SHUTDOWN);
        assert_int_equal(reason, cases[i].reason);
        assert_int_equal(now, domid);
    }
    assert_int_equal(free_memory(f->b), HOST_MEMORY - DOM0_RESERVE - 5 * 128 * MIB);
}

static void test_guest_event_on_paused_domain_fails_bad_state(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    struct dm_domain d;

    new_uuid(u);
    expect_ok(try_create(f->b, u, 256 * MIB, 1, true, &d));
    dm_domain_done(&d);
    expect_error(f->b->ops->sim_inject(f->b, u, "crash", -1, -1), DM_ERR_BAD_STATE);
    expect_error(f->b->ops->sim_inject(f->b, u, "explode", -1, -1), DM_ERR_INVALID_PARAMS);
    assert_int_equal(state_of(f->b, u, NULL, NULL), DM_STATE_PAUSED);
}

static void test_guest_event_is_reported_by_watch(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    struct dm_domain_list l;
    uint64_t g, g2;
    bool full;

    new_uuid(u);
    create(f->b, u, 128 * MIB);
    g = generation_now(f->b);
    expect_ok(f->b->ops->sim_inject(f->b, u, "poweroff", -1, -1));
    expect_ok(backend_watch(f->b, g, 1, &g2, &full, &l));
    assert_false(full);
    assert_int_equal(g2, g + 1);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0].uuid, u);
    assert_int_equal(l.v[0].state, DM_STATE_SHUTDOWN);
    assert_int_equal(l.v[0].shutdown_reason, DM_REASON_POWEROFF);
    dm_domain_list_done(&l);
}

/* ---- persistence ---- */

static void test_reopen_keeps_domains_domids_and_states(void **state)
{
    struct fx *f = *state;
    char a[UUID_STR_LEN], b[UUID_STR_LEN], c[UUID_STR_LEN], x[UUID_STR_LEN];
    struct dm_domain d;
    enum dm_reason reason;
    int domid;

    new_uuid(a);
    new_uuid(b);
    new_uuid(c);
    new_uuid(x);
    create(f->b, x, 128 * MIB);
    int da = create(f->b, a, 256 * MIB);
    expect_ok(try_create(f->b, b, 128 * MIB, 2, true, &d));
    int db = d.domid;
    dm_domain_done(&d);
    int dc = create(f->b, c, 128 * MIB);
    expect_ok(f->b->ops->sim_inject(f->b, c, "crash", -1, -1));
    expect_ok(f->b->ops->destroy(f->b, x));
    uint64_t g = generation_now(f->b);
    int64_t avail = free_memory(f->b);

    reopen(f);
    assert_int_equal(count_domains(f->b), 3);
    assert_int_equal(state_of(f->b, a, &domid, NULL), DM_STATE_RUNNING);
    assert_int_equal(domid, da);
    assert_int_equal(state_of(f->b, b, &domid, NULL), DM_STATE_PAUSED);
    assert_int_equal(domid, db);
    assert_int_equal(state_of(f->b, c, &domid, &reason), DM_STATE_SHUTDOWN);
    assert_int_equal(domid, dc);
    assert_int_equal(reason, DM_REASON_CRASH);
    expect_ok(f->b->ops->get(f->b, b, &d));
    assert_int_equal(d.cfg.vcpus_max, 2);
    assert_int_equal(d.cfg.memory_target, 128 * MIB);
    dm_domain_done(&d);
    assert_int_equal(generation_now(f->b), g + 1); /* the restart's own */
    assert_int_equal(free_memory(f->b), avail);
    /* Domids go on from where they were. */
    new_uuid(x);
    assert_int_equal(create(f->b, x, 128 * MIB), dc + 1);
}

static void test_reopen_keeps_guest_ignoring_shutdown(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    struct dm_domain d;

    new_uuid(u);
    create(f->b, u, 128 * MIB);
    expect_ok(f->b->ops->sim_inject(f->b, u, "ignore", 1, -1));
    reopen(f);
    expect_error(f->b->ops->shutdown(f->b, u, true, 0.01, &d), DM_ERR_SHUTDOWN_TIMEOUT);
}

/* The file of domain uuid in the state directory; the caller frees it. */
static char *domain_file(const struct fx *f, const char *uuid)
{
    return xasprintf("%s/domains/%s.json", f->path, uuid);
}

static char *meta_file(const struct fx *f)
{
    return xasprintf("%s/meta.json", f->path);
}

static uint64_t saved_generation(const struct fx *f)
{
    _cleanup_free_ char *meta = meta_file(f);
    json_object *root = json_object_from_file(meta);
    assert_non_null(root);
    uint64_t g = (uint64_t)json_object_get_int64(json_object_object_get(root, "generation"));
    json_object_put(root);
    return g;
}

static void test_reopen_finishes_destroying_dying_domain(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    _cleanup_free_ char *path = NULL;
    struct dm_domain_list l;
    uint64_t g, g2;
    bool full;

    new_uuid(u);
    create(f->b, u, 128 * MIB);
    backend_free(f->b);
    f->b = NULL;

    /* The domain's file as a domaind killed while destroying it left it. */
    path = domain_file(f, u);
    json_object *dom = json_object_from_file(path);
    assert_non_null(dom);
    json_object_object_add(dom, "state", json_object_new_string("dying"));
    assert_int_equal(json_object_to_file(path, dom), 0);
    json_object_put(dom);
    g = saved_generation(f);

    f->b = open_sim(f);
    assert_int_equal(count_domains(f->b), 0);
    assert_int_equal(access(path, F_OK), -1);
    /* The restart took g + 1, the destruction g + 2; a since from before
     * the restart is answered in full, the destroyed domain in it. */
    expect_ok(backend_watch(f->b, g, 0, &g2, &full, &l));
    assert_true(full);
    assert_int_equal(g2, g + 2);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.v[0].state, DM_STATE_DESTROYED);
    dm_domain_list_done(&l);
}

static void test_second_open_of_same_state_dir_fails(void **state)
{
    struct fx *f = *state;
    struct sim_options o = {.state_path = f->path, .memory = HOST_MEMORY, .cpus = 1};
    struct backend *b = NULL;

    assert_int_equal(sim_backend_new(&o, &b), -EWOULDBLOCK);
    assert_null(b);
}

static void test_open_of_a_state_path_that_is_a_file_fails(void **state)
{
    struct fx *f = *state;
    _cleanup_free_ char *file = xasprintf("%s/file", f->dir);
    struct sim_options o = {.state_path = file, .memory = HOST_MEMORY, .cpus = 1};
    struct backend *b = NULL;

    write_text(file, "{}");
    assert_int_equal(sim_backend_new(&o, &b), -ENOTDIR);
    assert_null(b);
}

static void test_open_of_malformed_meta_file_fails(void **state)
{
    static const char *const bad[] = {
        "garbage",
        "{\"format\":\"xenia-sim-hypervisor\",\"version\":2}",
        "{\"format\":\"xenia-sim-hypervisor\",\"version\":2,\"generation\":3,\"next_domid\":0,"
        "\"evicted_generation\":0}",
        "{\"format\":\"xenia-sim-hypervisor\",\"version\":2,\"generation\":3,\"next_domid\":1,"
        "\"evicted_generation\":4}",
        /* The single file of version 1. */
        "{\"format\":\"xenia-sim-hypervisor\",\"version\":1,\"generation\":3,\"next_domid\":1,"
        "\"evicted_generation\":0,\"domains\":[],\"destroyed\":[]}",
    };
    struct fx *f = *state;
    struct sim_options o = {.state_path = f->path, .memory = HOST_MEMORY, .cpus = 1};
    _cleanup_free_ char *meta = meta_file(f);

    backend_free(f->b);
    f->b = NULL;
    for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
        struct backend *b = NULL;
        write_text(meta, bad[i]);
        assert_int_equal(sim_backend_new(&o, &b), -EINVAL);
        assert_null(b);
    }
}

/* Opening the state with text in path (restored afterwards) is refused. */
static void expect_refused(struct fx *f, const char *path, const char *text)
{
    struct sim_options o = {.state_path = f->path, .memory = HOST_MEMORY, .cpus = HOST_CPUS};
    json_object *before = json_object_from_file(path);
    struct backend *b = NULL;

    write_text(path, text);
    if (sim_backend_new(&o, &b) != -EINVAL)
        fail_msg("%s holding %s did not stop the open", path, text);
    assert_null(b);
    if (before) {
        assert_int_equal(json_object_to_file(path, before), 0);
        json_object_put(before);
    } else {
        assert_int_equal(unlink(path), 0);
    }
}

/* The record in path, with member name set to value (taken). */
static char *record_with(const char *path, const char *name, json_object *value)
{
    json_object *o = json_object_from_file(path);
    assert_non_null(o);
    json_object_object_add(o, name, value);
    char *text = xstrdup(json_object_to_json_string(o));
    json_object_put(o);
    return text;
}

static void test_open_of_malformed_domain_file_fails(void **state)
{
    struct fx *f = *state;
    char a[UUID_STR_LEN], b[UUID_STR_LEN], c[UUID_STR_LEN];
    _cleanup_free_ char *pa = NULL, *pb = NULL, *pc = NULL, *stray = NULL;
    _cleanup_free_ char *same = NULL, *clash = NULL, *destroyed = NULL;

    new_uuid(a);
    new_uuid(b);
    new_uuid(c);
    create(f->b, a, 128 * MIB);
    create(f->b, b, 128 * MIB);
    backend_free(f->b);
    f->b = NULL;
    pa = domain_file(f, a);
    pb = domain_file(f, b);
    pc = domain_file(f, c);
    stray = xasprintf("%s/domains/notes.txt", f->path);
    same = record_with(pa, "uuid", json_object_new_string(a));
    clash = record_with(pa, "uuid", json_object_new_string(b)); /* a's domid */
    destroyed = record_with(pa, "state", json_object_new_string("destroyed"));

    expect_refused(f, pa, "garbage");
    expect_refused(f, pa, "");
    expect_refused(f, pa, "{\"uuid\":\"nope\"}");
    expect_refused(f, pa, "{\"format\":\"xenia-sim-hypervisor\",\"version\":2}");
    expect_refused(f, pa, destroyed);
    expect_refused(f, pb, clash);
    expect_refused(f, pc, same); /* a's record in c's file */
    expect_refused(f, stray, "{}");
    /* Each refused alone: as restored, the state opens. */
    f->b = open_sim(f);
    assert_int_equal(count_domains(f->b), 2);
}

static void test_state_dir_has_no_leftover_temporary(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    _cleanup_free_ char *meta = meta_file(f), *path = NULL, *tmp = NULL, *meta_tmp = NULL;

    new_uuid(u);
    create(f->b, u, 128 * MIB);
    path = domain_file(f, u);
    tmp = xasprintf("%s.tmp", path);
    meta_tmp = xasprintf("%s.tmp", meta);
    assert_int_equal(access(meta, R_OK), 0);
    assert_int_equal(access(path, R_OK), 0);
    assert_int_equal(access(tmp, F_OK), -1);
    assert_int_equal(access(meta_tmp, F_OK), -1);
    /* One a crash left (half written) is removed at the next start. */
    backend_free(f->b);
    f->b = NULL;
    write_text(tmp, "{\"uui");
    f->b = open_sim(f);
    assert_int_equal(access(tmp, F_OK), -1);
    assert_int_equal(count_domains(f->b), 1);
}

static void test_a_change_writes_its_own_domain_file_alone(void **state)
{
    struct fx *f = *state;
    char a[UUID_STR_LEN], b[UUID_STR_LEN];
    _cleanup_free_ char *pa = NULL, *pb = NULL;
    struct dm_domain d;
    struct stat sa, sb, st;

    new_uuid(a);
    new_uuid(b);
    create(f->b, a, 128 * MIB);
    create(f->b, b, 128 * MIB);
    pa = domain_file(f, a);
    pb = domain_file(f, b);
    assert_int_equal(stat(pa, &sa), 0);
    assert_int_equal(stat(pb, &sb), 0);
    usleep(20 * 1000); /* past the file system's timestamp granularity */

    /* A file is replaced (a new inode) when written again. */
    expect_ok(f->b->ops->pause(f->b, a, &d));
    dm_domain_done(&d);
    assert_int_equal(stat(pa, &st), 0);
    assert_true(st.st_ino != sa.st_ino);
    expect_ok(f->b->ops->set_memory_target(f->b, a, 64 * MIB, &d));
    dm_domain_done(&d);
    expect_ok(f->b->ops->sim_inject(f->b, b, "ignore", 1, -1));
    assert_int_equal(stat(pb, &sb), 0);
    usleep(20 * 1000);
    expect_ok(f->b->ops->unpause(f->b, a, &d));
    dm_domain_done(&d);
    expect_ok(f->b->ops->reboot(f->b, a, false, 10, &d));
    dm_domain_done(&d);
    expect_ok(f->b->ops->destroy(f->b, a));
    assert_int_equal(access(pa, F_OK), -1);

    /* b's file is as it was: the same inode, not modified since. */
    assert_int_equal(stat(pb, &st), 0);
    assert_int_equal(st.st_ino, sb.st_ino);
    assert_int_equal(st.st_mtim.tv_sec, sb.st_mtim.tv_sec);
    assert_int_equal(st.st_mtim.tv_nsec, sb.st_mtim.tv_nsec);
    /* And it still holds what b is. */
    reopen(f);
    assert_int_equal(count_domains(f->b), 1);
    expect_error(f->b->ops->shutdown(f->b, b, true, 0.01, &d), DM_ERR_SHUTDOWN_TIMEOUT);
}

/* ---- concurrency ---- */

struct create_arg {
    struct backend *b;
    char uuid[UUID_STR_LEN];
    struct dm_error *e;
};

static void *create_thread(void *arg)
{
    struct create_arg *ca = arg;
    struct dm_domain d;
    ca->e = try_create(ca->b, ca->uuid, 4 * GIB, 1, false, &d);
    if (!ca->e)
        dm_domain_done(&d);
    return NULL;
}

static void test_concurrent_creates_cannot_overcommit_memory(void **state)
{
    struct fx *f = *state;
    struct create_arg ca[2];
    pthread_t t[2];

    for (int i = 0; i < 2; i++) {
        ca[i] = (struct create_arg){.b = f->b};
        new_uuid(ca[i].uuid);
        pthread_create(&t[i], NULL, create_thread, &ca[i]);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    /* 8 GiB less dom0's share holds one 4 GiB domain, not two. */
    assert_true((ca[0].e == NULL) != (ca[1].e == NULL));
    expect_error(ca[0].e ? ca[0].e : ca[1].e, DM_ERR_NOT_ENOUGH_MEMORY);
    assert_int_equal(count_domains(f->b), 1);
}

static void test_lock_is_not_held_while_a_step_passes(void **state)
{
    struct fx *f = *state;
    struct create_arg ca = {.b = f->b};
    pthread_t t;

    backend_free(f->b);
    f->step_ms = 300;
    f->b = ca.b = open_sim(f);
    new_uuid(ca.uuid);
    pthread_create(&t, NULL, create_thread, &ca);
    usleep(50 * 1000);
    double t0 = now_monotonic();
    assert_int_equal(count_domains(f->b), 0); /* still building: not listed */
    assert_int_equal(free_memory(f->b), HOST_MEMORY - DOM0_RESERVE - 4 * GIB);
    assert_true(now_monotonic() - t0 < 0.15);
    pthread_join(t, NULL);
    expect_ok(ca.e);
    assert_int_equal(count_domains(f->b), 1);
}

/* ---- events/watch ---- */

static void test_watch_since_0_lists_every_domain_at_once(void **state)
{
    struct fx *f = *state;
    char a[UUID_STR_LEN], b[UUID_STR_LEN];
    struct dm_domain_list l;
    uint64_t g;
    bool full;

    expect_ok(backend_watch(f->b, 0, 10, &g, &full, &l));
    assert_true(full);
    assert_int_equal(l.n, 0);
    assert_int_equal(g, 1); /* 0 stands for "everything": never a current generation */
    dm_domain_list_done(&l);

    new_uuid(a);
    new_uuid(b);
    create(f->b, a, 128 * MIB);
    create(f->b, b, 128 * MIB);
    expect_ok(backend_watch(f->b, 0, 10, &g, &full, &l));
    assert_true(full);
    assert_int_equal(l.n, 2);
    assert_int_equal(g, generation_now(f->b));
    assert_non_null(find(&l, a));
    assert_non_null(find(&l, b));
    dm_domain_list_done(&l);
}

static void test_watch_gives_only_domains_changed_after_since(void **state)
{
    struct fx *f = *state;
    char a[UUID_STR_LEN], b[UUID_STR_LEN];
    struct dm_domain_list l;
    struct dm_domain d;
    uint64_t g, g2;
    bool full;

    new_uuid(a);
    new_uuid(b);
    create(f->b, a, 128 * MIB);
    create(f->b, b, 128 * MIB);
    g = generation_now(f->b);
    expect_ok(f->b->ops->pause(f->b, a, &d));
    dm_domain_done(&d);
    expect_ok(backend_watch(f->b, g, 10, &g2, &full, &l));
    assert_false(full);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0].uuid, a);
    assert_int_equal(l.v[0].state, DM_STATE_PAUSED);
    assert_true(g2 > g);
    dm_domain_list_done(&l);
}

static void test_watch_reports_destroyed_domain_once(void **state)
{
    struct fx *f = *state;
    char a[UUID_STR_LEN];
    struct dm_domain_list l;
    uint64_t g, g2, g3;
    bool full;

    new_uuid(a);
    int domid = create(f->b, a, 128 * MIB);
    g = generation_now(f->b);
    expect_ok(f->b->ops->destroy(f->b, a));
    expect_ok(backend_watch(f->b, g, 10, &g2, &full, &l));
    const struct dm_domain *d = find(&l, a);
    assert_non_null(d);
    assert_int_equal(d->state, DM_STATE_DESTROYED);
    assert_int_equal(d->domid, domid);
    dm_domain_list_done(&l);
    /* Not again after the generation that reported it. */
    expect_ok(backend_watch(f->b, g2, 0.05, &g3, &full, &l));
    assert_false(full);
    assert_int_equal(l.n, 0);
    assert_int_equal(g3, g2);
    dm_domain_list_done(&l);
}

static void test_watch_of_recreated_domain_reports_it_alive(void **state)
{
    struct fx *f = *state;
    char a[UUID_STR_LEN];
    struct dm_domain_list l;
    uint64_t g, g2;
    bool full;

    new_uuid(a);
    create(f->b, a, 128 * MIB);
    g = generation_now(f->b);
    expect_ok(f->b->ops->destroy(f->b, a));
    int domid = create(f->b, a, 128 * MIB);
    expect_ok(backend_watch(f->b, g, 10, &g2, &full, &l));
    assert_int_equal(l.n, 1);
    assert_int_equal(l.v[0].state, DM_STATE_RUNNING);
    assert_int_equal(l.v[0].domid, domid);
    dm_domain_list_done(&l);
}

static void test_watch_with_nothing_new_waits_for_timeout(void **state)
{
    struct fx *f = *state;
    struct dm_domain_list l;
    char a[UUID_STR_LEN];
    uint64_t g;
    bool full;

    new_uuid(a);
    create(f->b, a, 128 * MIB);
    double t0 = now_monotonic();
    expect_ok(backend_watch(f->b, generation_now(f->b), 0.1, &g, &full, &l));
    double took = now_monotonic() - t0;
    assert_true(took >= 0.1 && took < 5);
    assert_false(full);
    assert_int_equal(l.n, 0);
    dm_domain_list_done(&l);
}

static void test_watch_returns_when_a_domain_changes(void **state)
{
    struct fx *f = *state;
    char a[UUID_STR_LEN];
    struct dm_domain_list l;
    pthread_t t;
    uint64_t g;
    bool full;

    new_uuid(a);
    create(f->b, a, 128 * MIB);
    struct inject_later il = {f->b, a, "crash", 100};
    pthread_create(&t, NULL, inject_later_thread, &il);
    double t0 = now_monotonic();
    expect_ok(backend_watch(f->b, generation_now(f->b), 20, &g, &full, &l));
    double took = now_monotonic() - t0;
    pthread_join(t, NULL);
    assert_true(took >= 0.05 && took < 10);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.v[0].shutdown_reason, DM_REASON_CRASH);
    dm_domain_list_done(&l);
}

static void test_watch_returns_at_once_when_backend_stops(void **state)
{
    struct fx *f = *state;
    struct dm_domain_list l;
    pthread_t t;
    uint64_t g;
    bool full;

    pthread_create(&t, NULL, stop_later_thread, f->b);
    double t0 = now_monotonic();
    expect_ok(backend_watch(f->b, generation_now(f->b), 20, &g, &full, &l));
    assert_true(now_monotonic() - t0 < 10);
    pthread_join(t, NULL);
    assert_int_equal(l.n, 0);
    dm_domain_list_done(&l);
}

static void test_watch_since_future_generation_is_a_full_answer(void **state)
{
    struct fx *f = *state;
    char a[UUID_STR_LEN];
    struct dm_domain_list l;
    uint64_t g;
    bool full;

    new_uuid(a);
    create(f->b, a, 128 * MIB);
    expect_ok(backend_watch(f->b, generation_now(f->b) + 100, 10, &g, &full, &l));
    assert_true(full);
    assert_int_equal(l.n, 1);
    dm_domain_list_done(&l);
}

static void test_watch_since_before_a_forgotten_destroy_is_a_full_answer(void **state)
{
    struct fx *f = *state;
    char u[5][UUID_STR_LEN];
    struct dm_domain_list l;
    uint64_t g0, g1, g;
    bool full;

    backend_free(f->b);
    struct sim_options o = {
        .state_path = f->path, .memory = HOST_MEMORY, .cpus = HOST_CPUS, .max_destroyed = 3};
    assert_int_equal(sim_backend_new(&o, &f->b), 0);
    for (int i = 0; i < 5; i++) {
        new_uuid(u[i]);
        create(f->b, u[i], 128 * MIB);
    }
    g0 = generation_now(f->b);
    expect_ok(f->b->ops->destroy(f->b, u[0]));
    g1 = generation_now(f->b);
    for (int i = 1; i < 4; i++)
        expect_ok(f->b->ops->destroy(f->b, u[i]));
    /* u[0]'s destruction is forgotten: a watcher from before it is told
     * everything there is, and takes what is missing as destroyed. */
    expect_ok(backend_watch(f->b, g0, 10, &g, &full, &l));
    assert_true(full);
    assert_int_equal(l.n, 4); /* u[4] alive, u[1..3] destroyed */
    assert_null(find(&l, u[0]));
    assert_int_equal(find(&l, u[4])->state, DM_STATE_RUNNING);
    assert_int_equal(find(&l, u[1])->state, DM_STATE_DESTROYED);
    dm_domain_list_done(&l);
    /* One from after it gets the changes alone. */
    expect_ok(backend_watch(f->b, g1, 10, &g, &full, &l));
    assert_false(full);
    assert_int_equal(l.n, 3);
    dm_domain_list_done(&l);
    /* And the bound holds across a reopen. */
    reopen(f);
    expect_ok(backend_watch(f->b, g0, 10, &g, &full, &l));
    assert_true(full);
    dm_domain_list_done(&l);
}

static void test_watch_generations_go_on_after_reopen(void **state)
{
    struct fx *f = *state;
    char a[UUID_STR_LEN], b[UUID_STR_LEN];
    struct dm_domain_list l;
    uint64_t g, g2;
    bool full;

    new_uuid(a);
    new_uuid(b);
    create(f->b, a, 128 * MIB);
    uint64_t before = generation_now(f->b);
    reopen(f);
    /* The restart takes the next generation, and answers a since from
     * before it in full... */
    assert_int_equal(generation_now(f->b), before + 1);
    expect_ok(backend_watch(f->b, before, 10, &g, &full, &l));
    assert_true(full);
    assert_int_equal(g, before + 1);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0].uuid, a);
    dm_domain_list_done(&l);
    /* ...then, from the generation that answer gave, waits for a change... */
    expect_ok(backend_watch(f->b, g, 0.05, &g2, &full, &l));
    assert_false(full);
    assert_int_equal(g2, g);
    assert_int_equal(l.n, 0);
    dm_domain_list_done(&l);
    /* ...and tells the changes alone. */
    create(f->b, b, 128 * MIB);
    expect_ok(f->b->ops->destroy(f->b, a));
    expect_ok(backend_watch(f->b, g, 10, &g2, &full, &l));
    assert_false(full);
    assert_true(g2 > g);
    assert_int_equal(l.n, 2);
    assert_int_equal(find(&l, a)->state, DM_STATE_DESTROYED);
    assert_int_equal(find(&l, b)->state, DM_STATE_RUNNING);
    dm_domain_list_done(&l);
}

static void test_watch_after_a_restart_that_forgot_destroyed_domains_is_full(void **state)
{
    struct fx *f = *state;
    char a[UUID_STR_LEN], b[UUID_STR_LEN];
    struct dm_domain_list l;
    uint64_t g0, g1, g;
    bool full;

    new_uuid(a);
    new_uuid(b);
    create(f->b, a, 128 * MIB);
    create(f->b, b, 128 * MIB);
    g0 = generation_now(f->b);
    expect_ok(f->b->ops->destroy(f->b, a));
    g1 = generation_now(f->b);
    reopen(f);
    /* a's destruction is not remembered across the restart: a watcher
     * from before it, or from the last generation before the restart, is
     * told everything there is, and takes a (missing) as destroyed. */
    uint64_t sinces[] = {g0, g1};
    for (size_t i = 0; i < ELEMENTSOF(sinces); i++) {
        expect_ok(backend_watch(f->b, sinces[i], 10, &g, &full, &l));
        assert_true(full);
        assert_int_equal(g, g1 + 1);
        assert_int_equal(l.n, 1);
        assert_string_equal(l.v[0].uuid, b);
        assert_int_equal(l.v[0].state, DM_STATE_RUNNING);
        dm_domain_list_done(&l);
    }
    /* So is one after another restart, which goes on after the first. */
    reopen(f);
    expect_ok(backend_watch(f->b, g1 + 1, 10, &g, &full, &l));
    assert_true(full);
    assert_int_equal(g, g1 + 2);
    dm_domain_list_done(&l);
}

/* ---- hot-plug ---- */

/* A disks element from its JSON text; the caller puts it. */
static json_object *disk_of(const char *text)
{
    json_object *o = json_tokener_parse(text);
    assert_non_null(o);
    return o;
}

static struct dm_error *attach(struct backend *b, const char *uuid, const char *text)
{
    json_object *disk = disk_of(text);
    struct dm_domain d;
    struct dm_error *e = b->ops->disk_attach(b, uuid, disk, &d);
    json_object_put(disk);
    if (!e)
        dm_domain_done(&d);
    return e;
}

static struct dm_error *detach(struct backend *b, const char *uuid, const char *device, bool force)
{
    struct dm_domain d;
    struct dm_error *e = b->ops->disk_detach(b, uuid, device, force, &d);
    if (!e)
        dm_domain_done(&d);
    return e;
}

static struct dm_error *cd_change(struct backend *b, const char *uuid, const char *device,
                                  const char *target)
{
    struct dm_domain d;
    struct dm_error *e = b->ops->cd_change(b, uuid, device, target, "iso", &d);
    if (!e)
        dm_domain_done(&d);
    return e;
}

/* The number of disks of domain uuid, and the target of its disk device
 * in ret_target (a copy; NULL when it has no such disk). */
static size_t disks_of(struct backend *b, const char *uuid, const char *device, char **ret_target)
{
    struct dm_domain d;
    expect_ok(b->ops->get(b, uuid, &d));
    size_t n = d.cfg.disks ? json_object_array_length(d.cfg.disks) : 0;
    json_object *disk = dm_disks_find(d.cfg.disks, device), *v;
    *ret_target = NULL;
    if (disk)
        *ret_target =
            xstrdup(json_object_object_get_ex(disk, "target", &v) ? json_object_get_string(v) : "");
    dm_domain_done(&d);
    return n;
}

#define DISK_B "{\"device\":\"xvdb\",\"target\":\"/srv/b.img\"}"
#define DISK_C "{\"device\":\"xvdc\",\"target\":\"/srv/c.qcow2\",\"format\":\"qcow2\"}"
#define CDROM_D "{\"device\":\"xvdd\",\"format\":\"iso\",\"cdrom\":true}"

static void test_disk_attach_adds_disk_to_running_domain(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    _cleanup_free_ char *target = NULL;

    new_uuid(u);
    create(f->b, u, 128 * MIB);
    uint64_t g = generation_now(f->b);
    expect_ok(attach(f->b, u, DISK_B));
    assert_true(generation_now(f->b) > g);
    assert_int_equal(disks_of(f->b, u, "xvdb", &target), 1);
    assert_string_equal(target, "/srv/b.img");
    assert_int_equal(state_of(f->b, u, NULL, NULL), DM_STATE_RUNNING);
}

static void test_disk_attach_to_paused_domain_keeps_it_paused(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    _cleanup_free_ char *target = NULL;
    struct dm_domain d;

    new_uuid(u);
    expect_ok(try_create(f->b, u, 128 * MIB, 1, true, &d));
    dm_domain_done(&d);
    expect_ok(attach(f->b, u, DISK_C));
    assert_int_equal(disks_of(f->b, u, "xvdc", &target), 1);
    assert_int_equal(state_of(f->b, u, NULL, NULL), DM_STATE_PAUSED);
}

static void test_disk_attach_of_taken_device_fails_device_exists(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    _cleanup_free_ char *target = NULL;

    new_uuid(u);
    create(f->b, u, 128 * MIB);
    expect_ok(attach(f->b, u, DISK_B));
    struct dm_error *e = attach(f->b, u, "{\"device\":\"xvdb\",\"target\":\"/srv/other\"}");
    assert_non_null(e);
    assert_int_equal(e->code, DM_ERR_DEVICE_EXISTS);
    assert_string_equal(e->params[0], u);
    assert_string_equal(e->params[1], "xvdb");
    dm_error_free(e);
    assert_int_equal(disks_of(f->b, u, "xvdb", &target), 1);
    assert_string_equal(target, "/srv/b.img");
}

static void test_disk_attach_of_bad_disk_fails_invalid_params(void **state)
{
    struct fx *f = *state;
    static const char *const bad[] = {
        "{\"target\":\"/srv/x\"}",
        "{\"device\":\"vda\",\"target\":\"/srv/x\"}",
        "{\"device\":\"xvdb\",\"target\":\"relative\"}",
        "{\"device\":\"xvdb\"}",
        "{\"device\":\"xvdb\",\"target\":\"/srv/x\",\"format\":\"vhd\"}",
        "{\"device\":\"xvdb\",\"target\":\"/srv/x\",\"cdrom\":true,\"readwrite\":true}",
        "{\"device\":\"xvdb\",\"target\":\"/srv/x\",\"size\":1}",
        "[1]",
    };
    char u[UUID_STR_LEN];
    _cleanup_free_ char *target = NULL;

    new_uuid(u);
    create(f->b, u, 128 * MIB);
    for (size_t i = 0; i < ELEMENTSOF(bad); i++)
        expect_error(attach(f->b, u, bad[i]), DM_ERR_INVALID_PARAMS);
    assert_int_equal(disks_of(f->b, u, "xvdb", &target), 0);
}

static void test_disk_calls_need_a_running_or_paused_domain(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN], none[UUID_STR_LEN];

    new_uuid(u);
    new_uuid(none);
    create(f->b, u, 128 * MIB);
    expect_ok(attach(f->b, u, CDROM_D));
    expect_ok(f->b->ops->sim_inject(f->b, u, "poweroff", -1, -1));
    expect_error(attach(f->b, u, DISK_B), DM_ERR_BAD_STATE);
    expect_error(detach(f->b, u, "xvdd", true), DM_ERR_BAD_STATE);
    expect_error(cd_change(f->b, u, "xvdd", "/srv/x.iso"), DM_ERR_BAD_STATE);
    expect_error(attach(f->b, none, DISK_B), DM_ERR_NO_SUCH_DOMAIN);
    expect_error(detach(f->b, none, "xvdb", false), DM_ERR_NO_SUCH_DOMAIN);
    expect_error(cd_change(f->b, none, "xvdd", ""), DM_ERR_NO_SUCH_DOMAIN);
}

static void test_disk_detach_removes_the_disk_alone(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    _cleanup_free_ char *b = NULL, *c = NULL;

    new_uuid(u);
    create(f->b, u, 128 * MIB);
    expect_ok(attach(f->b, u, DISK_B));
    expect_ok(attach(f->b, u, DISK_C));
    expect_ok(detach(f->b, u, "xvdb", false));
    assert_int_equal(disks_of(f->b, u, "xvdb", &b), 1);
    assert_null(b);
    disks_of(f->b, u, "xvdc", &c);
    assert_string_equal(c, "/srv/c.qcow2");
    struct dm_error *e = detach(f->b, u, "xvdb", false);
    assert_non_null(e);
    assert_int_equal(e->code, DM_ERR_NO_SUCH_DEVICE);
    assert_string_equal(e->params[1], "xvdb");
    dm_error_free(e);
}

static void test_guest_refusing_detach_fails_rejected_until_forced(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    _cleanup_free_ char *target = NULL;

    new_uuid(u);
    create(f->b, u, 128 * MIB);
    expect_ok(attach(f->b, u, DISK_B));
    /* refuse_detach alone leaves the guest's shutdown behaviour as it was. */
    expect_ok(f->b->ops->sim_inject(f->b, u, "ignore", -1, 1));
    struct dm_error *e = detach(f->b, u, "xvdb", false);
    assert_non_null(e);
    assert_int_equal(e->code, DM_ERR_DETACH_REJECTED);
    assert_int_equal(e->n_params, 3);
    assert_string_equal(e->params[1], "xvdb");
    dm_error_free(e);
    assert_int_equal(disks_of(f->b, u, "xvdb", &target), 1);
    assert_non_null(target);
    expect_ok(detach(f->b, u, "xvdb", true));
    free(target);
    assert_int_equal(disks_of(f->b, u, "xvdb", &target), 0);
    /* The guest cooperates again when told to. */
    expect_ok(attach(f->b, u, DISK_B));
    expect_ok(f->b->ops->sim_inject(f->b, u, "ignore", -1, 0));
    expect_ok(detach(f->b, u, "xvdb", false));
}

static void test_cd_change_inserts_and_ejects_a_medium(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    _cleanup_free_ char *t1 = NULL, *t2 = NULL;

    new_uuid(u);
    create(f->b, u, 128 * MIB);
    expect_ok(attach(f->b, u, CDROM_D));
    expect_ok(cd_change(f->b, u, "xvdd", "/srv/iso/x.iso"));
    disks_of(f->b, u, "xvdd", &t1);
    assert_string_equal(t1, "/srv/iso/x.iso");
    expect_ok(cd_change(f->b, u, "xvdd", ""));
    assert_int_equal(disks_of(f->b, u, "xvdd", &t2), 1);
    assert_string_equal(t2, "");
}

static void test_cd_change_of_a_disk_or_to_a_relative_path_fails(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    _cleanup_free_ char *target = NULL;

    new_uuid(u);
    create(f->b, u, 128 * MIB);
    expect_ok(attach(f->b, u, DISK_B));
    expect_ok(attach(f->b, u, CDROM_D));
    expect_error(cd_change(f->b, u, "xvdb", "/srv/x.iso"), DM_ERR_INVALID_PARAMS);
    expect_error(cd_change(f->b, u, "xvdd", "x.iso"), DM_ERR_INVALID_PARAMS);
    expect_error(cd_change(f->b, u, "xvde", "/srv/x.iso"), DM_ERR_NO_SUCH_DEVICE);
    disks_of(f->b, u, "xvdb", &target);
    assert_string_equal(target, "/srv/b.img");
}

static void test_injected_disk_failures_change_nothing(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    _cleanup_free_ char *t1 = NULL, *t2 = NULL;

    new_uuid(u);
    create(f->b, u, 128 * MIB);
    expect_ok(attach(f->b, u, CDROM_D));
    expect_ok(f->b->ops->sim_fail(f->b, "domain/disk_attach", 1));
    expect_error(attach(f->b, u, DISK_B), DM_ERR_SIM_INJECTED_FAILURE);
    expect_ok(f->b->ops->sim_fail(f->b, "domain/disk_detach", 1));
    expect_error(detach(f->b, u, "xvdd", true), DM_ERR_SIM_INJECTED_FAILURE);
    expect_ok(f->b->ops->sim_fail(f->b, "domain/cd_change", 1));
    expect_error(cd_change(f->b, u, "xvdd", "/srv/x.iso"), DM_ERR_SIM_INJECTED_FAILURE);
    assert_int_equal(disks_of(f->b, u, "xvdb", &t1), 1);
    assert_null(t1);
    disks_of(f->b, u, "xvdd", &t2);
    assert_string_equal(t2, "");
}

static void test_reopen_keeps_hot_plugged_disks_and_refusing_guest(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    _cleanup_free_ char *target = NULL;

    new_uuid(u);
    create(f->b, u, 128 * MIB);
    expect_ok(attach(f->b, u, DISK_B));
    expect_ok(f->b->ops->sim_inject(f->b, u, "ignore", -1, 1));
    reopen(f);
    assert_int_equal(disks_of(f->b, u, "xvdb", &target), 1);
    assert_string_equal(target, "/srv/b.img");
    expect_error(detach(f->b, u, "xvdb", false), DM_ERR_DETACH_REJECTED);
}

static void test_reboot_keeps_hot_plugged_disks(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    _cleanup_free_ char *target = NULL;
    struct dm_domain d;

    new_uuid(u);
    create(f->b, u, 128 * MIB);
    expect_ok(attach(f->b, u, DISK_B));
    expect_ok(f->b->ops->reboot(f->b, u, true, 5, &d));
    dm_domain_done(&d);
    assert_int_equal(disks_of(f->b, u, "xvdb", &target), 1);
    assert_string_equal(target, "/srv/b.img");
}

static void test_disk_change_does_not_change_copies_taken_before(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    struct dm_domain before;

    new_uuid(u);
    create(f->b, u, 128 * MIB);
    expect_ok(attach(f->b, u, DISK_B));
    expect_ok(f->b->ops->get(f->b, u, &before));
    expect_ok(attach(f->b, u, DISK_C));
    expect_ok(detach(f->b, u, "xvdb", true));
    assert_int_equal(json_object_array_length(before.cfg.disks), 1);
    assert_non_null(dm_disks_find(before.cfg.disks, "xvdb"));
    dm_domain_done(&before);
}

/* ---- the console (host/dmesg, host/debug_keys) ---- */

static char *console(struct fx *f, bool clear)
{
    char *text = NULL;
    expect_ok(f->b->ops->console_read(f->b, clear, &text));
    assert_non_null(text);
    return text;
}

static void test_console_starts_with_the_version_and_logs_domains(void **state)
{
    struct fx *f = *state;
    char u[UUID_STR_LEN];
    new_uuid(u);
    int domid = create(f->b, u, 128 * MIB);
    expect_ok(f->b->ops->destroy(f->b, u));
    _cleanup_free_ char *text = console(f, false);
    assert_true(strncmp(text, "(XEN) Xen version ", 18) == 0);
    _cleanup_free_ char *built = xasprintf("domain %d (%s) built\n", domid, u);
    _cleanup_free_ char *gone = xasprintf("domain %d (%s) destroyed\n", domid, u);
    assert_non_null(strstr(text, built));
    assert_non_null(strstr(text, gone));
    assert_true(strstr(text, built) < strstr(text, gone));
}

static void test_debug_keys_answer_on_the_console_and_clear_empties_it(void **state)
{
    struct fx *f = *state;
    expect_ok(f->b->ops->debug_keys(f->b, "h0"));
    _cleanup_free_ char *text = console(f, true);
    assert_non_null(strstr(text, "(XEN) 'h' pressed"));
    assert_non_null(strstr(text, "(XEN) '0' pressed"));
    _cleanup_free_ char *after = console(f, false);
    assert_string_equal(after, "");
}

static void test_console_ring_keeps_the_newest_lines(void **state)
{
    (void)state;
    struct console_ring r;
    console_ring_init(&r, 64);
    for (int i = 0; i < 100; i++)
        console_ring_printf(&r, "line %d", i);
    _cleanup_free_ char *text = console_ring_read(&r, false);
    assert_int_equal(strlen(text), 64);
    assert_non_null(strstr(text, "(XEN) line 99\n"));
    assert_null(strstr(text, "line 90\n"));
    /* A line longer than the ring leaves its tail. */
    char long_line[200];
    memset(long_line, 'x', sizeof(long_line) - 1);
    long_line[sizeof(long_line) - 1] = '\0';
    console_ring_printf(&r, "%s", long_line);
    _cleanup_free_ char *tail = console_ring_read(&r, true);
    assert_int_equal(strlen(tail), 64);
    assert_string_equal(tail + 62, "x\n");
    _cleanup_free_ char *empty = console_ring_read(&r, false);
    assert_string_equal(empty, "");
    console_ring_done(&r);
}

static void test_debug_keys_must_be_printable(void **state)
{
    (void)state;
    assert_true(hostctl_keys_valid("h"));
    assert_true(hostctl_keys_valid("0qr*"));
    assert_false(hostctl_keys_valid(""));
    assert_false(hostctl_keys_valid("a b"));
    assert_false(hostctl_keys_valid("\x01"));
    assert_false(hostctl_keys_valid("\xc3\xa9"));
    char many[66];
    memset(many, 'a', 65);
    many[65] = '\0';
    assert_false(hostctl_keys_valid(many));
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
#define S(name) cmocka_unit_test_setup_teardown(name, setup_slow, teardown)
    const struct CMUnitTest tests[] = {
        T(test_create_gives_running_domain_with_first_domid_1),
        T(test_create_start_paused_leaves_domain_paused),
        T(test_create_of_existing_uuid_fails_domain_exists),
        T(test_domids_increase_and_are_not_reused),
        T(test_list_gives_every_domain_by_domid),
        T(test_get_of_unknown_uuid_fails_no_such_domain),
        T(test_create_keeps_the_whole_configuration),
        T(test_pause_then_unpause_changes_state),
        T(test_pause_of_paused_domain_fails_bad_state),
        T(test_unpause_of_running_domain_fails_bad_state),
        T(test_clean_shutdown_destroys_domain_with_reason_poweroff),
        T(test_hard_shutdown_destroys_paused_domain),
        T(test_clean_shutdown_of_paused_domain_fails_bad_state),
        S(test_clean_shutdown_of_ignoring_guest_times_out_leaving_it_running),
        T(test_clean_shutdown_of_already_shut_down_domain_destroys_it),
        S(test_clean_shutdown_waits_for_guest_that_powers_off_late),
        S(test_stop_ends_a_clean_shutdown_wait_at_once),
        T(test_reboot_gives_running_domain_with_new_domid),
        T(test_clean_reboot_of_paused_domain_fails_bad_state),
        T(test_reboot_after_guest_reboot_rebuilds_domain),
        T(test_suspend_and_resume_round_trip),
        T(test_suspend_into_an_existing_file_writes_it_in_place),
        T(test_stats_give_memory_and_vcpus_of_a_live_domain),
        T(test_resume_start_paused_leaves_domain_paused),
        T(test_suspend_of_paused_domain_fails_bad_state),
        T(test_suspend_to_unwritable_path_fails_leaving_domain_running),
        T(test_resume_of_missing_image_fails_backend_failure),
        T(test_resume_of_garbage_image_fails_backend_failure),
        T(test_resume_of_existing_uuid_fails_domain_exists),
        T(test_free_memory_is_host_memory_less_dom0_and_targets),
        T(test_create_beyond_free_memory_fails_not_enough_memory),
        T(test_set_memory_target_changes_target_and_actual),
        T(test_set_memory_target_beyond_free_fails_not_enough_memory),
        T(test_set_memory_target_above_memory_max_fails_invalid_params),
        T(test_create_with_more_vcpus_than_host_fails_too_many_vcpus),
        T(test_set_vcpus_within_and_beyond_vcpus_max),
        T(test_config_from_json_checks_ranges),
        T(test_injected_create_failure_leaves_no_domain),
        T(test_injected_shutdown_failure_leaves_domain_running),
        T(test_injected_failures_hit_the_next_count_calls),
        S(test_injected_failures_of_other_operations_change_nothing),
        T(test_failure_before_first_step_does_not_use_up_injection),
        T(test_sim_fail_of_unknown_method_fails_invalid_params),
        T(test_guest_events_shut_domain_down_with_their_reason),
        T(test_guest_event_on_paused_domain_fails_bad_state),
        T(test_guest_event_is_reported_by_watch),
        T(test_reopen_keeps_domains_domids_and_states),
        T(test_reopen_keeps_guest_ignoring_shutdown),
        T(test_reopen_finishes_destroying_dying_domain),
        T(test_second_open_of_same_state_dir_fails),
        T(test_open_of_a_state_path_that_is_a_file_fails),
        T(test_open_of_malformed_meta_file_fails),
        T(test_open_of_malformed_domain_file_fails),
        T(test_state_dir_has_no_leftover_temporary),
        T(test_a_change_writes_its_own_domain_file_alone),
        S(test_concurrent_creates_cannot_overcommit_memory),
        T(test_lock_is_not_held_while_a_step_passes),
        T(test_watch_since_0_lists_every_domain_at_once),
        T(test_watch_gives_only_domains_changed_after_since),
        T(test_watch_reports_destroyed_domain_once),
        T(test_watch_of_recreated_domain_reports_it_alive),
        T(test_watch_with_nothing_new_waits_for_timeout),
        S(test_watch_returns_when_a_domain_changes),
        T(test_watch_returns_at_once_when_backend_stops),
        T(test_watch_since_future_generation_is_a_full_answer),
        T(test_watch_since_before_a_forgotten_destroy_is_a_full_answer),
        T(test_watch_generations_go_on_after_reopen),
        T(test_watch_after_a_restart_that_forgot_destroyed_domains_is_full),
        T(test_disk_attach_adds_disk_to_running_domain),
        T(test_disk_attach_to_paused_domain_keeps_it_paused),
        T(test_disk_attach_of_taken_device_fails_device_exists),
        T(test_disk_attach_of_bad_disk_fails_invalid_params),
        T(test_disk_calls_need_a_running_or_paused_domain),
        T(test_disk_detach_removes_the_disk_alone),
        T(test_guest_refusing_detach_fails_rejected_until_forced),
        T(test_cd_change_inserts_and_ejects_a_medium),
        T(test_cd_change_of_a_disk_or_to_a_relative_path_fails),
        S(test_injected_disk_failures_change_nothing),
        T(test_reopen_keeps_hot_plugged_disks_and_refusing_guest),
        T(test_reboot_keeps_hot_plugged_disks),
        T(test_disk_change_does_not_change_copies_taken_before),
        T(test_console_starts_with_the_version_and_logs_domains),
        T(test_debug_keys_answer_on_the_console_and_clear_empties_it),
        T(test_console_ring_keeps_the_newest_lines),
        T(test_debug_keys_must_be_printable),
    };
    log_set_level("*", "warn");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
